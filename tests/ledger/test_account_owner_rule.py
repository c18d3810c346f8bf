"""The `account_owner` rule (an account has an organization unless it is an issuance, retirement or expiry
account) is enforced by the account triggers since migration 0013 (it was a CHECK constraint, re-evaluated
on every balance update): the same refusals, with the same constraint name, on insert and on any update
of kind or organization; balance updates through postings are untouched."""
import pytest
from django.db import IntegrityError, connection, transaction

from accounts.actor import Actor
from ledger import services
from ledger.models import Account
from ledger.posting import AVAILABLE, Leg, accounts_ensure, post

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def asset(make_org):
    county = make_org("county_government", "350121")
    return services.asset_create(actor=Actor.system(), code="EM-COD-2026-350121", right_type_id="emission",
                                 subtype="COD", unit="t", scale=3, vintage=2026, origin_region_id="350121",
                                 issuer=county)


def _insert(asset_id: int, organization_id, kind: str) -> None:
    with connection.cursor() as cur:
        cur.execute("INSERT INTO ledger_account (organization_id, asset_id, kind, shard, available, held, created_at) "
                    "VALUES (%s, %s, %s, 0, 0, 0, now())", [organization_id, asset_id, kind])


@pytest.mark.parametrize("kind", ["participant", "earmarked", "fee_income"])
def test_an_account_of_a_kind_that_needs_an_owner_cannot_open_without_one(asset, kind):
    with pytest.raises(IntegrityError, match="account_owner") as err:
        with transaction.atomic():
            _insert(asset.id, None, kind)
    assert err.value.__cause__.diag.constraint_name == "account_owner"
    assert err.value.__cause__.pgcode == "23514"  # check_violation, as the CHECK raised
    assert not Account.objects.filter(asset=asset, organization__isnull=True, kind=kind).exists()


@pytest.mark.parametrize("kind", ["issuance", "retirement", "expiry"])
def test_issuance_retirement_and_expiry_accounts_open_without_an_owner(asset, kind):
    with transaction.atomic():
        _insert(asset.id, None, kind)
    assert Account.objects.filter(asset=asset, organization__isnull=True, kind=kind).count() == 1


def test_an_update_cannot_take_the_owner_away_or_turn_an_ownerless_account_into_a_participant(asset, make_org):
    org = make_org("enterprise", "350121")
    ids = accounts_ensure([(org.id, asset.id, "participant"), (None, asset.id, "retirement")])
    holder, retirement = ids[(org.id, asset.id, "participant")], ids[(None, asset.id, "retirement")]
    for statement, account_id in (("UPDATE ledger_account SET organization_id = NULL WHERE id = %s", holder),
                                  ("UPDATE ledger_account SET kind = 'participant' WHERE id = %s", retirement)):
        with pytest.raises(IntegrityError, match="account_owner"):
            with transaction.atomic(), connection.cursor() as cur:
                cur.execute(statement, [account_id])
    assert Account.objects.get(id=holder).organization_id == org.id
    assert Account.objects.get(id=retirement).kind == "retirement"
    with transaction.atomic(), connection.cursor() as cur:  # a change that keeps the rule is not refused
        cur.execute("UPDATE ledger_account SET kind = 'expiry' WHERE id = %s", [retirement])
    assert Account.objects.get(id=retirement).kind == "expiry"


def test_postings_still_move_balances_and_a_shortfall_is_still_the_balance_check(asset, make_org):
    org, other = make_org("enterprise", "350121"), make_org("enterprise", "350121")
    ids = accounts_ensure([(None, asset.id, "issuance"), (org.id, asset.id, "participant"),
                           (other.id, asset.id, "participant")])
    issuance, holder, payee = (ids[(None, asset.id, "issuance")], ids[(org.id, asset.id, "participant")],
                               ids[(other.id, asset.id, "participant")])
    with transaction.atomic():
        post(kind="test", idempotency_key="issue", request={}, actor=Actor.system(),
             legs=[Leg(issuance, AVAILABLE, -50), Leg(holder, AVAILABLE, 50)])
    assert Account.objects.get(id=holder).available == 50
    with pytest.raises(IntegrityError, match="account_non_negative"):  # written around post()'s own check
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute("""WITH j AS (INSERT INTO ledger_ledgertransaction (kind, idempotency_key, request,
                                        reference_type, reference_id, memo, hash_version)
                                      VALUES ('test', 'over', '{}', '', '', '{}', 1) RETURNING id)
                           INSERT INTO ledger_posting (transaction_id, account_id, asset_id, bucket, amount)
                           SELECT j.id, l.account, %s, 'A', l.amount
                             FROM j, (VALUES (%s, -60), (%s, 60)) l(account, amount)""",
                        [asset.id, holder, payee])
    assert Account.objects.get(id=holder).available == 50
