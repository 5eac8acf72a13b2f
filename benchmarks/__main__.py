"""`python -m benchmarks [--quick]` (or `pilang bench`): run every benchmark, print the figures."""
from __future__ import annotations

import argparse
import importlib
import platform

# In this order; each module is imported only when it runs, so the interpreter is timed in a process
# that has not loaded numpy, torch and scikit-learn (a bigger heap makes every garbage collection slower).
BENCHMARKS = ["interpreter", "ingest", "embedding", "bigfile", "analytics", "sentiment", "personas", "spectral", "learning", "ask", "stream", "live", "voice", "scaleout", "server", "store", "replicas", "evaluation"]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the benchmarks run, times mean nothing")
    parser.add_argument("--only", choices=BENCHMARKS, help="run one benchmark")
    args = parser.parse_args()
    print(f"# pilang benchmarks on {platform.python_implementation()} {platform.python_version()},"
          f" {platform.machine()}")
    for name in BENCHMARKS:
        if args.only in (None, name):
            print(f"\n## {name}")
            importlib.import_module(f".{name}", __package__).run(quick=args.quick)


if __name__ == "__main__":
    main()
