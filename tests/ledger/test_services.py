"""Ledger services: each use case, its refusals (stable codes, ledger unchanged), idempotency, issuer
jurisdiction, and what expired rights may and may not do."""
from datetime import date
from types import SimpleNamespace

import pytest
from django.db import transaction

from accounts.actor import Actor
from core.errors import ApiError
from ledger import services
from ledger.models import Account, Asset, LedgerTransaction, Posting

pytestmark = pytest.mark.django_db


def balance(org, asset, kind="participant"):
    acc = Account.objects.filter(organization=org, asset=asset, kind=kind).first()
    return (acc.available, acc.held) if acc else (0, 0)


def system_balance(asset, kind):
    acc = Account.objects.filter(organization=None, asset=asset, kind=kind).first()
    return acc.available if acc else 0


def ledger_state():
    return (LedgerTransaction.objects.count(), Posting.objects.count(),
            sorted(Account.objects.values_list("id", "available", "held")))


def refused(expected, fn, **kwargs):
    """Call a service expecting ApiError `expected`; assert the ledger did not change."""
    before = ledger_state()
    with pytest.raises(ApiError) as info:
        fn(**kwargs)
    assert info.value.code == expected, (info.value.code, info.value.fields)
    assert ledger_state() == before
    return info.value


@pytest.fixture
def world(make_org):
    w = SimpleNamespace()
    w.county = make_org("county_government", "350121", name="闽侯县人民政府")
    w.other_county = make_org("county_government", "350181", name="福清市人民政府")
    w.city = make_org("city_government", "350100")
    w.province = make_org("provincial_authority", "350000")
    w.ent = make_org("enterprise", "350121")
    w.ent2 = make_org("enterprise", "350205")
    w.actor = Actor.system()
    w.cny = Asset.objects.get(code="CNY")
    w.so2 = services.asset_create(actor=w.actor, code="EM-SO2-2026-350121", right_type_id="emission", subtype="SO2",
                                  unit="t", scale=3, vintage=2026, origin_region_id="350121", issuer=w.county,
                                  valid_from=date(2026, 1, 1), valid_to=date(2030, 12, 31))
    w.farm = services.asset_create(actor=w.actor, code="FL-QTY-2026-350121", right_type_id="farmland",
                                   subtype="quantity", unit="mu", scale=2, vintage=2026, origin_region_id="350121",
                                   issuer=w.county)
    return w


def issue(w, amount=100_000, key="i1", recipient=None, asset=None, issuer=None):
    return services.rights_issue(actor=w.actor, issuer=issuer or w.county, asset=asset or w.so2,
                                 recipient=recipient or w.ent, amount=amount, idempotency_key=key)


def expire_everything(monkeypatch):
    """Move the services' notion of today past every validity window."""
    monkeypatch.setattr(services, "today", lambda: date(2031, 1, 1))


# --- instruments -------------------------------------------------------------------------------------

def test_asset_create_checks_issuer_type_basin_and_code(world):
    w = world
    kwargs = dict(actor=w.actor, code="EM-NOX-2026-350121", right_type_id="emission", subtype="NOx", unit="t",
                  scale=3, vintage=2026, origin_region_id="350121", issuer=w.county)
    refused("unknown_right_type", services.asset_create, **{**kwargs, "right_type_id": "unicorn"})
    refused("not_an_issuer", services.asset_create, **{**kwargs, "issuer": w.ent})
    refused("issuer_out_of_jurisdiction", services.asset_create, **{**kwargs, "issuer": w.other_county})
    refused("basin_required", services.asset_create, **{**kwargs, "code": "W-2026", "right_type_id": "water",
                                                         "unit": "m3", "scale": 0})
    refused("asset_exists", services.asset_create, **{**kwargs, "code": w.so2.code})
    # a city covers its counties, the province everything in it
    assert services.asset_create(**{**kwargs, "issuer": w.city}).origin_region_id == "350121"
    water = services.asset_create(**{**kwargs, "code": "W-MJ-2026", "right_type_id": "water", "unit": "",
                                     "scale": 0, "basin_id": "minjiang", "issuer": w.province})
    assert water.unit == "m3"  # the right type's default unit


