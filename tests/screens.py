"""Screenshots of every answer type as a community manager sees it: JupyterLab in headless Chromium, one
cell per answer type, each answer's evidence opened, at 1,280 px and 420 px wide, with the width each
output needs against the width it has (an output wider than its cell is cut off or scrolls the page).

    python tests/screens.py OUT [WORKSPACE]

Writes OUT/<n>-<name>-<width>.png (the answer as first seen, evidence closed), OUT/<n>-<name>-<width>-evidence.png
(evidence opened), OUT/report-<width>.png (`pilang report` of the last month in the same browser) and
OUT/widths.json; prints one line per cell and width. WORKSPACE is an ingested workspace (default: a fresh one
from examples/demo). Needs Debian's chromium, playwright, jupyterlab and ipywidgets (the [notebook] extra)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from running_lab import lab

ROOT = Path(__file__).resolve().parent.parent
CELLS = [
    ("sentiment", "(query (type analytics) (target sentiment) (parameters (context last-patch)))"),
    ("drivers", "(drivers :since 'last-month)"),
    ("topics", "(query (type analytics) (target topics) (parameters (filters (source discord))))"),
    ("persona", '(query (type persona-inquiry) (target casual-players) (parameters (question "How would they react'
                ' to increased difficulty?")))'),
    ("prediction", "(query (type prediction) (target competitive-players) (parameters (change nerf-weapon-damage)))"),
    ("forecast", "(query (type analytics) (target forecast) (parameters (metric volume)))"),
    ("comparison", "(query (type comparison) (target competitive-players) (parameters (versus casual-players)))"),
    ("stats", "(stats)"),
    ("error", "(query (type prediction) (target satisfaction))"),
]
WIDTHS = (1280, 420)


def _workspace(home: Path, given: str | None) -> Path:
    if given:
        return Path(given)
    from pilang_engine.ingestion.pipeline import ingest
    from pilang_engine.workspace.store import Workspace
    ws = Workspace(home / "ws")
    ingest(ws, [ROOT / "examples" / "demo"], progress=False)
    ws.close()
    return home / "ws"


def main(out: Path, given: str | None = None) -> list[dict[str, object]]:
    from playwright.sync_api import sync_playwright
    out.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="pilang-screens-"))
    ws = _workspace(home, given)
    found: list[dict[str, object]] = []
    settings = {"notebook-extension/tracker": {"windowingMode": "none"},  # every cell in the page
                "apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False}}
    with lab(home, ws, [c for _, c in CELLS], "screens", settings, expose_app=True) as url:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": WIDTHS[0], "height": 1000})
            page.goto(url)
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=180_000)
            ran = ("i => /\\[{}\\]/.test(document.querySelectorAll('.jp-CodeCell')[i]"
                   ".querySelector('.jp-InputArea-prompt').textContent)")  # looked up afresh: the node is replaced
            for i in range(len(CELLS)):  # run cell by cell, each to the end
                cell = page.locator(".jp-CodeCell").nth(i)
                for _ in range(3):  # a key press before the kernel is ready can be lost: run the cell again
                    cell.locator(".cm-content").click()
                    page.keyboard.press("Shift+Enter")
                    try:
                        page.wait_for_function(ran.format("[\\d*]+"), arg=i, timeout=20_000)
                        break
                    except Exception:  # noqa: BLE001 (playwright's timeout: try the cell again)
                        page.screenshot(path=str(out / f"stuck-{i + 1}.png"))
                page.wait_for_function(ran.format("\\d+"), arg=i, timeout=600_000)
            page.evaluate("window.jupyterapp.shell.collapseLeft()")  # the file browser: closed, as on a phone
            for width in WIDTHS:
                for opened in (False, True):
                    page.evaluate(f"document.querySelectorAll('.jp-OutputArea details').forEach(d => d.open = {str(opened).lower()})")
                    for i, (name, _) in enumerate(CELLS):
                        area = page.locator(".jp-CodeCell").nth(i).locator(".jp-OutputArea")
                        page.set_viewport_size({"width": width, "height": 1000})
                        time.sleep(0.3)
                        tall = area.evaluate("e => e.getBoundingClientRect().height")
                        page.set_viewport_size({"width": width, "height": int(min(max(1000, tall + 300), 16000))})
                        time.sleep(0.5)
                        area.scroll_into_view_if_needed()
                        suffix = "-evidence" if opened else ""
                        area.screenshot(path=str(out / f"{i + 1}-{name}-{width}{suffix}.png"))
                        if opened:  # every word of the opened evidence: no pilang notation left in it
                            text = area.inner_text()
                            row = {"cell": name, "width": width, "evidence_opened": True,
                                   "raw_nil": len(re.findall(r"\bnil\b|#t\b|#f\b", text)), "characters": len(text)}
                            found.append(row)
                            print(json.dumps(row))
                            continue
                        need = area.evaluate("e => Math.max(...[...e.querySelectorAll('*')].map(x => x.scrollWidth))")
                        have = area.evaluate("e => e.clientWidth")
                        text = area.inner_text()
                        row = {"cell": name, "width": width, "needs_px": need, "has_px": have,
                               "page_overflows": page.evaluate("document.scrollingElement.scrollWidth > innerWidth"),
                               "raw_nil": len(re.findall(r"\bnil\b|#t\b|#f\b", text)),
                               "headline": text.strip().split("\n")[0][:160]}
                        found.append(row)
                        print(json.dumps(row))
            report = home / "report.html"
            subprocess.run([sys.executable, "-m", "pilang", "--workspace", str(ws), "report", "--since", "last-month",
                            "--out", str(report)], check=True, capture_output=True, timeout=900)
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": 1000})
                page.goto(report.as_uri())
                page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
                row = {"cell": "report", "width": width,
                       "page_overflows": page.evaluate("document.scrollingElement.scrollWidth > innerWidth"),
                       "needs_px": page.evaluate("document.scrollingElement.scrollWidth"), "has_px": width}
                found.append(row)
                print(json.dumps(row))
                page.screenshot(path=str(out / f"report-{width}.png"), full_page=True)
            browser.close()
    (out / "widths.json").write_text(json.dumps(found, indent=1))
    return found


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else None)
