"""Each rule kind allows the compliant case and refuses the other with its code — before the trade (the
order is refused) and at settlement (the rulebook changes between match and settlement: the trade
fails with its holds released, or goes to approval)."""
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.actor import Actor
from marketplace.models import DischargePermit, NonAttainmentFlag
from trading.models import Trade
from trading.settlement.services import trade_settle

from tests.support.ledger import balances
from tests.support.rules import YUAN, cny, install, refused

T = 1000  # one tonne in minor units (scale 3)
CASH = 10_000_000 * YUAN


def settles_or_fails(world, market, seller, buyer, price, quantity, *, rules, expect, issued):
    """Match under the rulebook in force, then install `rules` effective now and settle."""
    r = world.cross(seller, buyer, market, price, quantity)
    trade = r.trades[0]
    assert trade.status == "matched"
    install(*rules, at_now=True)
    status = trade_settle(trade_id=trade.id)
    trade.refresh_from_db()
    if expect == "pending_approval":
        assert status == trade.status == "pending_approval"
        return trade
    assert status == trade.status == "failed"
    assert trade.failure_reason == expect
    assert balances(buyer, cny()) == (CASH, 0)
    assert balances(seller, market.asset) == (issued, 0)
    return trade


def water_market(world, basin="minjiang"):
    return world.market(right_type="water", subtype="surface", unit="m3", scale=0, region="350121", basin=basin)


# --- basin ---------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_basin_before_trade(world):
    install(("basin", {}))
    m = water_market(world)
    seller = world.enterprise("350121")
    world.issue(m, seller, 100_000)
    inside = world.enterprise("350102")  # Gulou: Min River
    outside = world.enterprise("350203")  # Siming: Jiulong River
    assert world.cross(seller, inside, m, 93, 1000).trades[0].status == "matched"
    err = refused("W-BASIN-001", world.place, outside, m, "buy", 93, 1000)
    assert err.status_code == 422
    assert "jiulongjiang" in err.message


@pytest.mark.django_db
def test_basin_inter_basin_transfer_allowed_or_needing_approval(world):
    m = water_market(world)
    seller = world.enterprise("350121")
    world.issue(m, seller, 100_000)
    outside = world.enterprise("350203")
    install(("basin", {}), ("inter_basin_transfer", {"from_basin": "minjiang", "to_basin": "jiulongjiang",
                                                    "needs_approval": False}))
    assert world.cross(seller, outside, m, 93, 1000).trades[0].status == "matched"
    install(("basin", {}), ("inter_basin_transfer", {"from_basin": "minjiang", "to_basin": "jiulongjiang",
                                                    "approver": "350000"}), at_now=True)
    trade = world.cross(seller, outside, m, 93, 1000).trades[0]
    assert trade.status == "pending_approval"
    # the other direction is not allowed by that transfer
    m2 = water_market(world, basin="jiulongjiang")
    refused("W-BASIN-001", world.place, world.enterprise("350102"), m2, "buy", 93, 1000)


@pytest.mark.django_db
def test_basin_at_settlement(world):
    m = water_market(world)
    seller = world.enterprise("350121")
    world.issue(m, seller, 100_000)
    outside = world.enterprise("350203")
    settles_or_fails(world, m, seller, outside, 93, 1000, rules=[("basin", {})], expect="W-BASIN-001",
                     issued=100_000)


# --- non-attainment inflow --------------------------------------------------------------------------------

def flag(region, pollutant="SO2", days=30):
    today = timezone.localdate()
    return NonAttainmentFlag.objects.create(region_id=region, pollutant=pollutant,
                                            period_start=today - timedelta(days=days),
                                            period_end=today + timedelta(days=days))


@pytest.mark.django_db
def test_non_attainment_before_trade(world):
    install(("non_attainment_inflow", {}))
    flag("350200")  # Xiamen misses its SO2 target
    m = world.market(subtype="SO2", region="350121")
    seller = world.enterprise("350121")
    world.issue(m, seller, 100 * T)
    xiamen_buyer = world.enterprise("350203")
    fuzhou_buyer = world.enterprise("350102")
    refused("E-NATT-001", world.place, xiamen_buyer, m, "buy", 2_850_000, T)
    assert world.cross(seller, fuzhou_buyer, m, 2_850_000, T).trades[0].status == "matched"
    # another pollutant is not flagged there
    nox = world.market(subtype="NOx", region="350121")
    world.issue(nox, seller, 10 * T)
    assert world.cross(seller, xiamen_buyer, nox, 3_425_000, T).trades[0].status == "matched"
    # an expired flag no longer applies
    today = timezone.localdate()
    NonAttainmentFlag.objects.create(region_id="350100", pollutant="NOx", period_start=today - timedelta(days=400),
                                     period_end=today - timedelta(days=30))
    assert world.cross(seller, fuzhou_buyer, nox, 3_425_000, T).trades[0].status == "matched"


