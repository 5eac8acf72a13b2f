"""The shareable report: one self-contained file that opens offline, checked in a real browser."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pilang_engine.workspace.store import Workspace

from pilang.report import write


@pytest.fixture(scope="module")
def written(demo_copy: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    ws = Workspace(demo_copy("report"))
    out = tmp_path_factory.mktemp("report")
    html_done = write(ws, out / "report.html", "last-month")
    md_done = write(ws, out / "report.md", "last-month")
    assert html_done["format"] == "html" and md_done["format"] == "md"
    return out / "report.html", out / "report.md"


def test_the_report_is_self_contained_with_every_section(written: tuple[Path, Path]) -> None:
    page = written[0].read_text()
    titles = re.findall(r"<h2>([^<]*)</h2>", page)
    assert titles[:5] == ["What players are upset about, and since when", "Sentiment", "Volume", "Sentiment forecast",
                          "Unusual days"] and "Churn risk" in titles  # the demo has telemetry
    assert page.count("data:image/png;base64,") >= 2  # sentiment and volume charts, inline
    assert not re.search(r"""(src|href)=['"]?(https?:)?//""", page) and "<script" not in page  # nothing external
    assert "{:" not in page and "held-out" in page.lower()


def test_the_markdown_report_reads_in_a_wiki(written: tuple[Path, Path]) -> None:
    text = written[1].read_text()
    assert text.startswith("# Community report: ") and "## Sentiment" in text and ("▁" in text or "█" in text)
    assert "<img" not in text and "{:" not in text


@pytest.mark.skipif(not shutil.which("chromium"), reason="Debian's chromium is not installed (apt-get install chromium)")
def test_the_report_renders_in_headless_chromium_with_its_charts(written: tuple[Path, Path], tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    subprocess.run([shutil.which("chromium"), "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}",
                    "--window-size=1000,2400", written[0].as_uri()], capture_output=True, timeout=120, check=False)
    from PIL import Image
    image = Image.open(shot).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 20) or []
    blue = sum(n for n, (r, g, b) in colours if b > 150 and r < 80)  # matplotlib's line colour: the charts drew
    assert image.size == (1000, 2400) and len(colours) > 50 and blue > 200


def test_pilang_report_fails_cleanly_without_a_workspace(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pilang", "--workspace", str(tmp_path / "none"), "report",
                           "--out", str(tmp_path / "r.html")], capture_output=True, text=True, check=False)
    assert done.returncode == 1 and "Traceback" not in done.stderr and "no workspace" in done.stderr
