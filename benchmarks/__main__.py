"""`python -m benchmarks [--quick]` (or `pilang bench`): run every benchmark, print the figures."""
from __future__ import annotations

import argparse
import platform

from . import interpreter


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the benchmarks run, times mean nothing")
    args = parser.parse_args()
    print(f"# pilang benchmarks on {platform.python_implementation()} {platform.python_version()},"
          f" {platform.machine()}")
    print("\n## interpreter")
    interpreter.run(quick=args.quick)


if __name__ == "__main__":
    main()