@pytest.mark.django_db
def test_non_attainment_allows_rights_from_inside_the_flagged_region(world):
    install(("non_attainment_inflow", {}))
    flag("350100")  # all of Fuzhou
    m = world.market(subtype="SO2", region="350121")  # originating in Minhou, inside Fuzhou
    seller = world.enterprise("350121")
    world.issue(m, seller, 10 * T)
    assert world.cross(seller, world.enterprise("350102"), m, 2_850_000, T).trades[0].status == "matched"
    outside = world.market(subtype="SO2", region="350203")  # from Xiamen into Fuzhou: inflow
    xm_seller = world.enterprise("350203")
    world.issue(outside, xm_seller, 10 * T)
    refused("E-NATT-001", world.place, world.enterprise("350102"), outside, "buy", 2_850_000, T)


@pytest.mark.django_db
def test_non_attainment_at_settlement(world):
    m = world.market(subtype="SO2", region="350121")
    seller = world.enterprise("350121")
    world.issue(m, seller, 10 * T)
    buyer = world.enterprise("350203")
    flag("350200")
    settles_or_fails(world, m, seller, buyer, 2_850_000, T, rules=[("non_attainment_inflow", {})],
                     expect="E-NATT-001", issued=10 * T)


# --- scope -----------------------------------------------------------------------------------------------

SCOPE = ("scope", {"right_types": ["emission"], "subtypes": ["NOx"], "city": "approve", "zone": "deny"})


@pytest.mark.django_db
def test_scope_before_trade(world):
    install(SCOPE)
    m = world.market(subtype="NOx", region="350121")  # Minhou, Fuzhou, 闽东北
    seller = world.enterprise("350121")
    world.issue(m, seller, 100 * T)
    same_city = world.enterprise("350102")
    other_city_same_zone = world.enterprise("350902")  # Ningde, 闽东北
    other_zone = world.enterprise("350203")  # Xiamen, 闽西南
    assert world.cross(seller, same_city, m, 3_425_000, T).trades[0].status == "matched"
    trade = world.cross(seller, other_city_same_zone, m, 3_425_000, T).trades[0]
    assert trade.status == "pending_approval"
    err = refused("S-SCOPE-001", world.place, other_zone, m, "buy", 3_425_000, T)
    assert err.params == {"right_type": "emission", "level": "zone"}
    # SO2 is not covered by this rule
    so2 = world.market(subtype="SO2", region="350121")
    world.issue(so2, seller, 10 * T)
    assert world.cross(seller, other_zone, so2, 2_850_000, T).trades[0].status == "matched"


@pytest.mark.django_db
def test_scope_names_the_approving_jurisdiction(world):
    from marketplace.rules import CheckContext, evaluate

    install(SCOPE, ("scope", {"right_types": ["energy"], "county": "approve"}))
    m = world.market(subtype="NOx", region="350121")
    _, refusal = evaluate(CheckContext(stage="trade", asset=m.asset, at=timezone.now(),
                                       buyer=world.enterprise("350902", cny_yuan=0), seller=None))
    assert refusal.code == "S-SCOPE-002" and refusal.needs_approval and refusal.jurisdiction == "350000"
    energy = world.market(right_type="energy", subtype="", unit="tce", region="350121")
    _, refusal = evaluate(CheckContext(stage="trade", asset=energy.asset, at=timezone.now(),
                                       buyer=world.enterprise("350102", cny_yuan=0)))
    assert refusal.code == "S-SCOPE-002" and refusal.jurisdiction == "350100"  # a county crossing: the city


@pytest.mark.django_db
def test_scope_at_settlement(world):
    m = world.market(subtype="NOx", region="350121")
    seller = world.enterprise("350121")
    world.issue(m, seller, 100 * T)
    settles_or_fails(world, m, seller, world.enterprise("350203"), 3_425_000, T, rules=[SCOPE],
                     expect="S-SCOPE-001", issued=100 * T)


