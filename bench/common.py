"""Shared by the scale benchmarks: the generated database, Django set-up, result lines, percentiles.

The scale benchmarks run against a database made by `generate_data` (see docs/performance.md):
    make bench-data      # creates coopdesk_scale, migrates, generates the full size (≈ 5 minutes)
SCALE_DATABASE_URL overrides the database (default postgres://postgres@127.0.0.1:5432/coopdesk_scale).
"""

from __future__ import annotations

import json
import os
import platform
import secrets
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DEFAULT_SCALE_URL = "postgres://postgres@127.0.0.1:5432/coopdesk_scale"
MACHINE = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def scale_url() -> str:
    url = os.environ.get("SCALE_DATABASE_URL") or DEFAULT_SCALE_URL
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("the scale benchmarks need PostgreSQL: set SCALE_DATABASE_URL=postgres://…")
    return url


def bench_environment(url: str) -> dict[str, str]:
    """Environment for Django (in-process or gunicorn) against the generated database."""
    return {
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "cooperative.settings.base",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "REQUIRE_STAFF_MFA": "false",
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", ""),
        "LOG_LEVEL": "WARNING",
        "KYC_TIER_LIMITS": "false",  # not about KYC: bench members are bare rows (tier I)
    }


def setup_django(url: str | None = None) -> str:
    url = url or scale_url()
    os.environ.update(bench_environment(url))
    sys.path.insert(0, str(ROOT))
    import django  # noqa: PLC0415 - once Django is set up here

    django.setup()
    from django.core.management import call_command  # noqa: PLC0415 - once Django is set up here

    from members.models import Member  # noqa: PLC0415 - once Django is set up here

    call_command("createcachetable", verbosity=0)  # the database cache (REDIS_URL unset); idempotent
    call_command("collectstatic", interactive=False, verbosity=0)  # DEBUG off: the manifest storage

    if not Member.objects.exists():
        raise SystemExit(f"{url} has no generated data: run `make bench-data` first (docs/performance.md).")
    return url


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[int(pct) - 1]


class Results:
    """Collects result lines, prints each as JSON, writes them to bench/results/<name>.json."""

    def __init__(self, name: str, **context):
        self.name = name
        self.context = {"machine": MACHINE, **context}
        self.lines: list[dict] = []

    def add(self, name, value, unit, *, target=None, met=None, baseline=None, **extra) -> dict:
        line = {"name": name, "value": round(value, 3) if isinstance(value, float) else value, "unit": unit}
        if baseline is not None:
            line["baseline"] = round(baseline, 3)
            line["ratio"] = round(value / baseline, 2) if baseline else None
        if target is not None:
            line["target"] = target
            line["met"] = bool(met)
        line.update(extra)
        self.lines.append(line)
        print(json.dumps(line, default=str), flush=True)
        return line

    def write(self) -> Path:
        RESULTS.mkdir(exist_ok=True)
        path = RESULTS / f"{self.name}.json"
        path.write_text(
            json.dumps({"context": self.context, "results": self.lines}, indent=2, default=str) + "\n"
        )
        return path

    @property
    def all_met(self) -> bool:
        return all(line.get("met", True) for line in self.lines)
