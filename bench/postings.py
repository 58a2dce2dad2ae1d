"""Posting throughput through the real API, next to a bare DRF endpoint on the same server.

    python -m bench.postings [--clients 8,32] [--duration 15] [--workers 4] [--redis-url URL]

Needs PostgreSQL (DATABASE_URL, default a `coopdesk_bench` database on 127.0.0.1) — it is created
and migrated if missing. Starts gunicorn on a free port, logs in bench tellers over the API (one
per client of the largest client count, `--tellers`: client i posts as teller i, at that teller's
till, as at a branch's counters), then for each client count runs, for the same total duration each:
  * baseline: POST /bench/baseline/{account}/ — one SELECT … FOR UPDATE + one INSERT (yardstick);
  * deposits: POST /api/v1/accounts/{id}/deposit/ with an Idempotency-Key;
  * withdrawals: POST /api/v1/accounts/{id}/withdraw/,
in `--rounds` alternating slices (baseline, deposits, withdrawals, baseline, …), so that the host
speeding up or slowing down during the run weighs on all three alike.
Prints one JSON line per figure (name, value, unit, and where there is one baseline and ratio):
requests per second, p50/p99 latency of each kind, errors, the largest resident set (VmRSS) any
gunicorn worker reached during the run, and first the machine. Writes them to
bench/results/postings.json. Ratios measured in one run mean something on a noisy host; absolute
numbers less so.

The server runs as production does (DESIGN §6): PostgreSQL and a Redis cache (`--redis-url`,
default REDIS_URL or redis://127.0.0.1:6379/0; `--redis-url ''` falls back to the database cache).
Baseline and API share the very same gunicorn processes in every run.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/coopdesk_bench"
PASSWORD = "bench-teller-password-2026"  # noqa: S105 - a throwaway bench database


def server_env(database_url: str, redis_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("REDIS_URL", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update(
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="cooperative.settings.base",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=env.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        KYC_TIER_LIMITS="false",  # not about KYC: bench members are bare rows (tier I)
        DJANGO_SECURE_SSL_REDIRECT="false",
        REQUIRE_STAFF_MFA="false",
        COOP_BENCH_BASELINE="true",
        JWT_ACCESS_MINUTES="240",
        LOGIN_RATE_LIMIT="1000/m",
        LOG_LEVEL="WARNING",
    )
    return env


def ensure_database(database_url: str) -> None:
    name = database_url.rsplit("/", 1)[1].split("?")[0]
    admin_url = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def manage(env: dict, *args: str) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"manage.py {' '.join(args)} failed")
    return result.stdout


SETUP_SCRIPT = """
import json
from decimal import Decimal
from django.contrib.auth.models import Group
from django.db import connection
from cooperative.models import Branch, User
from ledger import services
from ledger.models import Account
from members.models import Member

from bench.baseline_views import CREATE_TABLE

with connection.cursor() as cursor:
    cursor.execute(CREATE_TABLE)
branch, _ = Branch.objects.get_or_create(code="BNCH1", defaults={"name": "Bench Branch"})
services.bootstrap_branch_ledger(branch_id=branch.pk)
for t in range(TELLERS):
    email = "bench-teller@coopdesk.local" if t == 0 else f"bench-teller-{t}@coopdesk.local"
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User(email=email, first_name="Bench", last_name=f"Teller {t}", is_staff=True)
        user.set_password(PASSWORD)
        user.save()
    user.groups.add(Group.objects.get(name="TELLER"))
    user.branches.add(branch)
ids = []
for i in range(COUNT):
    number = f"BNCH{i:06d}"
    member = Member.objects.filter(member_number=number).first()
    if member is None:
        member = Member.objects.create(member_number=number, first_name="Bench", last_name=f"Member{i}",
                                       phone=f"+23481{i:08d}", branch=branch)
    account = Account.objects.filter(member=member, type="SAVINGS").first()
    if account is None:
        account = services.open_account(member=member, account_type="SAVINGS")
    if account.balance < Decimal("1000000"):
        services.deposit(account_id=account.pk, amount=Decimal("100000000.00"), description="bench float")
    ids.append(str(account.pk))