@pytest.mark.django_db
def test_scope_at_settlement_goes_to_approval(world):
    m = world.market(subtype="NOx", region="350121")
    seller = world.enterprise("350121")
    world.issue(m, seller, 100 * T)
    trade = settles_or_fails(world, m, seller, world.enterprise("350902"), 3_425_000, T, rules=[SCOPE],
                             expect="pending_approval", issued=100 * T)
    assert trade.events.filter(status="pending_approval").last().detail["rule"] == "S-SCOPE-002"


# --- guided price -----------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_guided_price_farmland_before_trade(world):
    install(("guided_price", {"right_types": ["farmland"], "floor": 100_000 * YUAN, "ceiling": 500_000 * YUAN}))
    m = world.market(right_type="farmland", subtype="quantity", unit="mu", scale=2, region="350121")
    county = m.issuer
    world.issue(m, county, 100 * 100)
    buyer = world.make_org("county_government", "350203")
    from ledger.services import cash_deposit

    cash_deposit(actor=Actor.system(), organization=buyer, amount=CASH, bank_reference="x", idempotency_key="x")
    err = refused("P-PRICE-001", world.place, buyer, m, "buy", 50_000 * YUAN, 100)
    assert err.params == {"floor": 100_000 * YUAN, "floor_yuan": "100000.00"}  # minor units for machines, yuan to read
    refused("P-PRICE-002", world.place, buyer, m, "buy", 600_000 * YUAN, 100)
    refused("P-PRICE-001", world.place, county, m, "sell", 99_999 * YUAN, 100)
    assert world.cross(county, buyer, m, 300_000 * YUAN, 100).trades[0].status == "matched"


@pytest.mark.django_db
def test_guided_price_emission_floor_at_paid_use_fee(world):
    fee = ("guided_price", {"right_types": ["emission"], "subtypes": ["COD"], "floor": 20_000 * YUAN,
                            "basis": "paid_use_fee", "region": "350100"})
    install(fee)
    m = world.market(subtype="COD", region="350121")
    seller = world.enterprise("350121")
    world.issue(m, seller, 10 * T)
    refused("P-PRICE-003", world.place, seller, m, "sell", 19_000 * YUAN, T)
    assert world.cross(seller, world.enterprise("350102"), m, 28_500 * YUAN, T).trades[0].status == "matched"
    # instruments from outside the rule's region are not bound by it
    xm = world.market(subtype="COD", region="350203")
    xm_seller = world.enterprise("350203")
    world.issue(xm, xm_seller, 10 * T)
    assert world.place(xm_seller, xm, "sell", 15_000 * YUAN, T).order.status == "open"


@pytest.mark.django_db
def test_guided_price_at_settlement(world):
    m = world.market(subtype="COD", region="350121")
    seller = world.enterprise("350121")
    world.issue(m, seller, 10 * T)
    settles_or_fails(world, m, seller, world.enterprise("350102"), 19_000 * YUAN, T,
                     rules=[("guided_price", {"right_types": ["emission"], "floor": 20_000 * YUAN})],
                     expect="P-PRICE-001", issued=10 * T)


# --- holding and lot limits ----------------------------------------------------------------------------------

@pytest.mark.django_db
def test_holding_limit_before_trade(world):
    install(("holding_limit", {"right_types": ["emission"], "max_units": "10", "organization_kinds": ["enterprise"]}))
    m = world.market(subtype="SO2", region="350121")
    seller = world.enterprise("350121")
    world.issue(m, seller, 100 * T)
    buyer = world.enterprise("350102")
    trade = world.cross(seller, buyer, m, 2_850_000, 8 * T).trades[0]
    assert trade_settle(trade_id=trade.id) == "settled"
    assert balances(buyer, m.asset) == (8 * T, 0)
    err = refused("H-LIMIT-001", world.place, buyer, m, "buy", 2_850_000, 3 * T)
    assert err.params["limit"] == "10" and err.params["after"] == "11"
    assert world.cross(seller, buyer, m, 2_850_000, 2 * T).trades[0].status == "matched"  # exactly 10


@pytest.mark.django_db
def test_holding_limit_at_settlement(world):
    m = world.market(subtype="SO2", region="350121")
    seller = world.enterprise("350121")
    world.issue(m, seller, 100 * T)
    settles_or_fails(world, m, seller, world.enterprise("350102"), 2_850_000, 8 * T,
                     rules=[("holding_limit", {"max_units": "5"})], expect="H-LIMIT-001", issued=100 * T)


