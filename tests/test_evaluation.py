"""`pilang eval`: the table of models beside their baselines on the real data sets present."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from pilang_engine.evaluation import suite


def test_a_missing_data_set_gives_a_row_that_says_so_and_every_routed_model_has_a_row(tmp_path: Path) -> None:
    empty = tmp_path / "data"
    empty.mkdir()
    env = {"PILANG_DATA": str(empty), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "pilang", "--json", "eval", "--quick"], capture_output=True, text=True,
                          timeout=600, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    # the simulator's row and the toxicity card's (the training run's own held-out figures) need no shared data
    real = [r for r in rows if r["key"] not in ("sequence-churn", "toxicity")]
    assert len(real) == len(suite.SUITE) - 2 and all(r["note"].startswith("skipped: ") for r in real)
    assert all(set(suite.COLUMNS) <= set(r) and r["model_score"] is None for r in real)
    (seq,) = [r for r in rows if r["key"] == "sequence-churn"]
    assert seq["model_score"] is not None and seq["baseline_score"] is not None and "simulated" in seq["data"]
    # every target a query can reach is either answered by models with a row here, or says why it has no model
    from pilang.session import Session
    session = Session()
    targets = {t.name for t in session.eval_text("*query-targets*")} | {"persona-inquiry", "comparison", "change",
                                                                       "personas"}
    assert targets <= set(suite.MODELS_BY_TARGET), targets - set(suite.MODELS_BY_TARGET)
    keys = {r["key"] for r in rows}
    for target, models in suite.MODELS_BY_TARGET.items():
        if not isinstance(models, str):
            assert set(models) <= keys, (target, set(models) - keys)


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