# --- issuance ----------------------------------------------------------------------------------------

def test_issue_moves_from_issuance_to_recipient(world):
    w = world
    posted = issue(w, 123_456)
    assert not posted.replayed
    assert balance(w.ent, w.so2) == (123_456, 0)
    assert system_balance(w.so2, "issuance") == -123_456
    txn = LedgerTransaction.objects.get(pk=posted.transaction_id)
    assert txn.kind == "issue" and txn.memo["issuer"] == w.county.id


@pytest.mark.parametrize("amount", [0, -5, 1.5, "10", True])
def test_issue_refuses_non_positive_or_non_integer_amounts(world, amount):
    refused("invalid_amount", issue, w=world, amount=amount)


def test_issue_refusals(world):
    w = world
    refused("not_a_right", issue, w=w, asset=w.cny)
    refused("issuer_out_of_jurisdiction", issue, w=w, issuer=w.other_county)
    refused("not_an_issuer", issue, w=w, issuer=w.ent)
    err = refused("evidence_required", issue, w=w, asset=w.farm)
    assert set(err.fields) == {"project_id", "area_mu", "acceptance_document"}
    posted = services.rights_issue(actor=w.actor, issuer=w.county, asset=w.farm, recipient=w.county, amount=5000,
                                   idempotency_key="f1", evidence={"project_id": "MH-2025-07", "area_mu": "50",
                                                                   "acceptance_document": "闽侯自然资验〔2025〕12号"})
    assert LedgerTransaction.objects.get(pk=posted.transaction_id).memo["evidence"]["project_id"] == "MH-2025-07"


def test_issue_of_expired_rights_is_refused(world, monkeypatch):
    expire_everything(monkeypatch)
    refused("asset_expired", issue, w=world)


# --- cash --------------------------------------------------------------------------------------------

def test_deposit_and_withdraw(world):
    w = world
    services.cash_deposit(actor=w.actor, organization=w.ent, amount=500_000_000, bank_reference="ICBC-1",
                          idempotency_key="d1")
    services.cash_withdraw(actor=w.actor, organization=w.ent, amount=100_000_000, bank_reference="ICBC-2",
                           idempotency_key="w1")
    assert balance(w.ent, w.cny) == (400_000_000, 0)
    assert system_balance(w.cny, "issuance") == -400_000_000
    refused("insufficient_balance", services.cash_withdraw, actor=w.actor, organization=w.ent,
            amount=400_000_001, bank_reference="ICBC-3", idempotency_key="w2")
    refused("invalid_amount", services.cash_deposit, actor=w.actor, organization=w.ent, amount=0,
            bank_reference="x", idempotency_key="d2")


# --- holds -------------------------------------------------------------------------------------------

def test_hold_and_release(world):
    w = world
    issue(w, 10_000)
    services.hold_create(actor=w.actor, organization=w.ent, asset=w.so2, amount=4_000, idempotency_key="h1")
    assert balance(w.ent, w.so2) == (6_000, 4_000)
    refused("insufficient_balance", services.hold_create, actor=w.actor, organization=w.ent, asset=w.so2,
            amount=6_001, idempotency_key="h2")
    refused("insufficient_held", services.hold_cancel, actor=w.actor, organization=w.ent, asset=w.so2,
            amount=4_001, idempotency_key="r1")
    services.hold_cancel(actor=w.actor, organization=w.ent, asset=w.so2, amount=4_000, idempotency_key="r1")
    assert balance(w.ent, w.so2) == (10_000, 0)


def test_hold_place_inside_a_caller_transaction_can_recover_from_a_shortfall(world):
    """trading places holds inside its own transaction and must be able to carry on after a refusal."""
    w = world
    issue(w, 1_000)
    with transaction.atomic():
        with pytest.raises(ApiError):
            services.hold_place(actor=w.actor, organization_id=w.ent.id, asset=w.so2, amount=2_000,
                                reference=("order", 1), idempotency_key="o1")
        services.hold_place(actor=w.actor, organization_id=w.ent.id, asset=w.so2, amount=1_000,
                            reference=("order", 1), idempotency_key="o1b")
    assert balance(w.ent, w.so2) == (0, 1_000)


