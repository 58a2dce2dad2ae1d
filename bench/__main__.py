"""`make bench` / `python -m bench`: run every benchmark in turn (PostgreSQL via DATABASE_URL)."""

import importlib
import sys

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
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            print(f"# {name}: not present, skipped", flush=True)
            continue
        print(f"# {name}", flush=True)
        try:
            module.main([])
        except SystemExit as exc:  # a benchmark refusing to run (e.g. no PostgreSQL) is a failure
            if exc.code not in (None, 0):
                failed.append(f"{name}: {exc.code}")
    for line in failed:
        print(f"# FAILED {line}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
