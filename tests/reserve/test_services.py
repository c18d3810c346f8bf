"""The reserve through its services: four-eyes designation, buy-back notices paid from their escrow
(exactly, never more), releases through listings with the guided floor, and the ledger staying whole."""
from __future__ import annotations

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.actor import Actor
from accounts.models import AuditEvent
from core.errors import DomainError
from core.money import ceil_div
from ledger.models import Account
from reserve import services
from reserve.models import Designation
from trading.listings.services import listing_buy
from trading.models import Listing

from .conftest import UNIT, YUAN, actor_of

pytestmark = pytest.mark.django_db


def _bal(org, asset):
    acc = Account.objects.filter(organization=org, asset=asset, kind="participant").first()
    return (acc.available, acc.held) if acc else (0, 0)


def _cash(org):
    acc = Account.objects.filter(organization=org, asset__code="CNY", kind="participant").first()
    return (acc.available, acc.held) if acc else (0, 0)


def test_designation_needs_a_second_person_and_a_government(rworld, make_org, make_member):
    w = rworld
    p = services.designation_propose(actor=actor_of(w.op_admin), right_type_id="emission",
                                     organization_id=w.city.id)
    with pytest.raises(DomainError) as e:
        services.designation_decide(actor=actor_of(w.op_admin), designation_id=p.id, confirm=True)
    assert e.value.code == "four_eyes_required"
    assert AuditEvent.objects.filter(action="reserve.designation_refused", object_id=str(p.id)).exists()
    enterprise = make_org("enterprise", "350102")
    with pytest.raises(DomainError) as e:
        services.designation_propose(actor=actor_of(w.op_admin), right_type_id="emission",
                                     organization_id=enterprise.id)
    assert e.value.code == "invalid_reserve_body"
    # a confirmed new designation supersedes the active one: one active per right type
    services.designation_decide(actor=actor_of(w.op_approver), designation_id=p.id, confirm=True)
    assert list(Designation.objects.filter(right_type_id="emission", status="active")) == [p]
    assert Designation.objects.get(pk=w.designation.pk).status == "superseded"


def test_buyback_pays_holders_from_the_escrow_and_releases_the_rest(rworld):
    w = rworld
    body = actor_of(w.city_admin)
    cash0 = _cash(w.city)
    notice = services.notice_open(actor=body, body=w.city, asset_id=w.asset.id, price=120 * YUAN,
                                  quantity=30 * UNIT)
    assert notice.held == 3600 * YUAN and _cash(w.city) == (cash0[0] - 3600 * YUAN, 3600 * YUAN)
    t = services.tender(actor=Actor.system(), holder=w.holders[0], notice_id=notice.id, quantity=10 * UNIT)
    assert t.value == 1200 * YUAN
    assert _bal(w.holders[0], w.asset) == (40 * UNIT, 0)
    assert _bal(w.city, w.asset) == (10 * UNIT, 0)
    assert _cash(w.holders[0]) == (1200 * YUAN, 0)
    with pytest.raises(DomainError) as e:
        services.tender(actor=Actor.system(), holder=w.holders[1], notice_id=notice.id, quantity=25 * UNIT)
    assert e.value.code == "tender_exceeds_remaining"
    with pytest.raises(DomainError) as e:
        services.tender(actor=Actor.system(), holder=w.city, notice_id=notice.id, quantity=UNIT)
    assert e.value.code == "own_buyback"
    closed = services.notice_close(actor=body, organization=w.city, notice_id=notice.id)
    assert closed.status == "closed" and closed.release_transaction_id
    assert _cash(w.city) == (cash0[0] - 1200 * YUAN, 0)
    with pytest.raises(DomainError) as e:
        services.tender(actor=Actor.system(), holder=w.holders[1], notice_id=notice.id, quantity=UNIT)
    assert e.value.code == "buyback_not_open"


def test_only_the_designated_body_buys_back_and_releases(rworld, make_org):
    w = rworld
    other = make_org("county_government", "350121")
    with pytest.raises(DomainError) as e:
        services.notice_open(actor=Actor.system(), body=other, asset_id=w.asset.id, price=YUAN, quantity=UNIT)
    assert e.value.code == "not_reserve_body"
    with pytest.raises(DomainError) as e:
        services.release(actor=Actor.system(), body=other, asset_id=w.asset.id, kind="fixed_price", quantity=UNIT,
                         price=200 * YUAN)
    assert e.value.code == "not_reserve_body"


PROVENANCE = {"reduction_measure": "收储投放", "discharge_permit_no": "RES-001"}