# --- transfers, retirement, expiry ------------------------------------------------------------------

def test_transfer(world):
    w = world
    issue(w, 10_000)
    services.rights_transfer(actor=w.actor, asset=w.so2, sender=w.ent, recipient=w.ent2, amount=2_500,
                             idempotency_key="t1", reason="court order")
    assert balance(w.ent, w.so2) == (7_500, 0) and balance(w.ent2, w.so2) == (2_500, 0)
    refused("insufficient_balance", services.rights_transfer, actor=w.actor, asset=w.so2, sender=w.ent2,
            recipient=w.ent, amount=2_501, idempotency_key="t2")
    refused("same_organization", services.rights_transfer, actor=w.actor, asset=w.so2, sender=w.ent,
            recipient=w.ent, amount=1, idempotency_key="t3")


def test_refused_transfer_to_a_new_recipient_leaves_no_stale_account(world, make_org):
    """Accounts opened by a transaction that rolls back must not be remembered (the per-process cache)."""
    w = world
    newcomer = make_org("enterprise", "350102")
    refused("insufficient_balance", services.rights_transfer, actor=w.actor, asset=w.so2, sender=w.ent,
            recipient=newcomer, amount=1, idempotency_key="t-new")
    issue(w, 100)
    services.rights_transfer(actor=w.actor, asset=w.so2, sender=w.ent, recipient=newcomer, amount=100,
                             idempotency_key="t-new2")
    assert balance(newcomer, w.so2) == (100, 0)


def test_retire(world):
    w = world
    issue(w, 10_000)
    services.rights_retire(actor=w.actor, asset=w.so2, organization=w.ent, amount=3_000, reason="2026 compliance",
                           compliance_period="2026", idempotency_key="rt1")
    assert balance(w.ent, w.so2) == (7_000, 0)
    assert system_balance(w.so2, "retirement") == 3_000
    refused("insufficient_balance", services.rights_retire, actor=w.actor, asset=w.so2, organization=w.ent,
            amount=7_001, reason="x", compliance_period="2026", idempotency_key="rt2")
    refused("not_a_right", services.rights_retire, actor=w.actor, asset=w.cny, organization=w.ent, amount=1,
            reason="x", compliance_period="2026", idempotency_key="rt3")


def test_expired_rights_cannot_be_held_or_transferred_but_can_be_retired_and_expired(world, monkeypatch):
    w = world
    issue(w, 10_000)
    services.hold_create(actor=w.actor, organization=w.ent, asset=w.so2, amount=1_000, idempotency_key="h-before")
    refused("asset_not_expired", services.rights_expire, actor=w.actor, issuer=w.county, asset=w.so2,
            organization=w.ent, idempotency_key="e0")
    expire_everything(monkeypatch)
    refused("asset_expired", services.hold_create, actor=w.actor, organization=w.ent, asset=w.so2, amount=1,
            idempotency_key="h1")
    refused("asset_expired", services.rights_transfer, actor=w.actor, asset=w.so2, sender=w.ent, recipient=w.ent2,
            amount=1, idempotency_key="t1")
    # a hold placed before expiry can still be released
    services.hold_cancel(actor=w.actor, organization=w.ent, asset=w.so2, amount=1_000, idempotency_key="r-after")
    services.rights_retire(actor=w.actor, asset=w.so2, organization=w.ent, amount=4_000, reason="late surrender",
                           compliance_period="2030", idempotency_key="rt1")
    refused("issuer_out_of_jurisdiction", services.rights_expire, actor=w.actor, issuer=w.other_county,
            asset=w.so2, organization=w.ent, idempotency_key="e1")
    posted = services.rights_expire(actor=w.actor, issuer=w.county, asset=w.so2, organization=w.ent,
                                    idempotency_key="e1")
    assert balance(w.ent, w.so2) == (0, 0)
    assert system_balance(w.so2, "expiry") == 6_000
    assert LedgerTransaction.objects.get(pk=posted.transaction_id).memo["amount"] == 6_000
    # replay after the balance is gone: the original transaction, not "nothing to expire"
    again = services.rights_expire(actor=w.actor, issuer=w.county, asset=w.so2, organization=w.ent,
                                   idempotency_key="e1")
    assert again.replayed and again.transaction_id == posted.transaction_id
    assert services.rights_expire(actor=w.actor, issuer=w.county, asset=w.so2, organization=w.ent,
                                  idempotency_key="e2") is None


