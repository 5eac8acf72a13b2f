"""`pilang eval`: the table of models beside their baselines on the real data sets present."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from pilang_engine.evaluation import suite


def test_a_missing_data_set_gives_a_row_that_says_so(tmp_path: Path) -> None:
    empty = tmp_path / "data"
    empty.mkdir()
    env = {"PILANG_DATA": str(empty), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "pilang", "--json", "eval"], capture_output=True, text=True,
                          timeout=300, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(rows) == len(suite.SUITE) and all(r["note"].startswith("skipped: ") for r in rows)
    assert all(set(suite.COLUMNS) <= set(r) and r["model_score"] is None for r in rows)


def test_rows_say_whether_the_model_beats_its_baseline() -> None:
    assert suite.row("m", "t", "d", "s", "ROC-AUC", 0.7, "b", 0.71)["beats_baseline"] is False
    assert suite.row("m", "t", "d", "s", "MAE", 1.0, "b", 2.0, higher_is_better=False)["beats_baseline"] is True
    assert suite.row("m", "t", "d", "s", "MAE", None, "b", 2.0, note="too short")["beats_baseline"] is None
    text = suite.render([suite.row("gbm", "churn", "cc", "25%", "ROC-AUC", 0.7, "logit", 0.71)])
    assert text.splitlines()[0].split() == suite.COLUMNS and text.splitlines()[1].endswith("NO")


def test_the_churn_row_on_cookie_cats_is_leak_free(shared_data: Any, tmp_path: Path) -> None:
    shared_data("cookie-cats-ab-retention")
    (r,) = suite.churn_rows(suite.Lab(tmp_path))
    assert r["metric"] == "ROC-AUC" and 0.6 < r["model_score"] < 0.8 and 0.6 < r["baseline_score"] < 0.8
    assert "sum_gamerounds excluded" in r["note"]
