"""Markets without code: the operator proposes a market over the API, a second person of the operator
confirms it (the proposer cannot, and the refusal is audited), and the market trades at once — its
configured reference price bands the very first session. PATCH reconfigures the same way."""
import pytest

from accounts.actor import Actor
from accounts.models import AuditEvent
from ledger.services import asset_create, rights_issue
from marketplace.models import Market, MarketProposal

MARKETS, PROPOSALS = "/api/v1/markets", "/api/v1/market-proposals"


@pytest.fixture
def water_asset(world):
    county = world.make_org("county_government", "350724")
    asset = asset_create(actor=Actor.system(), code="WR-TEST-2026-350724", right_type_id="water",
                         subtype="abstraction", unit="m3", scale=0, vintage=2026, origin_region_id="350724",
                         issuer=county, basin_id="minjiang")
    asset.issuer_org = county
    return asset


@pytest.fixture
def operators(world, make_member, client_for):
    return client_for(make_member(world.operator, "admin")), client_for(world.operator_approver)


CONFIG = {"code": "wr-minjiang-test", "tick_size": "0.01", "lot_size": "10", "price_band_bps": 1000,
          "reference_price": "0.50", "fee_bps": 5, "fee_min": "1.00", "always_open": True}


@pytest.mark.django_db
def test_a_market_created_through_the_api_is_traded(world, water_asset, operators, client_for):
    maker, checker = operators
    r = maker.post(MARKETS, {"asset": water_asset.code, **CONFIG}, format="json")
    assert r.status_code == 202, r.json()
    proposal = r.json()
    assert proposal["status"] == "pending" and proposal["config"]["lot_size"] == 10
    assert proposal["config"]["reference_price"] == 50 and not Market.objects.filter(code=CONFIG["code"]).exists()

    refused = maker.post(f"{PROPOSALS}/{proposal['id']}/confirm")
    assert refused.status_code == 403 and refused.json()["code"] == "four_eyes_required"
    assert AuditEvent.objects.filter(action="market.confirm_refused", object_id=str(proposal["id"])).exists()

    r = checker.post(f"{PROPOSALS}/{proposal['id']}/confirm")
    assert r.status_code == 200, r.json()
    market = Market.objects.get(code=CONFIG["code"])
    assert r.json()["status"] == "applied" and r.json()["market"] == market.id
    assert (market.reference_price, market.lot_size, market.fee_min, market.price_band_bps) == (50, 10, 100, 1000)
    assert set(AuditEvent.objects.filter(object_type="market_proposal", object_id=str(proposal["id"]))
               .values_list("action", flat=True)) == {"market.propose", "market.confirm_refused", "market.confirm"}

    seller, buyer = world.enterprise("350724"), world.enterprise("350102")
    rights_issue(actor=Actor.system(), issuer=water_asset.issuer_org, asset=water_asset, recipient=seller,
                 amount=1000, idempotency_key="wr-test-issue")
    sell, buy = client_for(seller.trader), client_for(buyer.trader)
    # the first session is banded by the configured reference (±10% of 0.50): 0.60 is refused
    r = buy.post("/api/v1/orders", {"market": market.id, "side": "buy", "price": "0.60", "quantity": "10"},
                 format="json")
    assert r.status_code == 400 and r.json()["code"] == "price_outside_band", r.json()
    r = sell.post("/api/v1/orders", {"market": market.id, "side": "sell", "price": "0.50", "quantity": "100"},
                  format="json")
    assert r.status_code == 201, r.json()
    r = buy.post("/api/v1/orders", {"market": market.id, "side": "buy", "price": "0.52", "quantity": "100"},
                 format="json")
    assert r.status_code == 201, r.json()
    [fill] = r.json()["fills"]
    assert fill["price"] == "0.50" and fill["quantity"] == "100"


@pytest.mark.django_db
def test_a_band_needs_a_reference_price_and_patch_is_four_eyes_too(world, water_asset, operators):
    maker, checker = operators
    no_ref = {k: v for k, v in CONFIG.items() if k != "reference_price"}
    r = maker.post(MARKETS, {"asset": water_asset.code, **no_ref}, format="json")
    assert r.status_code == 400 and "reference_price" in r.json()["fields"], r.json()

    proposal = maker.post(MARKETS, {"asset": water_asset.code, **CONFIG}, format="json").json()
    market_id = checker.post(f"{PROPOSALS}/{proposal['id']}/confirm").json()["market"]
    r = checker.patch(f"{MARKETS}/{market_id}", {"fee_bps": 8, "reference_price": "0.55"}, format="json")
    assert r.status_code == 403  # proposing is for the operator's admins
    r = maker.patch(f"{MARKETS}/{market_id}", {"fee_bps": 8, "reference_price": "0.55"}, format="json")
    assert r.status_code == 202, r.json()
    assert Market.objects.get(pk=market_id).fee_bps == 5  # nothing changes before the second person
    assert checker.post(f"{PROPOSALS}/{r.json()['id']}/confirm").status_code == 200
    market = Market.objects.get(pk=market_id)
    assert (market.fee_bps, market.reference_price, market.lot_size) == (8, 55, 10)
    assert MarketProposal.objects.filter(market=market, status="applied").count() == 2


@pytest.mark.django_db
def test_participants_cannot_propose(world, water_asset, client_for):
    r = client_for(world.enterprise().trader).post(MARKETS, {"asset": water_asset.code, **CONFIG}, format="json")
    assert r.status_code == 403
    assert not MarketProposal.objects.exists()