# --- idempotency -------------------------------------------------------------------------------------

def test_same_key_same_payload_returns_the_original_transaction(world):
    w = world
    first = issue(w, 5_000, key="same")
    state = ledger_state()
    again = issue(w, 5_000, key="same")
    assert again.replayed and again.transaction_id == first.transaction_id
    assert ledger_state() == state


@pytest.mark.parametrize("change, field", [
    ({"amount": 5_001}, "amount"),
    ({"recipient": "ent2"}, "recipient"),
    ({"issuer": "city"}, "issuer"),
])
def test_same_key_other_payload_is_a_conflict_naming_the_field(world, change, field):
    w = world
    issue(w, 5_000, key="k")
    change = {k: getattr(w, v) if isinstance(v, str) else v for k, v in change.items()}
    err = refused("idempotency_conflict", issue, w=w, key="k", **{"amount": 5_000, **change})
    assert err.status_code == 409 and err.params["field"] == field
    assert field in err.message


def test_conflict_is_reported_even_when_the_new_payload_could_not_be_posted(world):
    """A shortfall must not hide that the key was already used for something else."""
    w = world
    issue(w, 100)
    services.rights_transfer(actor=w.actor, asset=w.so2, sender=w.ent, recipient=w.ent2, amount=100,
                             idempotency_key="t")
    err = refused("idempotency_conflict", services.rights_transfer, actor=w.actor, asset=w.so2, sender=w.ent,
                  recipient=w.ent2, amount=50, idempotency_key="t")
    assert err.params["field"] == "amount"


def test_keys_are_namespaced_by_the_acting_organization(world):
    w = world
    a = services.cash_deposit(actor=Actor(user_id=None, organization_id=w.county.id), organization=w.ent,
                              amount=100, bank_reference="B1", idempotency_key="dup")
    b = services.cash_deposit(actor=Actor(user_id=None, organization_id=w.city.id), organization=w.ent2,
                              amount=200, bank_reference="B2", idempotency_key="dup")
    assert a.transaction_id != b.transaction_id and not b.replayed


def test_every_service_is_exactly_one_transaction_with_balanced_postings(world):
    w = world
    before = LedgerTransaction.objects.count()
    issue(w, 10_000)
    services.cash_deposit(actor=w.actor, organization=w.ent, amount=10, bank_reference="b", idempotency_key="d")
    services.hold_create(actor=w.actor, organization=w.ent, asset=w.so2, amount=10, idempotency_key="h")
    services.hold_cancel(actor=w.actor, organization=w.ent, asset=w.so2, amount=10, idempotency_key="r")
    services.rights_transfer(actor=w.actor, asset=w.so2, sender=w.ent, recipient=w.ent2, amount=10,
                             idempotency_key="t")
    services.rights_retire(actor=w.actor, asset=w.so2, organization=w.ent2, amount=10, reason="r",
                           compliance_period="2026", idempotency_key="rt")
    services.cash_withdraw(actor=w.actor, organization=w.ent, amount=10, bank_reference="b2", idempotency_key="w")
    assert LedgerTransaction.objects.count() == before + 7
    for txn in LedgerTransaction.objects.all():
        sums = {}
        for p in txn.postings.all():
            sums[p.asset_id] = sums.get(p.asset_id, 0) + p.amount
        assert txn.postings.exists() and set(sums.values()) == {0}, txn.kind

