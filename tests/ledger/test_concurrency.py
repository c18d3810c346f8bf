"""Several OS processes, each with its own database connection to the test database, hammer the same
few accounts with holds, releases, transfers both ways and four-legged swaps whose legs come in random
order. Afterwards: every balance is the initial balance plus the sum of what the workers report as
committed (no lost update), no worker saw anything but the expected business refusals (no deadlock or
serialization failure reaching a caller), and `verify_ledger` passes."""
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from accounts.actor import Actor
from ledger import services
from ledger.models import Account, Asset, LedgerTransaction
from ledger.sealing import seal
from ledger.verify import verify_ledger

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]
WORKERS, OPS = 4, 150

WORKER = r"""
import json, os, random, sys, time
import django
django.setup()
from django.db import transaction
from accounts.actor import Actor
from core.errors import ApiError
from ledger import services
from ledger.models import Asset
from ledger.posting import AVAILABLE, HELD, Leg, accounts_ensure, post

cfg = json.loads(sys.argv[1])
rng = random.Random(cfg["seed"])
actor = Actor.system()
orgs = cfg["orgs"]
assets = {a.id: a for a in Asset.objects.filter(id__in=cfg["assets"])}
from accounts.models import Organization
org_objs = {o.id: o for o in Organization.objects.filter(id__in=orgs)}
deltas, refused, errors, committed = {}, {}, [], 0

def add(org, asset, bucket, amount):
    k = f"{org}:{asset}:{bucket}"
    deltas[k] = deltas.get(k, 0) + amount

while time.time() < cfg["start_at"]:  # start together
    time.sleep(0.001)
for n in range(cfg["ops"]):
    key = f"w{cfg['seed']}-{n}"
    op = rng.choice(["hold", "release", "transfer", "transfer", "swap"])
    asset = rng.choice(cfg["assets"])
    a, b = rng.sample(orgs, 2)
    amount = rng.randint(1, 60_000)
    try:
        if op == "hold":
            services.hold_create(actor=actor, organization=org_objs[a], asset=assets[asset], amount=amount,
                                 idempotency_key=key)
            add(a, asset, "A", -amount); add(a, asset, "H", amount)
        elif op == "release":
            services.hold_cancel(actor=actor, organization=org_objs[a], asset=assets[asset], amount=amount,
                                 idempotency_key=key)
            add(a, asset, "H", -amount); add(a, asset, "A", amount)
        elif op == "transfer":
            services.rights_transfer(actor=actor, asset=assets[asset], sender=org_objs[a], recipient=org_objs[b],
                                     amount=amount, idempotency_key=key)
            add(a, asset, "A", -amount); add(b, asset, "A", amount)
        else:  # a DvP-shaped swap: a pays cash from held, b delivers rights; legs in random order
            cash, right = cfg["cash"], cfg["right"]
            qty = rng.randint(1, 5_000)
            with transaction.atomic():
                ids = accounts_ensure([(a, cash, "participant"), (b, cash, "participant"),
                                       (a, right, "participant"), (b, right, "participant")])
                legs = [Leg(ids[(a, cash, "participant")], HELD, -amount),
                        Leg(ids[(b, cash, "participant")], AVAILABLE, amount),
                        Leg(ids[(b, right, "participant")], AVAILABLE, -qty),
                        Leg(ids[(a, right, "participant")], AVAILABLE, qty)]
                rng.shuffle(legs)
                post(kind="swap", idempotency_key=key, request={"n": n}, legs=legs, actor=actor)
            add(a, cash, "H", -amount); add(b, cash, "A", amount); add(b, right, "A", -qty); add(a, right, "A", qty)
        committed += 1
    except ApiError as exc:
        refused[exc.code] = refused.get(exc.code, 0) + 1
    except Exception as exc:  # a deadlock, serialization failure or constraint violation would land here
        errors.append(f"{type(exc).__name__}: {exc}")
print(json.dumps({"deltas": deltas, "refused": refused, "errors": errors, "committed": committed}))
"""


def _database_url() -> str:
    s = connection.settings_dict  # during tests NAME is the test database
    auth = quote(s["USER"] or "")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"])
    return f"postgres://{auth}@{s['HOST'] or 'localhost'}:{s['PORT'] or 5432}/{s['NAME']}"


def _balances(org_ids, asset_ids) -> dict:
    out = {}
    for acc in Account.objects.filter(organization_id__in=org_ids, asset_id__in=asset_ids, kind="participant"):
        out[f"{acc.organization_id}:{acc.asset_id}:A"] = acc.available
        out[f"{acc.organization_id}:{acc.asset_id}:H"] = acc.held
    return out


def test_processes_hammering_overlapping_accounts(make_org):
    actor = Actor.system()
    county = make_org("county_government", "350121")
    orgs = [make_org("enterprise", "350121") for _ in range(3)]
    so2 = services.asset_create(actor=actor, code="EM-SO2-2026-350121", right_type_id="emission", subtype="SO2",
                                unit="t", scale=3, vintage=2026, origin_region_id="350121", issuer=county)
    cny = Asset.objects.get(code="CNY")
    for i, org in enumerate(orgs):
        services.rights_issue(actor=actor, issuer=county, asset=so2, recipient=org, amount=400_000,
                              idempotency_key=f"seed-i{i}")
        services.cash_deposit(actor=actor, organization=org, amount=400_000, bank_reference=f"B{i}",
                              idempotency_key=f"seed-d{i}")
        for asset in (so2, cny):  # some escrow to swap and release from
            services.hold_create(actor=actor, organization=org, asset=asset, amount=150_000,
                                 idempotency_key=f"seed-h{i}-{asset.id}")
    org_ids, asset_ids = [o.id for o in orgs], [so2.id, cny.id]
    before = _balances(org_ids, asset_ids)
    transactions_before = LedgerTransaction.objects.count()

    env = {**os.environ, "DATABASE_URL": _database_url(), "DJANGO_SETTINGS_MODULE": "config.settings",
           "PYTHONPATH": str(ROOT)}
    start_at = time.time() + 3  # time for every process to import Django and connect
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, json.dumps({
        "seed": w, "ops": OPS, "orgs": org_ids, "assets": asset_ids, "cash": cny.id, "right": so2.id,
        "start_at": start_at})], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for w in range(WORKERS)]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))

    errors = [e for r in results for e in r["errors"]]
    assert errors == [], errors[:5]
    refused = sum((Counter(r["refused"]) for r in results), Counter())
    assert set(refused) <= {"insufficient_balance", "insufficient_held"}, refused
    committed = sum(r["committed"] for r in results)
    assert committed > WORKERS * OPS // 3, (committed, refused)  # the hammering did happen
    assert LedgerTransaction.objects.count() == transactions_before + committed

    expected = Counter(before)
    for r in results:
        expected.update(r["deltas"])
    after = _balances(org_ids, asset_ids)
    assert after == {k: expected[k] for k in after}, "lost update: balances differ from committed work"
    assert all(v >= 0 for v in after.values())

    deadline = time.monotonic() + 60
    while seal().sealed == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    report = verify_ledger()
    assert report.ok, report.fault