def test_release_respects_the_floor_and_goes_through_a_listing(rworld):
    w = rworld
    services.tender(actor=Actor.system(), holder=w.holders[0], notice_id=services.notice_open(
        actor=actor_of(w.city_admin), body=w.city, asset_id=w.asset.id, price=90 * YUAN, quantity=10 * UNIT).id,
        quantity=10 * UNIT)
    with pytest.raises(DomainError) as e:
        services.release(actor=actor_of(w.city_admin), body=w.city, asset_id=w.asset.id, kind="fixed_price",
                         quantity=5 * UNIT, price=99 * YUAN, provenance=PROVENANCE)
    assert e.value.code == "reserve_below_floor"
    assert AuditEvent.objects.filter(action="reserve.release_refused").exists()
    with pytest.raises(DomainError) as e:
        services.release(actor=actor_of(w.city_admin), body=w.city, asset_id=w.asset.id, kind="english",
                         quantity=5 * UNIT, reserve_price=50 * YUAN, provenance=PROVENANCE)
    assert e.value.code == "reserve_below_floor"
    assert not Listing.objects.filter(seller=w.city).exists()
    r = services.release(actor=actor_of(w.city_admin), body=w.city, asset_id=w.asset.id, kind="fixed_price",
                         quantity=5 * UNIT, price=100 * YUAN, divisible=True, provenance=PROVENANCE)
    assert r.floor_price == 100 * YUAN
    listing = Listing.objects.get(pk=r.listing_id)
    assert (listing.seller_id, listing.price, listing.remaining) == (w.city.id, 100 * YUAN, 5 * UNIT)
    assert _bal(w.city, w.asset) == (5 * UNIT, 5 * UNIT)  # the listing escrows the released rights
    buyer = w.holders[1]
    from ledger.services import cash_deposit
    cash_deposit(actor=Actor.system(), organization=buyer, amount=10_000 * YUAN, bank_reference="b",
                 idempotency_key="b")
    listing_buy(actor=Actor.system(), buyer=buyer, listing_id=listing.id, quantity=2 * UNIT)
    assert Listing.objects.get(pk=listing.id).remaining == 3 * UNIT


def test_the_reserve_body_cannot_list_below_the_floor_directly(rworld):
    """The floor holds whichever way the body sells: `listing_create` asks the layers above
    (`listing_checking`), and the reserve refuses its own body's listing below the floor."""
    from datetime import timedelta

    from django.utils import timezone

    from trading.listings.services import listing_create

    w = rworld
    services.tender(actor=Actor.system(), holder=w.holders[0], notice_id=services.notice_open(
        actor=actor_of(w.city_admin), body=w.city, asset_id=w.asset.id, price=90 * YUAN, quantity=10 * UNIT).id,
        quantity=10 * UNIT)
    for kind, terms in (("fixed_price", {"price": 99 * YUAN}),
                        ("english", {"reserve_price": 50 * YUAN, "min_increment": YUAN,
                                     "end_at": timezone.now() + timedelta(days=2)})):
        with pytest.raises(DomainError) as e:
            listing_create(actor=actor_of(w.city_admin), seller=w.city, kind=kind, asset_id=w.asset.id,
                           quantity=5 * UNIT, provenance=PROVENANCE, **terms)
        assert e.value.code == "reserve_below_floor", kind
    assert not Listing.objects.filter(seller=w.city).exists()
    assert _bal(w.city, w.asset) == (10 * UNIT, 0)  # nothing held for a refused listing
    listing = listing_create(actor=actor_of(w.city_admin), seller=w.city, kind="fixed_price", asset_id=w.asset.id,
                             quantity=5 * UNIT, price=100 * YUAN, provenance=PROVENANCE)
    assert listing.price == 100 * YUAN
    # another seller of the same right type is not bound by the reserve's floor
    other = listing_create(actor=Actor.system(), seller=w.holders[1], kind="fixed_price", asset_id=w.asset.id,
                           quantity=1 * UNIT, price=99 * YUAN, provenance=PROVENANCE)
    assert other.price == 99 * YUAN


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(price=st.integers(1, 100_000), quantity=st.integers(1, 50_000),
       tenders=st.lists(st.integers(1, 20_000), min_size=1, max_size=6), close=st.booleans())
def test_tenders_are_paid_exactly_from_the_escrow(rworld, price, quantity, tenders, close):
    w = rworld
    with transaction.atomic():
        total_cash = Account.objects.filter(asset__code="CNY").exclude(kind="issuance").aggregate(
            s=Sum("available") + Sum("held"))["s"]
        notice = services.notice_open(actor=Actor.system(), body=w.city, asset_id=w.asset.id, price=price,
                                      quantity=quantity)
        delivered = 0
        for i, q in enumerate(tenders):
            holder = w.holders[i % 2]
            try:
                services.tender(actor=Actor.system(), holder=holder, notice_id=notice.id, quantity=q)
                delivered += q
            except DomainError as exc:
                assert exc.code in ("tender_exceeds_remaining", "buyback_not_open", "insufficient_balance")
        notice.refresh_from_db()
        assert notice.paid == ceil_div(price * delivered, UNIT)  # exactly the value delivered, rounded once
        assert notice.paid <= notice.held
        if close and notice.status == "open":
            services.notice_close(actor=Actor.system(), organization=w.city, notice_id=notice.id)
            notice.refresh_from_db()
        if notice.status == "closed":
            assert _cash(w.city)[1] == 0, "a closed notice leaves nothing held"
        else:
            assert _cash(w.city)[1] == notice.held - notice.paid
        assert Account.objects.filter(asset__code="CNY").exclude(kind="issuance").aggregate(
            s=Sum("available") + Sum("held"))["s"] == total_cash
        transaction.set_rollback(True)
