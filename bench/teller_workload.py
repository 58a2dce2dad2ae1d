"""A mixed teller workload against gunicorn on the generated database (issue 6, benchmark 7).

    python -m bench.teller_workload [--users 20] [--duration 60] [--workers 4]

A threaded equivalent of a headless Locust run (no gevent needed), loopback only. Each virtual
user is a teller of one branch (its own JWT, minted in-process: the token endpoint's rate limit is
for people, not for a benchmark) and loops over the counter's day:
  search a member by surname → open a CASH account for them → deposit into it (Idempotency-Key)
  → withdraw part of it (Idempotency-Key) → view the member's savings statement (last 30 days, PDF).
Reports requests/s, iterations/s, p50/p95 per action and overall, and errors (any non-2xx, or a
transport error). Target: zero errors; p95 reported. Every posting goes through the real services,
so the database still passes verify_ledger afterwards (checked at the end).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from urllib.parse import quote

from bench.common import ROOT, Results, bench_environment, percentile, setup_django

ACTIONS = ("search_member", "open_account", "deposit", "withdraw", "statement")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(port: int, timeout: float = 60) -> None:
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


def tellers(users: int):
    """One bench teller per virtual user (TELLER role, one branch each), with members to serve."""
    from django.contrib.auth.models import Group  # noqa: PLC0415 - once Django is set up here
    from rest_framework_simplejwt.tokens import RefreshToken  # noqa: PLC0415 - once Django is set up here

    from cooperative.models import Branch, User  # noqa: PLC0415 - once Django is set up here
    from ledger.models import Account  # noqa: PLC0415 - once Django is set up here
    from members.models import Member  # noqa: PLC0415 - once Django is set up here

    group = Group.objects.get(name="TELLER")
    branches = list(Branch.objects.filter(code__regex=r"^[A-Z]{3}\d{3}$").order_by("code"))
    staff = []
    for n in range(users):
        branch = branches[n % len(branches)]
        user, created = User.objects.get_or_create(
            email=f"bench.teller{n}@generated.coopdesk.local",
            defaults={"is_staff": True, "first_name": "Bench", "last_name": f"Teller {n}"},
        )
        if created:
            user.set_unusable_password()
            user.save()
            user.groups.add(group)
            user.branches.add(branch)
        members = list(
            Member.objects.filter(branch=branch, status="ACTIVE")
            .order_by("member_number")
            .values_list("pk", "last_name")[:500]
        )
        savings = dict(
            Account.objects.filter(member_id__in=[m[0] for m in members], type="SAVINGS").values_list(
                "member_id", "pk"
            )
        )
        staff.append(
            {
                "token": str(RefreshToken.for_user(user).access_token),
                "members": [(str(pk), name, str(savings[pk])) for pk, name in members if pk in savings],
            }
        )
    return staff


class VirtualTeller(threading.Thread):
    def __init__(self, port: int, teller: dict, stop_at: float, seed: int, period: tuple[str, str]):
        super().__init__(daemon=True)
        self.port, self.teller, self.stop_at = port, teller, stop_at
        self.rng = random.Random(seed)
        self.period = period
        self.timings = {action: [] for action in ACTIONS}
        self.errors: list[str] = []
        self.iterations = 0

    def call(self, conn, action: str, method: str, path: str, body=None, key: str | None = None):
        headers = {"Authorization": f"Bearer {self.teller['token']}", "Content-Type": "application/json"}
        if key:
            headers["Idempotency-Key"] = key
        started = time.perf_counter()
        try:
            conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
            response = conn.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.errors.append(f"{action}: {exc!r}")
            conn.close()
            return None
        self.timings[action].append((time.perf_counter() - started) * 1000)
        if not 200 <= response.status < 300:
            self.errors.append(f"{action}: {response.status} {payload[:200]!r}")
            return None
        return payload

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        date_from, date_to = self.period
        while time.monotonic() < self.stop_at:
            member_id, surname, savings_id = self.rng.choice(self.teller["members"])
            self.call(conn, "search_member", "GET", f"/api/v1/members/?search={quote(surname)}")
            body = self.call(
                conn, "open_account", "POST", "/api/v1/accounts/", {"member": member_id, "type": "CASH"}
            )
            if body is None:
                continue
            account = json.loads(body)["id"]
            amount = self.rng.randrange(1000, 50000)
            deposit = {"amount": f"{amount}.00", "description": "Counter deposit (bench)"}
            self.call(
                conn, "deposit", "POST", f"/api/v1/accounts/{account}/deposit/", deposit, str(uuid.uuid4())
            )
            withdrawal = {"amount": f"{amount // 2}.00", "description": "Counter withdrawal (bench)"}
            self.call(
                conn,
                "withdraw",
                "POST",
                f"/api/v1/accounts/{account}/withdraw/",
                withdrawal,
                str(uuid.uuid4()),
            )
            self.call(
                conn,
                "statement",
                "GET",
                f"/api/v1/accounts/{savings_id}/statement/?from={date_from}&to={date_to}&format=pdf",
            )
            self.iterations += 1
        conn.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args(argv)
    url = setup_django()

    from django.core.management import call_command  # noqa: PLC0415 - once Django is set up here
    from django.utils import timezone  # noqa: PLC0415 - once Django is set up here

    staff = tellers(args.users)
    today = timezone.localdate()
    period = ((today - timedelta(days=30)).isoformat(), today.isoformat())
    env = {**os.environ, **bench_environment(url)}
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "cooperative.wsgi",
            "-w",
            str(args.workers),
            "-b",
            f"127.0.0.1:{port}",
        ]
        + ["--log-level", "warning", "--timeout", "120"],
        cwd=ROOT,
        env=env,
    )
    results = Results("teller_workload", users=args.users, duration_s=args.duration, workers=args.workers)
    try:
        wait_for(port)
        started = time.monotonic()
        threads = [
            VirtualTeller(port, staff[n], started + args.duration, n, period) for n in range(args.users)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(args.duration + 120)
        elapsed = time.monotonic() - started
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
    every = [ms for t in threads for action in ACTIONS for ms in t.timings[action]]
    errors = [e for t in threads for e in t.errors]
    iterations = sum(t.iterations for t in threads)
    results.add("teller_requests_per_s", len(every) / elapsed, "req/s", iterations=iterations)
    results.add("teller_iterations_per_s", iterations / elapsed, "iterations/s")
    results.add("teller_p95_all", percentile(every, 95), "ms", p50=round(percentile(every, 50), 1))
    for action in ACTIONS:
        values = [ms for t in threads for ms in t.timings[action]]
        results.add(
            f"teller_{action}_p95", percentile(values, 95), "ms", p50=round(percentile(values, 50), 1)
        )
    results.add("teller_errors", len(errors), "count", target="0", met=not errors, first=errors[:5])
    out = __import__("io").StringIO()
    try:
        call_command("verify_ledger", stdout=out, stderr=out)
        verified = True
    except SystemExit:
        verified = False
    results.add("ledger_verified_after", int(verified), "bool", target="1", met=verified)
    results.write()


if __name__ == "__main__":
    main()
