"""`make bench` / `python -m bench`: run every benchmark in turn (PostgreSQL via DATABASE_URL).

Each benchmark runs in its own process: end_of_day sets Django up on its own database, the scale
benchmarks on the generated one, and one process can hold only one Django configuration.
"""

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# postings and end_of_day make their own databases; the scale_* and teller_workload benchmarks read
# the one `make bench-data` generates (bench/common.py, docs/performance.md).
BENCHMARKS = [
    "bench.postings",
    "bench.end_of_day",
    "bench.scale_pages",
    "bench.scale_ledger",
    "bench.teller_workload",
]


def main() -> int:
    failed = []
    for name in BENCHMARKS:
        if importlib.util.find_spec(name) is None:
            print(f"# {name}: not present, skipped", flush=True)
            continue
        print(f"# {name}", flush=True)
        # a benchmark refusing to run (e.g. no PostgreSQL, no generated data) is a failure
        code = subprocess.run([sys.executable, "-m", name], cwd=ROOT, check=False).returncode
        if code != 0:
            failed.append(f"{name}: exit {code}")
    for line in failed:
        print(f"# FAILED {line}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