print("IDS=" + json.dumps(ids))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health/live")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("gunicorn did not start")


def request(conn, method: str, path: str, body: dict | None, headers: dict) -> tuple[int, bytes]:
    payload = json.dumps(body).encode() if body is not None else None
    conn.request(method, path, body=payload, headers={"Content-Type": "application/json", **headers})
    response = conn.getresponse()
    return response.status, response.read()


def run_load(
    port: int, tokens: list[str], accounts: list[str], kind: str, clients: int, duration: float
) -> dict:
    """`clients` threads, each with its own keep-alive connection and its own accounts; client i
    is teller i (modulo the number of tellers), as at a branch's counters."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + duration

    def client(index: int) -> None:
        auth = {"Authorization": f"Bearer {tokens[index % len(tokens)]}"}
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = accounts[index::clients] or accounts
        local, local_errors, n = [], [], 0
        while time.monotonic() < stop_at:
            account = mine[n % len(mine)]
            n += 1
            if kind == "baseline":
                path, headers = f"/bench/baseline/{account}/", auth
            else:
                path = f"/api/v1/accounts/{account}/{'deposit' if kind == 'deposits' else 'withdraw'}/"
                headers = {**auth, "Idempotency-Key": uuid.uuid4().hex}
            started = time.perf_counter()
            try:
                status, body = request(
                    conn, "POST", path, {"amount": "100.00", "description": "bench"}, headers
                )
            except (OSError, http.client.HTTPException) as exc:
                local_errors.append(repr(exc))
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            local.append(time.perf_counter() - started)
            if status >= 300:
                local_errors.append(f"{status} {body[:200]!r}")
        with lock:
            latencies.extend(local)
            errors.extend(local_errors)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    return summary([{"latencies": latencies, "errors": errors, "elapsed": elapsed}])


def summary(slices: list[dict]) -> dict:
    """Requests per second, errors and latency percentiles over one or more timed slices."""
    latencies = [x for part in slices for x in part["latencies"]]
    errors = [x for part in slices for x in part["errors"]]
    elapsed = sum(part["elapsed"] for part in slices)
    ordered = sorted(latencies) or [0.0]
    return {
        "per_second": (len(latencies) - len(errors)) / elapsed,
        "requests": len(latencies),
        "errors": len(errors),
        "error_sample": errors[:3],
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        "raw": {"latencies": latencies, "errors": errors, "elapsed": elapsed},
    }


def cpu_seconds_by_process() -> dict[tuple[int, str], float]:
    """CPU seconds (user + system) used so far by each process on the host, keyed by (pid, kind):
    PostgreSQL's processes, gunicorn's, this benchmark's own (the load generator) and the rest
    (Redis …)."""
    tick = os.sysconf("SC_CLK_TCK")
    used: dict[tuple[int, str], float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        pid = int(stat.parent.name)
        if pid == os.getpid():
            continue
        try:
            raw = stat.read_text()
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        name, rest = raw.split("(", 1)[1].rsplit(")", 1)
        fields = rest.split()  # state, ppid, …: utime and stime are the 12th and 13th
        if name.startswith("postgres"):
            kind = "postgres"
        else:
            kind = "gunicorn" if b"gunicorn" in command else "other"
        used[(pid, kind)] = (int(fields[11]) + int(fields[12])) / tick
    own = os.times()
    used[(os.getpid(), "load_generator")] = own.user + own.system
    return used


def cpu_used_between(before: dict, after: dict) -> dict[str, float]:
    """Per kind, what the processes alive at the end used since `before` (a process that started
    in between counts whole; one that ended in between is lost, which only undercounts)."""
    totals = {"postgres": 0.0, "gunicorn": 0.0, "other": 0.0, "load_generator": 0.0}
    for (pid, kind), seconds in after.items():
        totals[kind] += seconds - before.get((pid, kind), 0.0)
    return totals


def interleaved(port, tokens, accounts, kinds, clients, duration, rounds) -> tuple[dict, list[dict]]:
    """Each kind for `duration` seconds in all, measured in `rounds` alternating slices (baseline,
    deposits, withdrawals, baseline, …), so that a change in the host's speed during the run (other
    tenants, CPU boost) weighs on every kind alike instead of on whichever ran during it.
    Returns the totals per kind and the figures of each round."""
    parts: dict[str, list] = {kind: [] for kind in kinds}
    cpu: dict[str, dict] = {kind: {} for kind in kinds}
    per_round = []
    for _ in range(rounds):
        this_round = {}
        for kind in kinds:
            before = cpu_seconds_by_process()
            result = run_load(port, tokens, accounts, kind, clients, duration / rounds)
            for name, seconds in cpu_used_between(before, cpu_seconds_by_process()).items():
                cpu[kind][name] = cpu[kind].get(name, 0.0) + seconds
            parts[kind].append(result["raw"])
            this_round[kind] = result["per_second"]
        per_round.append(this_round)
    totals = {kind: summary(slices) for kind, slices in parts.items()}
    for kind, result in totals.items():  # CPU milliseconds per request, by process
        requests = max(1, result["requests"])
        result["cpu_ms"] = {name: used * 1000 / requests for name, used in cpu[kind].items()}
    return totals, per_round


def worker_pids(master: int) -> list[int]:
    """The gunicorn master's children (its workers)."""
    try:
        return [int(pid) for pid in Path(f"/proc/{master}/task/{master}/children").read_text().split()]
    except OSError:
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == master:
                children.append(int(stat.parent.name))
        return children


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class RssSampler(threading.Thread):
    """Samples the VmRSS of every gunicorn worker twice a second; keeps the largest."""

    def __init__(self, master: int):
        super().__init__(daemon=True)
        self.master, self.peak_mb, self.stopped = master, 0.0, threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.5):
            for pid in worker_pids(self.master):
                self.peak_mb = max(self.peak_mb, rss_mb(pid))


