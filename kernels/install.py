"""`pilang kernel install`: write the kernel spec (kernel.json with this interpreter, and logos)."""
from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent


def kernel_json() -> dict:
    """The spec: argv names the running interpreter, never a bare python3."""
    return {"argv": [sys.executable, "-m", "pilang_kernel", "-f", "{connection_file}"],
            "display_name": "pilang", "language": "pilang", "interrupt_mode": "signal",
            "metadata": {"debugger": False}}


def install(user: bool = False, prefix: str | None = None, name: str = "pilang") -> str:
    """Install the spec; returns the directory it went to."""
    from jupyter_client.kernelspec import KernelSpecManager
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / name
        spec.mkdir()
        (spec / "kernel.json").write_text(json.dumps(kernel_json(), indent=1))
        for logo in ("logo-32x32.png", "logo-64x64.png"):
            shutil.copy(HERE / logo, spec / logo)
        return KernelSpecManager().install_kernel_spec(str(spec), name, user=user, prefix=prefix)
