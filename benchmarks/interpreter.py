"""Interpreter speed: three programs in pilang and in plain CPython, timed in the same run."""
from __future__ import annotations

import functools
import random
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pilang.reader import read
from pilang.session import Session

PROGRAMS = Path(__file__).parent / "programs" / "interpreter.pil"


def fib(n: int) -> int:
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def sum_to(n: int) -> int:
    i, acc = 1, 0
    while i <= n:  # Python has no tail calls: the same loop, written as Python programmers do
        acc += i
        i += 1
    return acc


def build_list(n: int) -> list[int]:
    acc: list[int] = []
    for i in range(1, n + 1):
        acc.append(i)
    return acc


def list_sum(n: int) -> int:
    return functools.reduce(lambda acc, x: acc + x, build_list(n), 0)


def best_of(fn: Callable[[], Any], repeat: int) -> float:
    """Fastest of `repeat` runs, in seconds (the least disturbed by the rest of the machine)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def generated_source(size: int, seed: int = 7) -> str:
    """About `size` characters of varied S-expressions (deterministic)."""
    rng = random.Random(seed)
    leaves = ["player-42", "nerf-weapon-damage", "12345", "-3.25", '"a quoted string, with spaces"',
              ":keyword", "#t", "nil", "'quoted", "[1 2 3]", "{:a 1}"]

    def form(depth: int) -> str:
        if depth > 4 or rng.random() < 0.45:
            return rng.choice(leaves)
        return "(" + " ".join(form(depth + 1) for _ in range(rng.randint(1, 6))) + ")"

    parts, n = [], 0
    while n < size:
        parts.append(form(0))
        n += len(parts[-1]) + 1
    return "\n".join(parts)


def startup_seconds(repeat: int) -> tuple[float, float]:
    """Best wall time of `pilang -e '(+ 1 2)'` and of a bare `python -c pass`."""
    def once(args: list[str]) -> float:
        t0 = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True)
        return time.perf_counter() - t0
    pil = min(once([sys.executable, "-m", "pilang", "-e", "(+ 1 2)"]) for _ in range(repeat))
    bare = min(once([sys.executable, "-c", "pass"]) for _ in range(repeat))
    return pil, bare


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Measure everything; returns one row per figure (and prints them)."""
    sizes = {"fib": 15, "loop": 10_000, "list": 1_000} if quick else {"fib": 25, "loop": 1_000_000, "list": 100_000}
    repeat = 1 if quick else 5
    session = Session()
    session.load(PROGRAMS)
    rows = []
    cases = [
        (f"(fib {sizes['fib']})", lambda: fib(sizes["fib"])),
        (f"tail loop summing 1..{sizes['loop']:,}", lambda: sum_to(sizes["loop"])),
        (f"build {sizes['list']:,}-element list + reduce", lambda: list_sum(sizes["list"])),
    ]
    pil_forms = [f"(fib {sizes['fib']})", f"(sum-to {sizes['loop']})", f"(list-sum {sizes['list']})"]
    print(f"{'program':<40} {'pilang':>10} {'CPython':>10} {'ratio':>7}   (target <= 10x)")
    for (label, py), form in zip(cases, pil_forms):
        expected = py()
        forms = read(form, "<bench>")
        assert session.eval_forms(forms) == expected, f"pilang and Python disagree on {label}"
        t_pil = best_of(lambda: session.eval_forms(forms), repeat)
        t_py = best_of(py, repeat)
        rows.append({"name": label, "pilang_s": t_pil, "python_s": t_py, "ratio": t_pil / t_py})
        print(f"{label:<40} {t_pil * 1000:>8.1f}ms {t_py * 1000:>8.1f}ms {t_pil / t_py:>6.2f}x")

    text = generated_source(50_000 if quick else 1_000_000)
    t_read = best_of(lambda: read(text, "<bench>"), 1 if quick else 3)
    mb = len(text.encode()) / 1e6
    rows.append({"name": "reader", "mb": mb, "seconds": t_read, "mb_per_s": mb / t_read})
    print(f"reader: {mb:.2f} MB of S-expressions in {t_read:.2f} s = {mb / t_read:.2f} MB/s (target >= 0.5 MB/s)")

    pil, bare = startup_seconds(1 if quick else 5)
    rows.append({"name": "startup", "pilang_s": pil, "python_s": bare})
    print(f"start-up: pilang -e '(+ 1 2)' {pil * 1000:.0f} ms; bare python -c pass {bare * 1000:.0f} ms"
          f" (target <= 300 ms)")
    return rows
