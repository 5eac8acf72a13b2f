"""`python -m benchmarks [--quick]` (or `pilang bench`): run every benchmark, print the figures."""
from __future__ import annotations

import argparse
import platform

from . import analytics, ingest, interpreter, learning, personas, scaleout, spectral, voice


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the benchmarks run, times mean nothing")
    parser.add_argument("--only", choices=["interpreter", "ingest", "analytics", "personas", "spectral", "learning", "voice", "scaleout"], help="run one benchmark")
    args = parser.parse_args()
    print(f"# pilang benchmarks on {platform.python_implementation()} {platform.python_version()},"
          f" {platform.machine()}")
    for name, module in (("interpreter", interpreter), ("ingest", ingest), ("analytics", analytics),
                         ("personas", personas), ("spectral", spectral), ("learning", learning), ("voice", voice), ("scaleout", scaleout)):
        if args.only in (None, name):
            print(f"\n## {name}")
            module.run(quick=args.quick)


if __name__ == "__main__":
    main()
