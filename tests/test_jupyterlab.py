"""The notebook as a user sees it: JupyterLab in headless Chromium (Debian's package, driven by
Playwright), running pilang cells. A query result must show its chart and quotes (JupyterLab renders
only a bundle's richest type, so the chart lives inside the HTML), progress must be a widget, and
nothing may arrive on stderr (red)."""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).parent.parent
pytestmark = pytest.mark.skipif(
    not (shutil.which("chromium") and importlib.util.find_spec("playwright") and importlib.util.find_spec("jupyterlab")
         and importlib.util.find_spec("ipywidgets")),
    reason="needs Debian's chromium (apt-get install chromium), playwright, jupyterlab and ipywidgets")

CELLS = ["(query (type analytics) (target sentiment) (parameters (context last-patch) (filters (source discord))))",
         f'(ingest "{ROOT / "examples" / "demo" / "tickets.csv"}")']


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(demo_copy: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook
    home = tmp_path_factory.mktemp("lab")
    subprocess.run([sys.executable, "-m", "pilang", "kernel", "install", "--prefix", str(home / "jp"), "--workspace",
                    str(demo_copy("lab"))], check=True, capture_output=True, timeout=120)
    (home / "nb").mkdir()
    nb = new_notebook(cells=[new_code_cell(c) for c in CELLS],
                      metadata={"kernelspec": {"name": "pilang", "display_name": "pilang", "language": "pilang"}})
    nbformat.write(nb, home / "nb" / "check.ipynb")
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if k != "PILANG_PROGRESS"}, "JUPYTER_PATH": str(home / "jp" / "share" / "jupyter"), "JUPYTER_CONFIG_DIR": str(home / "cfg"),
           "JUPYTER_RUNTIME_DIR": str(home / "rt")}
    log = (home / "lab.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
                               "--IdentityProvider.token=t", f"--ServerApp.root_dir={home / 'nb'}", "--allow-root"],
                              env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token=t", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/lab/tree/check.ipynb?token=t", home
    finally:
        server.terminate()
        server.wait(30)
        log.close()


def test_a_query_result_in_jupyterlab_shows_its_chart_quotes_and_a_progress_widget(lab: Any) -> None:
    from playwright.sync_api import sync_playwright
    url, home = lab
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1200, "height": 1800})
        page.goto(url)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=180_000)
        for i in range(len(CELLS)):  # run each cell from its own editor; on a loaded machine a key can be lost
            cell = page.locator(".jp-CodeCell").nth(i)
            prompt = cell.locator(".jp-InputArea-prompt")
            for _ in range(5):
                cell.locator(".cm-content").click()
                page.keyboard.press("Shift+Enter")
                try:
                    page.wait_for_function("e => /\\[(\\*|\\d+)\\]/.test(e.textContent)", arg=prompt.element_handle(),
                                           timeout=10_000)
                    break
                except Exception:  # noqa: BLE001  (playwright's TimeoutError: press again)
                    continue
        page.wait_for_function("document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt').length === 3 && "
                               "[...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')].slice(0, 2)"
                               ".every(e => /\\[\\d+\\]/.test(e.textContent))", timeout=300_000)
        time.sleep(1.0)
        page.screenshot(path=str(home / "jupyterlab.png"))
        result = page.locator(".jp-CodeCell").nth(0).locator(".jp-OutputArea-output[data-mime-type='text/html']")
        chart = result.locator("img[src^='data:image/png']")
        assert chart.count() == 1 and chart.bounding_box()["height"] > 100  # the chart is visible, not a lost bundle
        text = result.inner_text()
        assert re.match(r"mean sentiment [+-]\d", text) and "{:" not in text
        assert result.locator("blockquote").count() >= 1 and result.locator("details:not([open])").count() == 1
        ingest = page.locator(".jp-CodeCell").nth(1).locator(".jp-OutputArea")
        assert ingest.locator(".widget-hprogress .progress-bar-success").count() == 1  # an ipywidgets bar, done
        assert re.search(r"tickets\.csv: 48 rows in \d+\.\d s", ingest.inner_text())
        assert page.locator("[data-mime-type='application/vnd.jupyter.stderr']").count() == 0  # nothing red
        browser.close()
