"""The lock statement of `post()` (#19, ledger speed): one prepared form per number of accounts up to
`ledger.sql.LOCK_ARITY_MAX`, the array form beyond. Whatever the form, the accounts come back in id order
and are locked (another session cannot lock them); postings with any number of accounts still balance;
and the fixed-arity form is planned once per session (a generic plan), where the array form was
re-planned on every posting."""
import psycopg2
import pytest
from django.conf import settings
from django.db import connection, transaction

from accounts.actor import Actor
from ledger import services, sql
from ledger.models import Account, LedgerTransaction
from ledger.posting import AVAILABLE, Leg, accounts_ensure, post

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def accounts(make_org):
    """An asset, its issuance account and the participant accounts of 11 organizations (more than
    LOCK_ARITY_MAX + 1, so that both forms of the lock statement are exercised)."""
    county = make_org("county_government", "350121")
    asset = services.asset_create(actor=Actor.system(), code="EM-COD-2026-350121", right_type_id="emission",
                                  subtype="COD", unit="t", scale=3, vintage=2026, origin_region_id="350121",
                                  issuer=county)
    orgs = [make_org("enterprise", "350121") for _ in range(11)]
    keys = [(None, asset.id, "issuance")] + [(org.id, asset.id, "participant") for org in orgs]
    ids = accounts_ensure(keys)
    return {"asset": asset, "issuance": ids[keys[0]], "holders": [ids[k] for k in keys[1:]]}


def _other_session():
    db = settings.DATABASES["default"]
    conn = psycopg2.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], password=db["PASSWORD"] or None,
                            dbname=db["NAME"])
    conn.autocommit = False
    return conn


@pytest.mark.parametrize("count", [1, 2, 3, sql.LOCK_ARITY_MAX, sql.LOCK_ARITY_MAX + 1, 11])
def test_lock_accounts_reads_them_in_id_order_and_holds_their_locks(accounts, count):
    ids = sorted(accounts["holders"])[:count]
    other = _other_session()
    try:
        with transaction.atomic():
            with connection.cursor() as cur:
                sql.lock_accounts(cur, ids)
                rows = cur.fetchall()
            assert [r[0] for r in rows] == ids
            assert all(r[1] == accounts["asset"].id and r[2] == "participant" and r[3:] == (0, 0) for r in rows)
            with other.cursor() as ocur:
                for account_id in (ids[0], ids[-1]):
                    with pytest.raises(psycopg2.errors.LockNotAvailable):
                        ocur.execute("SELECT 1 FROM ledger_account WHERE id = %s FOR UPDATE NOWAIT", [account_id])
                    other.rollback()
        with other.cursor() as ocur:  # released at commit
            ocur.execute("SELECT id FROM ledger_account WHERE id = ANY(%s) FOR UPDATE NOWAIT", [ids])
            assert len(ocur.fetchall()) == count
        other.rollback()
    finally:
        other.close()


def test_a_posting_over_more_accounts_than_the_fixed_forms_balances(accounts):
    holders = accounts["holders"]
    legs = [Leg(accounts["issuance"], AVAILABLE, -10 * len(holders))] + [Leg(h, AVAILABLE, 10) for h in holders]
    assert len(legs) > sql.LOCK_ARITY_MAX
    with transaction.atomic():
        posted = post(kind="test", idempotency_key="wide", request={"n": len(legs)}, legs=legs, actor=Actor.system())
    assert not posted.replayed
    balances = dict(Account.objects.filter(id__in=holders + [accounts["issuance"]]).values_list("id", "available"))
    assert balances[accounts["issuance"]] == -10 * len(holders)
    assert all(balances[h] == 10 for h in holders)
    txn = LedgerTransaction.objects.get(id=posted.transaction_id)
    assert sorted(txn.postings.values_list("account_id", flat=True)) == sorted(a.account_id for a in legs)


def test_the_two_account_lock_is_planned_once_per_session(accounts):
    issuance, holders = accounts["issuance"], accounts["holders"]
    with transaction.atomic():
        post(kind="test", idempotency_key="fund", request={}, actor=Actor.system(),
             legs=[Leg(issuance, AVAILABLE, -1000)] + [Leg(h, AVAILABLE, 100) for h in holders[:10]])
    for i in range(12):
        a, b = holders[i % 5], holders[5 + i % 5]
        with transaction.atomic():
            post(kind="transfer", idempotency_key=f"t{i}", request={"i": i}, actor=Actor.system(),
                 legs=[Leg(a, AVAILABLE, -1), Leg(b, AVAILABLE, 1)])
    name = sql._LOCK_ACCOUNTS_N[2].name
    with connection.cursor() as cur:
        cur.execute("SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = %s", [name])
        generic, custom = cur.fetchone()
    # PostgreSQL tries custom plans for the first five executions, then keeps the generic plan when it
    # is no dearer; the array form (id = ANY($1)) never got there: 0 generic, one custom plan per posting
    assert generic >= 12 - 5 and custom <= 5
