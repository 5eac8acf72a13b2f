"""A JupyterLab server with the pilang kernel over a workspace and a notebook of cells, on 127.0.0.1, for
the browser tests and the screenshots (tests/screens.py). Not a test module."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def lab(home: Path, workspace: Path, cells: list[str], name: str = "check",
        settings: dict[str, dict[str, Any]] | None = None, expose_app: bool = False) -> Iterator[str]:
    """Yields the notebook's URL (token t) while JupyterLab runs; `settings` are user settings by extension
    (e.g. {"notebook-extension/tracker": {"windowingMode": "none"}}); `expose_app` sets window.jupyterapp."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook
    subprocess.run([sys.executable, "-m", "pilang", "kernel", "install", "--prefix", str(home / "jp"), "--workspace",
                    str(workspace)], check=True, capture_output=True, timeout=120)
    (home / "nb").mkdir(exist_ok=True)
    nb = new_notebook(cells=[new_code_cell(c) for c in cells],
                      metadata={"kernelspec": {"name": "pilang", "display_name": "pilang", "language": "pilang"}})
    nbformat.write(nb, home / "nb" / f"{name}.ipynb")
    for extension, values in (settings or {}).items():
        path = home / "settings" / "@jupyterlab" / f"{extension}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if k != "PILANG_PROGRESS"},
           "JUPYTER_PATH": str(home / "jp" / "share" / "jupyter"), "JUPYTER_CONFIG_DIR": str(home / "cfg"),
           "JUPYTER_RUNTIME_DIR": str(home / "rt"), "JUPYTERLAB_SETTINGS_DIR": str(home / "settings")}
    log = (home / "lab.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
                               "--IdentityProvider.token=t", f"--ServerApp.root_dir={home / 'nb'}", "--allow-root",
                               *(["--expose-app-in-browser"] if expose_app else [])],
                              env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token=t", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/lab/tree/{name}.ipynb?token=t"
    finally:
        server.terminate()
        server.wait(30)
        log.close()