@pytest.mark.django_db
def test_lot_limit_per_listing(world):
    from trading.listings.services import listing_create

    install(("lot_limit", {"right_types": ["energy"], "min_units": "10", "max_units": "1000"}))
    m = world.market(right_type="energy", subtype="", unit="tce", scale=0, region="350121")
    seller = world.enterprise("350121")
    world.issue(m, seller, 5000)
    actor = Actor.system()
    refused("L-LOT-001", listing_create, actor=actor, seller=seller, kind="fixed_price", asset_id=m.asset.id,
            quantity=5, price=500 * YUAN)
    refused("L-LOT-002", listing_create, actor=actor, seller=seller, kind="fixed_price", asset_id=m.asset.id,
            quantity=1001, price=500 * YUAN)
    listing = listing_create(actor=actor, seller=seller, kind="fixed_price", asset_id=m.asset.id, quantity=100,
                             price=500 * YUAN)
    assert listing.rule_version is not None
    # orders are not listings: the rule does not apply to them unless its stages say so
    assert world.place(seller, m, "sell", 500 * YUAN, 2000).order.status == "open"


@pytest.mark.django_db
def test_lot_limit_on_orders_and_at_settlement(world):
    m = world.market(right_type="energy", subtype="", unit="tce", scale=0, region="350121")
    seller = world.enterprise("350121")
    world.issue(m, seller, 5000)
    lot = ("lot_limit", {"right_types": ["energy"], "max_units": "100", "stages": ["order", "trade", "settlement"]})
    settles_or_fails(world, m, seller, world.enterprise("350102"), 500 * YUAN, 200, rules=[lot],
                     expect="L-LOT-002", issued=5000)
    refused("L-LOT-002", world.place, seller, m, "sell", 500 * YUAN, 200)
    assert world.place(seller, m, "sell", 500 * YUAN, 100).order.status == "open"


# --- eligibility -------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_eligibility_buyer_kind_and_permit(world):
    install(("eligibility", {"right_types": ["emission"], "buyer_kinds": ["enterprise"]}))
    m = world.market(subtype="SO2", region="350121")
    seller = world.enterprise("350121")
    world.issue(m, seller, 100 * T)
    county = world.make_org("county_government", "350102")
    refused("Q-ELIG-001", world.place, county, m, "buy", 2_850_000, T)
    no_permit = world.enterprise("350102", permit=False)
    refused("Q-ELIG-002", world.place, no_permit, m, "buy", 2_850_000, T)
    # a permit record on file for the pollutant, valid today, is enough
    DischargePermit.objects.create(organization=no_permit, number="91350102-001P", pollutants=["NOx"])
    refused("Q-ELIG-002", world.place, no_permit, m, "buy", 2_850_000, T)
    DischargePermit.objects.create(organization=no_permit, number="91350102-002P", pollutants=["SO2"],
                                   valid_to=timezone.localdate() + timedelta(days=365))
    assert world.cross(seller, no_permit, m, 2_850_000, T).trades[0].status == "matched"
    assert world.cross(seller, world.enterprise("350102"), m, 2_850_000, T).trades[0].status == "matched"
    # a seller's sell order needs no permit
    other_seller = world.enterprise("350121", permit=False)
    world.issue(m, other_seller, T)
    assert world.place(other_seller, m, "sell", 9_999_000, T).order.status == "open"


@pytest.mark.django_db
def test_eligibility_at_settlement_suspended_party(world):
    from accounts.services import organization_set_status

    m = world.market(subtype="SO2", region="350121")
    seller = world.enterprise("350121")
    world.issue(m, seller, 10 * T)
    buyer = world.enterprise("350102")
    r = world.cross(seller, buyer, m, 2_850_000, T)
    trade = r.trades[0]
    install(("eligibility", {}), at_now=True)
    organization_set_status(actor=Actor.system(), organization=seller, status="suspended", reason="test")
    assert trade_settle(trade_id=trade.id) == "failed"
    trade.refresh_from_db()
    assert trade.failure_reason == "Q-ELIG-003"
    assert balances(buyer, cny()) == (CASH, 0) and balances(seller, m.asset) == (10 * T, 0)


