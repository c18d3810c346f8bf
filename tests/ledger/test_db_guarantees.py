"""What PostgreSQL itself refuses, whatever the application does: an unbalanced transaction (at
commit: the zero-sum trigger is deferred), UPDATE/DELETE of journal and postings, a balance written
directly, a participant bucket below zero. Transactional tests, since deferred triggers fire at commit."""
import pytest
from django.db import IntegrityError, connection, transaction

from accounts.actor import Actor
from ledger import services
from ledger.models import Account, Asset, LedgerTransaction, Posting
from ledger.posting import accounts_ensure

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def setup(make_org):
    county = make_org("county_government", "350121")
    ent = make_org("enterprise", "350121")
    asset = services.asset_create(actor=Actor.system(), code="EM-COD-2026-350121", right_type_id="emission",
                                  subtype="COD", unit="t", scale=3, vintage=2026, origin_region_id="350121",
                                  issuer=county)
    posted = services.rights_issue(actor=Actor.system(), issuer=county, asset=asset, recipient=ent, amount=1_000,
                                   idempotency_key="seed")
    ids = accounts_ensure([(None, asset.id, "issuance"), (ent.id, asset.id, "participant")])
    return {"asset": asset, "ent": ent, "txn": posted.transaction_id,
            "issuance": ids[(None, asset.id, "issuance")], "holder": ids[(ent.id, asset.id, "participant")]}


def _insert_transaction(cur, key: str) -> int:
    cur.execute("""INSERT INTO ledger_ledgertransaction (kind, idempotency_key, request, reference_type,
                       reference_id, memo, hash_version) VALUES ('test', %s, '{}', '', '', '{}', 1) RETURNING id""",
                [key])
    return cur.fetchone()[0]


def _insert_posting(cur, txn: int, account: int, asset: int, amount: int, bucket: str = "A") -> None:
    cur.execute("INSERT INTO ledger_posting (transaction_id, account_id, asset_id, bucket, amount) "
                "VALUES (%s, %s, %s, %s, %s)", [txn, account, asset, bucket, amount])


def _snapshot():
    return (LedgerTransaction.objects.count(), Posting.objects.count(),
            sorted(Account.objects.values_list("id", "available", "held")))


def test_unbalanced_transaction_is_refused_at_commit(setup):
    before = _snapshot()
    written = False
    with pytest.raises(IntegrityError, match="does not balance"):
        with transaction.atomic():
            with connection.cursor() as cur:
                txn = _insert_transaction(cur, "unbalanced")
                _insert_posting(cur, txn, setup["issuance"], setup["asset"].id, -10)
                _insert_posting(cur, txn, setup["holder"], setup["asset"].id, 9)
                cur.execute("SELECT available FROM ledger_account WHERE id = %s", [setup["holder"]])
                assert cur.fetchone()[0] == 1_009
            written = True  # nothing has complained yet: the check is deferred to commit
    assert written
    assert _snapshot() == before


def test_balanced_transaction_inserted_in_any_order_commits(setup):
    with transaction.atomic():
        with connection.cursor() as cur:
            txn = _insert_transaction(cur, "balanced")
            _insert_posting(cur, txn, setup["holder"], setup["asset"].id, 10)
            _insert_posting(cur, txn, setup["issuance"], setup["asset"].id, -10)
    assert Account.objects.get(pk=setup["holder"]).available == 1_010


def test_transaction_without_postings_is_refused_at_commit(setup):
    with pytest.raises(IntegrityError, match="has no postings"):
        with transaction.atomic():
            with connection.cursor() as cur:
                _insert_transaction(cur, "empty")


@pytest.mark.parametrize("sql", [
    "UPDATE ledger_ledgertransaction SET kind = 'forged' WHERE id = %(txn)s",
    "DELETE FROM ledger_ledgertransaction WHERE id = %(txn)s",
    "UPDATE ledger_posting SET amount = amount * 2 WHERE transaction_id = %(txn)s",
    "DELETE FROM ledger_posting WHERE transaction_id = %(txn)s",
])
def test_journal_and_postings_are_append_only(setup, sql):
    before = _snapshot()
    with pytest.raises(IntegrityError, match="append-only"):
        with transaction.atomic():
            with connection.cursor() as cur:
                cur.execute(sql, {"txn": setup["txn"]})
    assert _snapshot() == before


@pytest.mark.parametrize("sql", [
    "UPDATE ledger_account SET available = available + 1000 WHERE id = %(acc)s",
    "UPDATE ledger_account SET held = 5 WHERE id = %(acc)s",
])
def test_balances_cannot_be_written_directly(setup, sql):
    before = _snapshot()
    with pytest.raises(IntegrityError, match="only through postings"):
        with transaction.atomic():
            with connection.cursor() as cur:
                cur.execute(sql, {"acc": setup["holder"]})
    assert _snapshot() == before


def test_accounts_open_empty_and_are_never_deleted(setup):
    with pytest.raises(IntegrityError, match="open with zero"):
        with transaction.atomic():
            with connection.cursor() as cur:
                cur.execute("INSERT INTO ledger_account (organization_id, asset_id, kind, available, held, created_at) "
                            "VALUES (%s, %s, 'earmarked', 100, 0, now())", [setup["ent"].id, setup["asset"].id])
    with pytest.raises(IntegrityError, match="append-only"):
        with transaction.atomic():
            with connection.cursor() as cur:
                cur.execute("DELETE FROM ledger_account WHERE id = %s", [setup["holder"]])


