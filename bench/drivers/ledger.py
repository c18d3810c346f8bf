"""`ledger`: ledger transactions per second through `ledger.posting.post` (N client processes, each a
loop of two-leg transfers between random participant accounts, in its own database transaction: lock,
check balances, journal row, postings) vs `pgbench -N` on the same server at the same concurrency, and
vs django-hordak's `transfer_to` (bench venv, its own database on the same server, same concurrency)."""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import uuid

from .common import ROOT, log, rnd
from .loop import run_clients

BENCH_VENV_PY = ROOT / ".bench-venv" / "bin" / "python"


def _post_client(idx: int):
    from .common import setup_django

    setup_django()
    import random

    from django.db import connection, transaction

    from accounts.actor import Actor
    from ledger.posting import AVAILABLE, Leg, post

    with connection.cursor() as cur:  # every participant account of the bench's trading organizations
        cur.execute("""SELECT a.asset_id, array_agg(a.id ORDER BY a.id) FROM ledger_account a
                         JOIN accounts_organization o ON o.id = a.organization_id
                        WHERE a.kind = 'participant' AND o.name_zh LIKE 'bench-enterprise-%%'
                        GROUP BY a.asset_id HAVING count(*) > 1""")
        groups = [ids for _, ids in cur.fetchall()]
    rng = random.Random(idx)
    actor = Actor.system()
    run = uuid.uuid4().hex[:8]

    def op(i: int) -> None:
        a, b = rng.sample(rng.choice(groups), 2)
        amount = rng.randint(1, 100)
        with transaction.atomic():
            post(kind="transfer", idempotency_key=f"bench:ledger:{run}:{idx}:{i}",
                 request={"from": a, "to": b, "amount": amount}, actor=actor, reference=("bench", "ledger"),
                 legs=[Leg(a, AVAILABLE, -amount), Leg(b, AVAILABLE, amount)])

    return op


def pgbench(clients: int, seconds: int) -> dict:
    from django.conf import settings

    db = settings.DATABASES["default"]
    conn = ["-h", db["HOST"], "-p", str(db["PORT"]), "-U", db["USER"]]
    env = {**os.environ, "PGOPTIONS": "--client-min-messages=warning"}
    for sql in ("DROP DATABASE IF EXISTS bench_pgbench", "CREATE DATABASE bench_pgbench"):
        subprocess.run(["psql", *conn, "-d", db["NAME"], "-qc", sql], check=True, env=env)
    subprocess.run(["pgbench", *conn, "-i", "-q", "-s", "10", "bench_pgbench"], check=True, capture_output=True)
    out = subprocess.run(["pgbench", *conn, "-N", "-c", str(clients), "-j", str(min(clients, 2)), "-T", str(seconds),
                          "bench_pgbench"], check=True, capture_output=True, text=True).stdout
    tps = float(re.search(r"tps = ([\d.]+) \(without initial connection time\)", out).group(1))
    return {"tps": tps}


class Hordak:
    """django-hordak in the bench venv, on its own database of the same server."""

    def __init__(self):
        from django.conf import settings

        db = settings.DATABASES["default"]
        self.url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/bench_hordak"
        self.conn = ["-h", db["HOST"], "-p", str(db["PORT"]), "-U", db["USER"], "-d", db["NAME"]]

    def _run(self, *args) -> dict:
        env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH")}
        env.update(DJANGO_SETTINGS_MODULE="bench.hordak_settings", HORDAK_DATABASE_URL=self.url, PYTHONPATH=str(ROOT))
        p = subprocess.run([str(BENCH_VENV_PY), "-m", "bench.drivers.hordak_bench", *args], capture_output=True,
                           text=True, env=env, cwd=ROOT, timeout=600)
        if p.returncode != 0:
            last = p.stderr.strip().splitlines()[-1] if p.stderr.strip() else f"exit {p.returncode}"
            raise RuntimeError(f"hordak run failed: {last}")
        return json.loads(p.stdout.strip().splitlines()[-1])

    def setup(self) -> None:
        if not BENCH_VENV_PY.exists():
            raise RuntimeError("the bench venv (.bench-venv with django-hordak) is not installed")
        env = {**os.environ, "PGOPTIONS": "--client-min-messages=warning"}
        subprocess.run(["psql", *self.conn, "-qc", "DROP DATABASE IF EXISTS bench_hordak"], check=True, env=env)
        subprocess.run(["psql", *self.conn, "-qc", "CREATE DATABASE bench_hordak"], check=True, env=env)
        self._run("--setup")

    def measure(self, clients: int, seconds: int) -> dict:
        return self._run("--clients", str(clients), "--seconds", str(seconds))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--seconds", type=int, default=16, help="per system, split over two alternating rounds")
    args = ap.parse_args()
    from .common import setup_django

    setup_django()
    hordak, reason = Hordak(), None
    try:
        hordak.setup()
    except Exception as exc:  # noqa: BLE001 - recorded as the reason
        hordak, reason = None, str(exc)
    half = max(2, args.seconds // 2)
    posted, peer = [], []
    for _ in range(2):  # post, hordak, post, hordak: both see the same drifting background load
        r = run_clients(_post_client, clients=args.clients, seconds=half)
        log(f"ledger.posting.post: {r['per_s']:.0f}/s ({r['errors']} errors)")
        posted.append(r)
        if hordak is not None:
            try:
                h = hordak.measure(args.clients, half)
                log(f"hordak transfer_to: {h['per_s']:.0f}/s ({h['errors']} errors)")
                peer.append(h)
            except Exception as exc:  # noqa: BLE001
                hordak, reason = None, str(exc)
    pg = pgbench(args.clients, args.seconds)
    log(f"pgbench -N: {pg['tps']:.0f} tps")
    post_rate = sum(r["operations"] for r in posted) / sum(r["seconds"] for r in posted)
    peer_rate = sum(r["operations"] for r in peer) / sum(r["seconds"] for r in peer) if peer and not reason else None
    if reason:
        log(f"hordak: {reason}")
    print(json.dumps({
        "clients": args.clients, "seconds": args.seconds,
        "transactions_per_s": rnd(post_rate), "errors": sum(r["errors"] for r in posted),
        "runs_per_s": [rnd(r["per_s"]) for r in posted],
        "pgbench_tps": rnd(pg["tps"]), "ratio_to_pgbench": round(post_rate / pg["tps"], 3),
        "hordak_per_s": rnd(peer_rate), "hordak_runs_per_s": [rnd(r["per_s"]) for r in peer],
        "ratio_to_hordak": round(post_rate / peer_rate, 3) if peer_rate else None,
        "hordak_reason": reason, "hordak_version": peer[0].get("version") if peer else None,
        "hordak_errors": sum(r["errors"] for r in peer) if peer else None,
    }))


if __name__ == "__main__":
    main()
