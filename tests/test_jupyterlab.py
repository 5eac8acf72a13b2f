"""The notebook as a user sees it: JupyterLab in headless Chromium (Debian's package, driven by
Playwright), running pilang cells. A query result must show its chart and quotes (JupyterLab renders
only a bundle's richest type, so the chart lives inside the HTML), progress must be a widget, and
nothing may arrive on stderr (red)."""
from __future__ import annotations

import importlib.util
import re
import shutil
import time
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


@pytest.fixture(scope="module")
def lab(demo_copy: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from running_lab import lab as running
    home = tmp_path_factory.mktemp("lab")
    with running(home, demo_copy("lab"), CELLS) as url:
        yield url, home


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