@pytest.mark.parametrize("bucket", ["A", "H"])
def test_negative_participant_balance_is_refused_by_check(setup, bucket):
    """A balanced transaction written around the posting service still cannot overdraw a participant."""
    before = _snapshot()
    with pytest.raises(IntegrityError, match="account_non_negative"):
        with transaction.atomic():
            with connection.cursor() as cur:
                txn = _insert_transaction(cur, "overdraw")
                _insert_posting(cur, txn, setup["holder"], setup["asset"].id, -1_001 if bucket == "A" else -1, bucket)
                _insert_posting(cur, txn, setup["issuance"], setup["asset"].id, 1_001 if bucket == "A" else 1)
    assert _snapshot() == before


def test_the_issuance_account_may_go_negative(setup):
    assert Account.objects.get(pk=setup["issuance"]).available == -1_000


def test_posting_asset_must_match_its_account(setup):
    cny = Asset.objects.get(code="CNY")
    with pytest.raises(IntegrityError, match="does not match"):
        with transaction.atomic():
            with connection.cursor() as cur:
                txn = _insert_transaction(cur, "mismatch")
                _insert_posting(cur, txn, setup["holder"], cny.id, 5)
                _insert_posting(cur, txn, setup["issuance"], cny.id, -5)


def test_posting_to_an_unknown_account_is_refused(setup):
    before = _snapshot()
    with pytest.raises(IntegrityError, match="does not match"):
        with transaction.atomic():
            with connection.cursor() as cur:
                txn = _insert_transaction(cur, "ghost")
                _insert_posting(cur, txn, setup["holder"], setup["asset"].id, -5)
                _insert_posting(cur, txn, 10**12, setup["asset"].id, 5)
    assert _snapshot() == before


def test_postings_cannot_join_a_committed_transaction(setup):
    """A balanced pair added later to an old transaction would rewrite history: refused at once."""
    before = _snapshot()
    with pytest.raises(IntegrityError, match="is closed"):
        with transaction.atomic():
            with connection.cursor() as cur:
                _insert_posting(cur, setup["txn"], setup["issuance"], setup["asset"].id, -5)
    assert _snapshot() == before


def test_posting_to_an_unknown_transaction_is_refused(setup):
    with pytest.raises(IntegrityError, match="unknown ledger transaction"):
        with transaction.atomic():
            with connection.cursor() as cur:
                _insert_posting(cur, 10**12, setup["issuance"], setup["asset"].id, -5)
                _insert_posting(cur, 10**12, setup["holder"], setup["asset"].id, 5)


def test_a_transaction_balanced_in_one_asset_but_not_another_is_refused(setup):
    cny = Asset.objects.get(code="CNY")
    cash = accounts_ensure([(None, cny.id, "issuance"), (setup["ent"].id, cny.id, "participant")])
    with pytest.raises(IntegrityError, match="does not balance"):
        with transaction.atomic():
            with connection.cursor() as cur:
                txn = _insert_transaction(cur, "two-assets")
                _insert_posting(cur, txn, setup["issuance"], setup["asset"].id, -5)
                _insert_posting(cur, txn, setup["holder"], setup["asset"].id, 5)
                _insert_posting(cur, txn, cash[(None, cny.id, "issuance")], cny.id, -7)
                _insert_posting(cur, txn, cash[(setup["ent"].id, cny.id, "participant")], cny.id, 6)


def _insert_postings(cur, txn: int, rows: list[tuple[int, int, str, int]]) -> None:
    """Several postings in one INSERT statement (account, asset, bucket, amount)."""
    cur.execute("INSERT INTO ledger_posting (transaction_id, account_id, asset_id, bucket, amount) VALUES "
                + ", ".join(["(%s, %s, %s, %s, %s)"] * len(rows)), [x for r in rows for x in (txn, *r)])


def test_one_statement_applies_the_net_of_its_postings_per_account(setup):
    """Balances are applied per statement: an account's postings in one statement are netted per bucket
    (a debit covered by a credit of the same statement is fine; the net must not overdraw)."""
    asset, holder, issuance = setup["asset"].id, setup["holder"], setup["issuance"]
    with transaction.atomic():
        with connection.cursor() as cur:
            txn = _insert_transaction(cur, "net")
            _insert_postings(cur, txn, [(holder, asset, "A", -1_500), (holder, asset, "A", 700),
                                        (holder, asset, "H", 200), (issuance, asset, "A", 600)])
    assert Account.objects.filter(pk=holder).values_list("available", "held").get() == (200, 200)
    before = _snapshot()
    with pytest.raises(IntegrityError, match="account_non_negative"):
        with transaction.atomic():
            with connection.cursor() as cur:
                txn = _insert_transaction(cur, "net-overdraw")
                _insert_postings(cur, txn, [(holder, asset, "H", -201), (holder, asset, "A", 1),
                                            (issuance, asset, "A", 200)])
    assert _snapshot() == before


@pytest.mark.parametrize("bad", ["bucket", "asset", "account", "closed"])
def test_one_bad_posting_refuses_the_whole_statement(setup, bad):
    asset, holder, issuance = setup["asset"].id, setup["holder"], setup["issuance"]
    cny = Asset.objects.get(code="CNY").id
    before = _snapshot()
    message = {"bucket": "unknown bucket|posting_bucket", "asset": "does not match", "account": "does not match",
               "closed": "is closed"}[bad]
    with pytest.raises(IntegrityError, match=message):
        with transaction.atomic():
            with connection.cursor() as cur:
                txn = setup["txn"] if bad == "closed" else _insert_transaction(cur, f"bad-{bad}")
                rows = [(issuance, asset, "A", -5), (holder, asset, "A", 3), (holder, asset, "A", 2)]
                rows[2] = {"bucket": (holder, asset, "X", 2), "asset": (holder, cny, "A", 2),
                           "account": (10**12, asset, "A", 2), "closed": rows[2]}[bad]
                _insert_postings(cur, txn, rows)
    assert _snapshot() == before