def machine(database_url: str, workers: int, worker_class: str) -> str:
    try:
        mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        mem_gib = 0
    with psycopg.connect(database_url) as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, {mem_gib:.0f} GiB, Python "
        f"{platform.python_version()}, PostgreSQL {pg}, gunicorn {workers} {worker_class} workers"
    )


def emit(results: list[dict], name: str, value, unit: str, baseline: float | None = None) -> None:
    row = {"name": name, "value": round(value, 2) if isinstance(value, float) else value, "unit": unit}
    if baseline is not None:
        row["baseline"] = round(baseline, 2)
        row["ratio"] = round(value / baseline, 3) if baseline else None
    results.append(row)
    print(json.dumps(row), flush=True)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="8,32", help="Comma-separated client counts.")
    parser.add_argument("--duration", type=float, default=15.0, help="Seconds per measurement.")
    parser.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="Alternating slices each measurement is split into (1: one block per kind, as before).",
    )
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes.")
    parser.add_argument("--worker-class", default="sync", help="gunicorn worker class.")
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0",
        help="Cache for the server (as in production); '' for the database cache.",
    )
    parser.add_argument("--accounts", type=int, default=64)
    parser.add_argument(
        "--tellers",
        type=int,
        default=0,
        help="Tellers posting (each at their own till); default one per client of the largest count.",
    )
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL") or DEFAULT_DB)
    parser.add_argument("--no-withdrawals", action="store_true")
    args = parser.parse_args(argv)
    if not args.database_url.startswith("postgres"):
        raise SystemExit("bench/postings.py measures PostgreSQL: set DATABASE_URL=postgres://…")

    env = server_env(args.database_url, args.redis_url)
    ensure_database(args.database_url)
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "createcachetable")
    manage(env, "bootstrap_roles", "-v0")
    client_counts = [int(c) for c in args.clients.split(",")]
    tellers = args.tellers or max(client_counts)
    script = (
        SETUP_SCRIPT.replace("PASSWORD", repr(PASSWORD))
        .replace("COUNT", str(args.accounts))
        .replace("TELLERS", str(tellers))
    )
    out = manage(env, "shell", "-c", script)
    accounts = json.loads(out.split("IDS=", 1)[1].strip())

    port = free_port()
    server = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "gunicorn",
            "cooperative.wsgi",
            "-w",
            str(args.workers),
            "-k",
            args.worker_class,
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    results: list[dict] = []
    description = machine(args.database_url, args.workers, args.worker_class)
    emit(results, "machine", description, "text")
    sampler = RssSampler(server.pid)
    try:
        wait_for(port)
        sampler.start()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        tokens = []
        for t in range(tellers):
            email = "bench-teller@coopdesk.local" if t == 0 else f"bench-teller-{t}@coopdesk.local"
            status, body = request(
                conn, "POST", "/api/v1/auth/token/", {"email": email, "password": PASSWORD}, {}
            )
            if status != 200:
                raise SystemExit(f"login failed: {status} {body!r}")
            tokens.append(json.loads(body)["access"])
        emit(results, "tellers", tellers, "count")
        # Warm up every worker's connections and caches (and open every teller's till).
        run_load(port, tokens, accounts, "baseline", 8, 2.0)
        run_load(port, tokens, accounts, "deposits", max(8, tellers), 2.0)
        kinds = ["baseline", "deposits"] + ([] if args.no_withdrawals else ["withdrawals"])
        for clients in client_counts:
            totals, per_round = interleaved(
                port, tokens, accounts, kinds, clients, args.duration, max(1, args.rounds)
            )
            base, dep = totals["baseline"], totals["deposits"]
            tag = f"c{clients}"
            for kind, result in totals.items():
                split = {name: round(ms, 2) for name, ms in result["cpu_ms"].items()}
                print(json.dumps({"name": f"cpu_ms_per_request_{kind}_{tag}", **split}), flush=True)
            ratios = sorted(r["deposits"] / r["baseline"] for r in per_round if r["baseline"])
            if ratios:
                print(
                    json.dumps(
                        {
                            "name": f"deposit_ratio_per_round_{tag}",
                            "min": round(ratios[0], 3),
                            "median": round(statistics.median(ratios), 3),
                            "max": round(ratios[-1], 3),
                            "rounds": len(ratios),
                        }
                    ),
                    flush=True,
                )
            emit(results, f"baseline_select_for_update_insert_per_s_{tag}", base["per_second"], "req/s")
            emit(results, f"baseline_p50_{tag}", base["p50_ms"], "ms")
            emit(results, f"baseline_p99_{tag}", base["p99_ms"], "ms")
            emit(results, f"baseline_errors_{tag}", base["errors"], "count")
            emit(results, f"api_deposits_per_s_{tag}", dep["per_second"], "req/s", base["per_second"])
            emit(results, f"api_deposit_p50_{tag}", dep["p50_ms"], "ms", base["p50_ms"])
            emit(results, f"api_deposit_p99_{tag}", dep["p99_ms"], "ms", base["p99_ms"])
            emit(results, f"api_deposit_errors_{tag}", dep["errors"], "count")
            if dep["errors"]:
                print(json.dumps({"deposit_error_sample": dep["error_sample"]}), flush=True)
            if not args.no_withdrawals:
                wd = totals["withdrawals"]
                emit(results, f"api_withdrawals_per_s_{tag}", wd["per_second"], "req/s", base["per_second"])
                emit(results, f"api_withdrawal_p50_{tag}", wd["p50_ms"], "ms", base["p50_ms"])
                emit(results, f"api_withdrawal_p99_{tag}", wd["p99_ms"], "ms", base["p99_ms"])
                emit(results, f"api_withdrawal_errors_{tag}", wd["errors"], "count")
                if wd["errors"]:
                    print(json.dumps({"withdrawal_error_sample": wd["error_sample"]}), flush=True)
        sampler.stopped.set()
        sampler.join(timeout=5)
        emit(results, "gunicorn_worker_max_rss", sampler.peak_mb, "MB")
    finally:
        sampler.stopped.set()
        server.terminate()
        server.wait(timeout=30)
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "postings.json").write_text(
        json.dumps(
            {
                "machine": description,
                "workers": args.workers,
                "worker_class": args.worker_class,
                "duration_s": args.duration,
                "rounds": args.rounds,
                "tellers": tellers,
                "results": results,
            },
            indent=2,
        )
    )
    return results


if __name__ == "__main__":
    main()
