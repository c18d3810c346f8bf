"""Tampering behind the application's back — raw SQL with the user triggers disabled — is caught by
`manage.py verify_ledger`: exit 1 naming the first bad transaction and the kind of fault; an intact
ledger exits 0."""
import time
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from accounts.actor import Actor
from ledger import services
from ledger.models import Asset, Checkpoint, LedgerTransaction, MerkleLeaf, Posting
from ledger.sealing import seal

pytestmark = pytest.mark.django_db(transaction=True)
TABLES = ("ledger_ledgertransaction", "ledger_posting", "ledger_account", "ledger_merkleleaf", "ledger_merklenode",
          "ledger_checkpoint")


def verify() -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("verify_ledger", "--no-progress", stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue(), err.getvalue()


def tamper(sql: str, params=None) -> None:
    """Run `sql` as an attacker with table-owner rights would: user triggers off, then back on."""
    with transaction.atomic(), connection.cursor() as cur:
        for t in TABLES:
            cur.execute(f"ALTER TABLE {t} DISABLE TRIGGER USER")
        cur.execute(sql, params or {})
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")  # run the pending foreign-key checks before ALTER TABLE
        for t in TABLES:
            cur.execute(f"ALTER TABLE {t} ENABLE TRIGGER USER")


def assert_fault(kind: str, transaction_id: int | None):
    code, out, err = verify()
    assert code == 1, (out, err)
    assert f"LEDGER FAULT {kind}:" in err, err
    if transaction_id is not None:
        assert f"transaction {transaction_id}:" in err, err


def seal_all(expected: int, timeout: float = 60) -> None:
    """seal() until `expected` more transactions are sealed (another session's open writing transaction
    in this database would hold the horizon back for a moment)."""
    deadline, sealed = time.monotonic() + timeout, 0
    while sealed < expected:
        sealed += seal().sealed
        if sealed < expected:
            assert time.monotonic() < deadline, "the sealing horizon did not move"
            time.sleep(0.02)
    assert sealed == expected


@pytest.fixture
def ledger(make_org):
    """A sealed history of 12 transactions over (at least) two checkpoints, and 2 unsealed ones."""
    actor = Actor.system()
    county = make_org("county_government", "350121")
    a, b = make_org("enterprise", "350121"), make_org("enterprise", "350102")
    so2 = services.asset_create(actor=actor, code="EM-SO2-2026-350121", right_type_id="emission", subtype="SO2",
                                unit="t", scale=3, vintage=2026, origin_region_id="350121", issuer=county)
    cny = Asset.objects.get(code="CNY")
    services.rights_issue(actor=actor, issuer=county, asset=so2, recipient=a, amount=100_000, idempotency_key="i1")
    services.rights_issue(actor=actor, issuer=county, asset=so2, recipient=b, amount=50_000, idempotency_key="i2")
    services.cash_deposit(actor=actor, organization=a, amount=10_000_000, bank_reference="B1", idempotency_key="d1")
    services.cash_deposit(actor=actor, organization=b, amount=20_000_000, bank_reference="B2", idempotency_key="d2")
    services.hold_create(actor=actor, organization=a, asset=so2, amount=1_000, idempotency_key="h1")
    services.hold_cancel(actor=actor, organization=a, asset=so2, amount=1_000, idempotency_key="r1")
    seal_all(6)
    for i in range(6):
        services.rights_transfer(actor=actor, asset=so2, sender=a if i % 2 else b, recipient=b if i % 2 else a,
                                 amount=100 + i, idempotency_key=f"t{i}", reason="test")
    seal_all(6)
    services.cash_withdraw(actor=actor, organization=b, amount=1_000, bank_reference="B3", idempotency_key="w1")
    services.rights_retire(actor=actor, asset=so2, organization=a, amount=500, reason="compliance",
                           compliance_period="2026", idempotency_key="rt1")
    sealed = list(MerkleLeaf.objects.order_by("index").values_list("transaction_id", flat=True))
    return {"sealed": sealed, "cny": cny, "so2": so2}


def test_intact_ledger_exits_zero(ledger):
    code, out, err = verify()
    assert code == 0, err
    assert "ledger intact: 14 transactions (12 sealed)" in out


def test_amount_updated_on_one_leg(ledger):
    victim = ledger["sealed"][3]
    tamper("UPDATE ledger_posting SET amount = amount + 1 WHERE id = "
           "(SELECT max(id) FROM ledger_posting WHERE transaction_id = %(t)s)", {"t": victim})
    assert_fault("unbalanced", victim)


def test_amount_updated_on_both_legs(ledger):
    """A balanced edit (both legs moved by the same amount) is still caught by the sealed hash."""
    victim = ledger["sealed"][7]
    tamper("UPDATE ledger_posting SET amount = amount + sign(amount) * 1000 WHERE transaction_id = %(t)s",
           {"t": victim})
    assert_fault("altered", victim)


def test_header_altered(ledger):
    victim = ledger["sealed"][1]
    tamper("UPDATE ledger_ledgertransaction SET created_at = created_at - interval '1 day' WHERE id = %(t)s",
           {"t": victim})
    assert_fault("altered", victim)


def test_posting_deleted(ledger):
    victim = ledger["sealed"][9]
    tamper("DELETE FROM ledger_posting WHERE id = (SELECT min(id) FROM ledger_posting WHERE transaction_id = %(t)s)",
           {"t": victim})
    assert_fault("unbalanced", victim)


def test_transaction_deleted(ledger):
    victim = ledger["sealed"][4]
    tamper("DELETE FROM ledger_posting WHERE transaction_id = %(t)s; "
           "DELETE FROM ledger_ledgertransaction WHERE id = %(t)s", {"t": victim})
    assert_fault("deleted", victim)


def test_transaction_inserted_below_the_sealed_horizon(ledger):
    a = Posting.objects.filter(transaction_id=ledger["sealed"][2]).order_by("amount").values_list(
        "account_id", "asset_id")
    (issuance, asset), (holder, _) = a[0], a[1]
    tamper("""WITH t AS (INSERT INTO ledger_ledgertransaction (kind, idempotency_key, request, reference_type,
                             reference_id, memo, hash_version, created_at, xid)
                         SELECT 'deposit', 'forged', '{}', 'bank', 'X', '{}', 1, now(), min(xid)
                           FROM ledger_ledgertransaction RETURNING id)
              INSERT INTO ledger_posting (transaction_id, account_id, asset_id, bucket, amount)
              SELECT t.id, x.account, %(asset)s, 'A', x.amount FROM t,
                     (VALUES (%(issuance)s, -99999999), (%(holder)s, 99999999)) x(account, amount)""",
           {"asset": asset, "issuance": issuance, "holder": holder})
    forged = LedgerTransaction.objects.get(idempotency_key="forged").id
    assert_fault("inserted", forged)


def test_two_transactions_swapped(ledger):
    """Exchange the ids of two sealed transactions (each taking its postings along): their order in the
    journal changes, every row still balances, each content still exists."""
    first, second = ledger["sealed"][2], ledger["sealed"][8]
    tamper("""UPDATE ledger_ledgertransaction SET id = -id WHERE id IN (%(a)s, %(b)s);
              UPDATE ledger_ledgertransaction SET id = CASE id WHEN -%(a)s THEN %(b)s ELSE %(a)s END
               WHERE id IN (-%(a)s, -%(b)s);
              UPDATE ledger_posting SET transaction_id = CASE transaction_id WHEN %(a)s THEN %(b)s ELSE %(a)s END
               WHERE transaction_id IN (%(a)s, %(b)s)""", {"a": first, "b": second})
    assert_fault("reordered", first)


def test_log_order_swapped(ledger):
    """Exchange which transaction two leaves point at."""
    first, second = ledger["sealed"][0], ledger["sealed"][5]
    tamper("""UPDATE ledger_merkleleaf SET transaction_id = CASE transaction_id WHEN %(a)s THEN -%(b)s
                                                                             ELSE -%(a)s END
               WHERE transaction_id IN (%(a)s, %(b)s);
              UPDATE ledger_merkleleaf SET transaction_id = -transaction_id WHERE transaction_id < 0""",
           {"a": first, "b": second})
    assert_fault("reordered", second)


def test_balance_rewritten(ledger):
    tamper("UPDATE ledger_account SET available = available + 1 WHERE id = "
           "(SELECT min(id) FROM ledger_account WHERE kind = 'participant')")
    code, _, err = verify()
    assert code == 1 and "balance_mismatch" in err


def test_checkpoint_root_rewritten(ledger):
    tamper("UPDATE ledger_checkpoint SET root_hash = sha256(root_hash) WHERE tree_size = 6")
    code, _, err = verify()
    assert code == 1 and "checkpoint_signature" in err


def test_sealed_leaf_hash_rewritten_to_match_an_edit(ledger):
    """Editing a transaction and its leaf hash together still breaks the signed root."""
    victim = ledger["sealed"][10]
    tamper("UPDATE ledger_ledgertransaction SET memo = '{\"reason\": \"forged\"}' WHERE id = %(t)s", {"t": victim})
    from ledger.canonical import leaf_hash
    from ledger.sealing import canonical_bytes

    new_hash = leaf_hash(canonical_bytes(victim))
    tamper("UPDATE ledger_merkleleaf SET leaf_hash = %(h)s WHERE transaction_id = %(t)s", {"h": new_hash, "t": victim})
    assert_fault("node_mismatch", victim)


def test_stored_proof_node_rewritten(ledger):
    tamper("UPDATE ledger_merklenode SET hash = sha256(hash) WHERE level = 2 AND index = 1")
    code, _, err = verify()
    assert code == 1 and "node_mismatch" in err and "level 2, index 1" in err


def test_last_checkpoint_deleted_with_its_leaves_is_not_silently_accepted(ledger):
    """Dropping the newest checkpoint but keeping its leaves leaves leaves no checkpoint covers."""
    before = Checkpoint.objects.count()
    tamper("DELETE FROM ledger_checkpoint WHERE tree_size = (SELECT max(tree_size) FROM ledger_checkpoint)")
    assert Checkpoint.objects.count() == before - 1
    code, _, err = verify()
    assert code == 1 and "root_mismatch" in err