@pytest.mark.django_db
def test_eligibility_permit_at_settlement(world):
    m = world.market(subtype="SO2", region="350121")
    seller = world.enterprise("350121")
    world.issue(m, seller, 10 * T)
    settles_or_fails(world, m, seller, world.enterprise("350102", permit=False), 2_850_000, T,
                     rules=[("eligibility", {})], expect="Q-ELIG-002", issued=10 * T)


# --- public notice --------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_public_notice_holds_water_trades(world):
    install(("basin", {}), ("public_notice", {"days": 5}))
    m = water_market(world)
    seller = world.enterprise("350121")
    world.issue(m, seller, 100_000)
    trade = world.cross(seller, world.enterprise("350102"), m, 93, 1000).trades[0]
    assert trade.status == "pending_approval"
    assert trade_settle(trade_id=trade.id) == "pending_approval"
    # emission trades are not held
    em = world.market(subtype="SO2", region="350121")
    world.issue(em, seller, 10 * T)
    assert world.cross(seller, world.enterprise("350102"), em, 2_850_000, T).trades[0].status == "matched"


# --- the rulebook as versioned data -------------------------------------------------------------------------

@pytest.mark.django_db
def test_orders_and_trades_record_the_version(world):
    v1 = install(("guided_price", {"right_types": ["emission"], "floor": 1}))
    m = world.market(subtype="SO2", region="350121")
    seller = world.enterprise("350121")
    world.issue(m, seller, 10 * T)
    r = world.cross(seller, world.enterprise("350102"), m, 2_850_000, T)
    assert r.order.rule_version == v1.version and r.trades[0].rule_version == v1.version
    later = install(("guided_price", {"right_types": ["emission"], "floor": 1}),
                    effective_from=timezone.now() + timedelta(days=1))
    r = world.cross(seller, world.enterprise("350102"), m, 2_850_000, T)
    assert r.order.rule_version == v1.version  # the later version is not in force yet
    assert Trade.objects.filter(rule_version=v1.version).count() == 2
    assert later.version == v1.version + 1


@pytest.mark.django_db
def test_bids_are_checked_before_the_auction_closes(world):
    from trading.listings.services import listing_bid, listing_create

    install(("basin", {}))
    m = water_market(world)
    seller = world.enterprise("350121")
    world.issue(m, seller, 100_000)
    listing = listing_create(actor=Actor.system(), seller=seller, kind="english", asset_id=m.asset.id,
                             quantity=10_000, reserve_price=90, min_increment=1,
                             end_at=timezone.now() + timedelta(hours=1))
    outside = world.enterprise("350203")
    refused("W-BASIN-001", listing_bid, actor=Actor.system(), bidder=outside, listing_id=listing.id, amount=95)
    inside = world.enterprise("350102")
    assert listing_bid(actor=Actor.system(), bidder=inside, listing_id=listing.id, amount=95).bid.rule_version


@pytest.mark.django_db
def test_listing_purchase_at_trade_and_settlement(world):
    from trading.listings.services import listing_buy, listing_create

    m = world.market(subtype="SO2", region="350121")
    seller = world.enterprise("350121")
    world.issue(m, seller, 10 * T)
    provenance = {"reduction_measure": "SCR 脱硝改造", "discharge_permit_no": seller.discharge_permit_no}
    listing = listing_create(actor=Actor.system(), seller=seller, kind="fixed_price", asset_id=m.asset.id,
                             quantity=2 * T, price=2_850_000, divisible=True, provenance=provenance)
    install(("eligibility", {}))
    refused("Q-ELIG-002", listing_buy, actor=Actor.system(), buyer=world.enterprise("350102", permit=False),
            listing_id=listing.id, quantity=T)
    buyer = world.enterprise("350102")
    trade = listing_buy(actor=Actor.system(), buyer=buyer, listing_id=listing.id, quantity=T).trade
    assert trade.status == "matched"
    install(("non_attainment_inflow", {}), at_now=True)
    NonAttainmentFlag.objects.create(region_id="350102", pollutant="SO2", period_start=timezone.localdate(),
                                     period_end=timezone.localdate())
    # rights from Minhou into Gulou: both in Fuzhou, but the flag is Gulou's own, so this is an inflow
    assert trade_settle(trade_id=trade.id) == "failed"
    trade.refresh_from_db()
    assert trade.failure_reason == "E-NATT-001"
    assert balances(buyer, cny()) == (CASH, 0)
