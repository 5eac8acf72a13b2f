"""`pilang kernel install`: write the kernel spec (kernel.json with this interpreter, and logos)."""
from __future__ import annotations

import json
import re
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def kernel_json(workspace: str | None = None, server: str | None = None) -> dict:
    """The spec: argv names the running interpreter, never a bare python3; a workspace given is the
    kernel's PILANG_WORKSPACE (an absolute path, so notebooks anywhere open the same one); a server given
    is its PILANG_SERVER (the token stays out of the file: PILANG_TOKEN where Jupyter runs)."""
    spec = {"argv": [sys.executable, "-m", "pilang_kernel", "-f", "{connection_file}"],
            "display_name": "pilang", "language": "pilang", "interrupt_mode": "signal",
            "metadata": {"debugger": False}}
    if workspace:
        spec["env"] = {"PILANG_WORKSPACE": str(Path(workspace).expanduser().resolve())}
        spec["display_name"] = f"pilang ({Path(workspace).name})"
    if server:
        from urllib.parse import urlparse
        spec["env"] = {"PILANG_SERVER": server}
        spec["display_name"] = f"pilang (server {urlparse(server).netloc or server})"
    return spec


def spec_name(server: str | None) -> str:
    """`pilang`, or `pilang-<host-port>` for a server's kernel (so it sits beside the local one)."""
    if not server:
        return "pilang"
    from urllib.parse import urlparse
    return "pilang-" + re.sub(r"[^a-z0-9]+", "-", (urlparse(server).netloc or server).lower()).strip("-")


def install(user: bool = False, prefix: str | None = None, name: str | None = None, workspace: str | None = None,
            server: str | None = None) -> str:
    """Install the spec; returns the directory it went to."""
    name = name or spec_name(server)
    from jupyter_client.kernelspec import KernelSpecManager
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / name
        spec.mkdir()
        (spec / "kernel.json").write_text(json.dumps(kernel_json(workspace, server), indent=1))
        for logo in ("logo-32x32.png", "logo-64x64.png"):
            shutil.copy(HERE / logo, spec / logo)
        return KernelSpecManager().install_kernel_spec(str(spec), name, user=user, prefix=prefix)
