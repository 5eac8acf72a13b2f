"""The table behind `pilang eval`: every model on the real data sets present, beside its strongest
simple baseline measured in the same run, and whether it beats it."""
from __future__ import annotations

import time

from pilang_engine.evaluation.suite import evaluate, render


def run(quick: bool = False) -> None:
    if quick:
        print("skipped with --quick (it ingests every real data set): run `pilang eval`")
        return
    started = time.perf_counter()
    rows = evaluate(lambda line: print(f"    ({line})"))
    print(render(rows))
    print(f"({time.perf_counter() - started:.0f} s)")
