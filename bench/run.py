"""Run the Session Service benchmarks: `python bench/run.py [--quick] [--only a,b]`.

Prints a Markdown table (median of 3 runs with min and max, targets pass/fail) and writes the
full results to bench/results/<time>-<mode>.json. See bench/README.md.
"""

import sys
from pathlib import Path


def main() -> None:
    # Run as a script, so make the repository importable (bench.*, service.*).
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench.suite import main as suite

    suite(sys.argv[1:])


if __name__ == "__main__":
    main()
