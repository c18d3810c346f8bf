"""Listings through the HTTP API: each kind's happy path, Idempotency-Key replays, sealed-bid secrecy
(another participant and the operator see nothing before the close, everyone sees all after), what a
reader sees of English bids, and a stable 4xx for each bad input with no hold left behind."""
from datetime import timedelta

import pytest

from accounts.actor import Actor
from accounts.models import AuditEvent
from ledger.models import Asset
from trading.listings.services import db_now, listing_close, listing_create
from trading.models import Listing, Trade
from trading.settlement.services import trade_settle

from tests.support.ledger import balances
from tests.support.listings import CASH, EMISSION_PROVENANCE, FARMLAND_PROVENANCE, YUAN

pytestmark = pytest.mark.django_db


def iso(dt):
    return dt.isoformat()


@pytest.fixture
def api(lworld, client_for):
    """api(org, role="trader") → an APIClient acting for that organization."""
    clients = {}

    def factory(org, role="trader"):
        if (org.id, role) not in clients:
            clients[(org.id, role)] = client_for(lworld.member(org, role))
        return clients[(org.id, role)]

    return factory


def create(client, key=None, **body):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post("/api/v1/listings", body, format="json", **headers)


def farmland_fixed(w, **extra):
    body = dict(kind="fixed_price", asset=w.farmland.id, quantity="250", price="45000.00", divisible=True,
                min_purchase="50", provenance=FARMLAND_PROVENANCE, title="闽侯县 250 亩补充耕地指标")
    body.update(extra)
    return body


def english_body(w, **extra):
    body = dict(kind="english", asset=w.farmland.id, quantity="100", reserve_price="40000.00",
                min_increment="500.00", end_at=iso(db_now() + timedelta(hours=1)), anti_snipe_minutes=5,
                provenance=FARMLAND_PROVENANCE)
    body.update(extra)
    return body


# --- happy paths ------------------------------------------------------------------------------------

def test_fixed_price_listing_through_the_api(lworld, api, listing_fees):
    w = lworld
    seller, buyer = api(w.county, "admin"), api(w.buyers[0])
    r = create(seller, key="list-1", **farmland_fixed(w))
    assert r.status_code == 201, r.json()
    body = r.json()
    assert body["kind"] == "fixed_price" and body["quantity"] == "250.00" and body["price"] == "45000.00"
    assert body["min_purchase"] == "50.00" and body["held"] == "250.00" and body["is_own"] is True
    assert body["asset"]["right_type"] == "farmland" and body["provenance"] == FARMLAND_PROVENANCE
    again = create(seller, key="list-1", **farmland_fixed(w))
    assert again.status_code == 201 and again.json()["id"] == body["id"] and again["Idempotent-Replayed"] == "true"
    assert Listing.objects.filter(seller=w.county).count() == 1
    w.check_exposure()

    lid = body["id"]
    r = buyer.post(f"/api/v1/listings/{lid}/buy", {"quantity": "100"}, format="json", HTTP_IDEMPOTENCY_KEY="buy-1")
    assert r.status_code == 201, r.json()
    trade = r.json()["trade"]
    assert trade["source"] == "listing" and trade["side"] == "buy" and trade["market"] is None
    assert trade["price"] == "45000.00" and trade["quantity"] == "100.00" and trade["value"] == "4500000.00"
    assert trade["fee"] == "4500.00"
    assert r.json()["listing"]["remaining"] == "150.00" and r.json()["listing"]["held"] is None
    replay = buyer.post(f"/api/v1/listings/{lid}/buy", {"quantity": "100"}, format="json",
                        HTTP_IDEMPOTENCY_KEY="buy-1")
    assert replay.json()["trade"]["id"] == trade["id"] and Trade.objects.filter(listing_id=lid).count() == 1
    w.check_exposure()

    listed = buyer.get("/api/v1/listings", {"right_type": "farmland", "status": "open"}).json()
    assert [x["id"] for x in listed["results"]] == [lid] and listed["results"][0]["remaining"] == "150.00"
    assert buyer.get("/api/v1/listings", {"right_type": "emission"}).json()["results"] == []
    assert buyer.get("/api/v1/listings", {"kind": "english"}).json()["results"] == []
    assert [x["id"] for x in buyer.get("/api/v1/listings", {"seller": w.county.id}).json()["results"]] == [lid]
    assert buyer.get(f"/api/v1/listings/{lid}").json()["seller"]["id"] == w.county.id

    assert trade_settle(trade_id=trade["id"]) == "settled"
    assert balances(w.buyers[0], w.farmland) == (100_00, 0)
    w.check_exposure()
    r = seller.post(f"/api/v1/listings/{lid}/cancel", HTTP_IDEMPOTENCY_KEY="cancel-1")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert balances(w.county, w.farmland) == (150_00, 0)
    w.check_exposure()
    actions = list(AuditEvent.objects.filter(object_type="listing", object_id=str(lid)).order_by("id")
                   .values_list("action", "actor_organization_id"))
    assert actions == [("listing.create", w.county.id), ("listing.buy", w.buyers[0].id),
                       ("listing.cancel", w.county.id)]


def test_english_auction_through_the_api(lworld, api, operator_org):
    w = lworld
    seller = api(w.county)
    b1, b2, b3 = (api(b) for b in w.buyers)
    lid = create(seller, **english_body(w)).json()["id"]
    r = b1.post(f"/api/v1/listings/{lid}/bids", {"price": "40000.00"}, format="json", HTTP_IDEMPOTENCY_KEY="bid-1")
    assert r.status_code == 201, r.json()
    assert r.json()["bid"]["own"] is True and r.json()["bid"]["held"] == "4000000.00" and not r.json()["extended"]
    assert b2.post(f"/api/v1/listings/{lid}/bids", {"price": "41000.00"}, format="json").status_code == 201
    w.check_exposure()
    assert balances(w.buyers[0], w.cny) == (CASH, 0)  # outbid: released

    seen = b3.get(f"/api/v1/listings/{lid}/bids").json()
    assert [(x["price"], x["bidder"], x["own"]) for x in seen] == [("41000.00", None, False), ("40000.00", None, False)]
    mine = b2.get(f"/api/v1/listings/{lid}/bids").json()
    assert mine[0]["own"] is True and mine[0]["bidder"] == w.buyers[1].id and mine[1]["bidder"] is None
    detail = b3.get(f"/api/v1/listings/{lid}").json()
    assert detail["best_bid"] == "41000.00" and detail["bid_count"] == 2

    listing = Listing.objects.get(pk=lid)
    listing_close(listing_id=lid, now=listing.end_at)
    trade = Trade.objects.get(listing_id=lid)
    assert trade.buyer_id == w.buyers[1].id and trade.source == "auction"
    assert b2.get("/api/v1/trades").json()["results"][0]["id"] == trade.id
    assert trade_settle(trade_id=trade.id) == "settled"
    w.check_exposure()


def test_sealed_bids_are_secret_until_the_close(lworld, api, operator_org, make_member, client_for):
    w = lworld
    seller = api(w.factory)
    b1, b2, b3 = (api(b) for b in w.buyers)
    operator = client_for(make_member(operator_org, "admin"))
    body = dict(kind="sealed", asset=w.so2.id, quantity="50", reserve_price="28000.00", second_price=True,
                end_at=iso(db_now() + timedelta(hours=1)), provenance=EMISSION_PROVENANCE)
    lid = create(seller, **body).json()["id"]
    r = b1.post(f"/api/v1/listings/{lid}/bids", {"price": "33000.00"}, format="json")
    assert r.status_code == 201 and r.json()["listing"]["best_bid"] is None and r.json()["listing"]["bid_count"] is None
    assert b2.post(f"/api/v1/listings/{lid}/bids", {"price": "31000.00"}, format="json").status_code == 201
    w.check_exposure()

    # before the close: each bidder sees only its own bid; nobody else — operator included — sees any
    assert [x["price"] for x in b1.get(f"/api/v1/listings/{lid}/bids").json()] == ["33000.00"]
    assert [x["price"] for x in b2.get(f"/api/v1/listings/{lid}/bids").json()] == ["31000.00"]
    for client in (b3, operator, seller):
        assert client.get(f"/api/v1/listings/{lid}/bids").json() == []
    for client in (b1, b2, b3, operator, seller):
        for data in (client.get(f"/api/v1/listings/{lid}").json(),
                     next(x for x in client.get("/api/v1/listings").json()["results"] if x["id"] == lid)):
            assert data["best_bid"] is None and data["bid_count"] is None
            assert "33000.00" not in str(data) and "31000.00" not in str(data)

    # nor does the audit log carry a sealed bid's amount before the close
    for event in AuditEvent.objects.filter(object_type="listing", object_id=str(lid), action="listing.bid"):
        assert "amount" not in event.after
    listing_close(listing_id=lid, now=Listing.objects.get(pk=lid).end_at)
    close = AuditEvent.objects.get(object_type="listing", object_id=str(lid), action="listing.close")
    assert sorted(b["amount"] for b in close.after["bids"]) == [31_000 * YUAN, 33_000 * YUAN]
    for client in (b1, b2, b3, operator, seller):
        bids = client.get(f"/api/v1/listings/{lid}/bids").json()
        assert [(x["price"], x["status"]) for x in bids] == [("33000.00", "won"), ("31000.00", "lost")]
        assert client.get(f"/api/v1/listings/{lid}").json()["best_bid"] == "33000.00"
    trade = Trade.objects.get(listing_id=lid)
    assert trade.buyer_id == w.buyers[0].id and trade.price == 31_000 * YUAN  # second price
    w.check_exposure()


def test_negotiated_transfer_through_the_api(lworld, api, operator_org, make_member, client_for):
    w = lworld
    seller, named, other = api(w.factory), api(w.buyers[0]), api(w.buyers[1])
    body = dict(kind="negotiated", asset=w.so2.id, quantity="20", price="29000.00", named_buyer=w.buyers[0].id,
                end_at=iso(db_now() + timedelta(days=1)), provenance=EMISSION_PROVENANCE)
    r = create(seller, **body)
    assert r.status_code == 201, r.json()
    lid = r.json()["id"]
    assert r.json()["named_buyer"] == w.buyers[0].id
    # a private offer: the parties (and the operator) see it; another participant does not
    assert other.get(f"/api/v1/listings/{lid}").status_code == 404
    assert other.post(f"/api/v1/listings/{lid}/accept").status_code == 404
    assert lid not in [x["id"] for x in other.get("/api/v1/listings").json()["results"]]
    operator = client_for(make_member(operator_org, "viewer"))
    assert operator.get(f"/api/v1/listings/{lid}").json()["named_buyer"] is None
    assert named.get(f"/api/v1/listings/{lid}").json()["named_buyer"] == w.buyers[0].id

    r = named.post(f"/api/v1/listings/{lid}/accept", HTTP_IDEMPOTENCY_KEY="accept-1")
    assert r.status_code == 201, r.json()
    assert r.json()["trade"]["source"] == "negotiated" and r.json()["listing"]["status"] == "closed"
    assert named.post(f"/api/v1/listings/{lid}/accept", HTTP_IDEMPOTENCY_KEY="accept-1").status_code == 201
    assert Trade.objects.filter(listing_id=lid).count() == 1
    w.check_exposure()

    second = create(seller, **body).json()["id"]
    r = named.post(f"/api/v1/listings/{second}/reject", {"reason": "价格不合适"}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    w.check_exposure()


# --- bad input: a stable 4xx each, and nothing held ------------------------------------------------

@pytest.fixture
def bad(lworld):
    """bad(response, status, code): asserts the error and that no balance moved since the last call."""
    state = {"snapshot": lworld.snapshot()}

    def check(response, status, code):
        assert response.status_code == status, response.json()
        assert response.json()["code"] == code, response.json()
        assert lworld.snapshot() == state["snapshot"]
        lworld.check_exposure()

    def rebase():
        state["snapshot"] = lworld.snapshot()

    check.rebase = rebase
    return check


def test_bad_listing_input(lworld, api, bad, make_org):
    w = lworld
    seller = api(w.county)
    # missing provenance: farmland needs the project and the acceptance document
    r = create(seller, **farmland_fixed(w, provenance={"project_id": "MH-1"}))
    bad(r, 400, "evidence_required")
    assert "provenance.acceptance_document" in r.json()["fields"]
    r = create(api(w.factory), kind="fixed_price", asset=w.so2.id, quantity="10", price="30000.00",
               provenance={"reduction_measure": "SCR"})
    bad(r, 400, "evidence_required")
    assert "provenance.discharge_permit_no" in r.json()["fields"]
    # insufficient rights
    bad(create(seller, **farmland_fixed(w, quantity="250.01")), 400, "insufficient_balance")
    # terms that do not fit the kind
    bad(create(seller, **english_body(w, min_increment=None)), 400, "invalid_listing_terms")
    bad(create(seller, **farmland_fixed(w, reserve_price="1.00")), 400, "invalid_listing_terms")
    bad(create(seller, **english_body(w, end_at=iso(db_now() - timedelta(minutes=1)))), 400, "invalid_listing_terms")
    bad(create(seller, **farmland_fixed(w, quantity="1.001")), 400, "too_many_decimals")
    # a named buyer that is the seller itself
    bad(create(seller, kind="negotiated", asset=w.farmland.id, quantity="1", price="1.00", named_buyer=w.county.id,
               end_at=iso(db_now() + timedelta(days=1)), provenance=FARMLAND_PROVENANCE), 400, "invalid_named_buyer")
    # a viewer may not list; neither may a regulator
    bad(create(api(w.county, "viewer"), **farmland_fixed(w)), 403, "not_a_trader")
    regulator = make_org("regulator", "350100")
    bad(create(api(regulator, "admin"), **farmland_fixed(w)), 403, "not_a_trader")
    # an expired instrument
    Asset.objects.filter(pk=w.farmland.id).update(valid_to=db_now().date() - timedelta(days=1))
    bad(create(seller, **farmland_fixed(w)), 400, "asset_expired")


def test_bad_purchase_input(lworld, api, bad, make_org):
    w = lworld
    seller = api(w.county)
    divisible = create(seller, **farmland_fixed(w, quantity="100")).json()["id"]
    whole = create(seller, **farmland_fixed(w, quantity="100", divisible=False, min_purchase=None)).json()["id"]
    later = create(seller, **farmland_fixed(w, quantity="50", start_at=iso(db_now() + timedelta(hours=1)))).json()["id"]
    bad.rebase()
    buyer = api(w.buyers[0])

    def buy(lid, quantity, client=buyer):
        return client.post(f"/api/v1/listings/{lid}/buy", {"quantity": quantity}, format="json")

    bad(buy(divisible, "100.01"), 409, "exceeds_remaining")
    bad(buy(divisible, "10"), 400, "below_min_purchase")
    bad(buy(whole, "60"), 400, "listing_indivisible")
    bad(buy(later, "50"), 409, "listing_not_started")
    bad(buy(divisible, "100", seller), 403, "own_listing")
    poor = make_org("enterprise", "350102")
    bad(buy(divisible, "100", api(poor)), 400, "insufficient_balance")
    bad(buy(divisible, "abc"), 400, "invalid_number")
    bad(buyer.post(f"/api/v1/listings/{divisible}/buy", {"quantity": "60", "price": "1"}, format="json"),
        400, "unknown_field")
    bad(buyer.post(f"/api/v1/listings/{divisible}/bids", {"price": "50000.00"}, format="json"),
        409, "wrong_listing_kind")
    bad(buy(999_999_999, "1"), 404, "not_found")
    # another organization cannot cancel; a listing ended by its owner cannot be bought
    bad(buyer.post(f"/api/v1/listings/{divisible}/cancel"), 403, "not_listing_seller")
    assert seller.post(f"/api/v1/listings/{whole}/cancel").status_code == 200
    bad.rebase()
    bad(buy(whole, "100"), 409, "listing_not_open")
    bad(seller.post(f"/api/v1/listings/{whole}/cancel"), 409, "listing_not_open")
    # the instrument expired after it was listed
    Asset.objects.filter(pk=w.farmland.id).update(valid_to=db_now().date() - timedelta(days=1))
    bad(buy(divisible, "100"), 400, "asset_expired")


def test_bad_bid_input(lworld, api, bad):
    w = lworld
    seller = api(w.county)
    lid = create(seller, **english_body(w)).json()["id"]
    pending = create(seller, **english_body(w, start_at=iso(db_now() + timedelta(hours=1)),
                                            end_at=iso(db_now() + timedelta(hours=2)))).json()["id"]
    t0 = db_now() - timedelta(hours=2)
    ended = listing_create(actor=Actor.system(), seller=w.county, kind="english", asset_id=w.farmland.id,
                           quantity=10_00, reserve_price=40_000 * YUAN, min_increment=100,
                           provenance=FARMLAND_PROVENANCE, end_at=t0 + timedelta(hours=1), now=t0)
    b1, b2 = api(w.buyers[0]), api(w.buyers[1])

    def bid(listing_id, price, client=b1):
        return client.post(f"/api/v1/listings/{listing_id}/bids", {"price": price}, format="json")

    bad.rebase()
    bad(bid(lid, "39999.99"), 400, "bid_below_reserve")
    assert bid(lid, "40000.00").status_code == 201
    bad.rebase()
    bad(bid(lid, "40499.99", b2), 400, "bid_below_increment")
    bad(bid(lid, "50000.00", seller), 403, "own_listing")
    bad(bid(pending, "50000.00"), 409, "auction_not_started")
    bad(bid(ended.id, "50000.00"), 409, "auction_ended")
    bad(bid(lid, "40000.001"), 400, "too_many_decimals")
    bad(bid(lid, "-1"), 400, "validation_error")
    bad(bid(lid, "99999999999.00", b2), 400, "insufficient_balance")
    bad(b2.post(f"/api/v1/listings/{lid}/buy", {"quantity": "100"}, format="json"), 409, "wrong_listing_kind")
    bad(seller.post(f"/api/v1/listings/{lid}/cancel"), 409, "listing_has_bids")
    bad(b2.post(f"/api/v1/listings/{lid}/accept"), 409, "wrong_listing_kind")
    # closed unsold after the end: still an ended auction
    listing_close(listing_id=ended.id)
    bad.rebase()
    bad(bid(ended.id, "50000.00"), 409, "auction_ended")


def test_bad_negotiated_input(lworld, api, bad):
    w = lworld
    seller, named = api(w.factory), api(w.buyers[0])
    body = dict(kind="negotiated", asset=w.so2.id, quantity="20", price="29000.00", named_buyer=w.buyers[0].id,
                end_at=iso(db_now() + timedelta(days=1)), provenance=EMISSION_PROVENANCE)
    lid = create(seller, **body).json()["id"]
    t0 = db_now() - timedelta(days=2)
    lapsed = listing_create(actor=Actor.system(), seller=w.factory, kind="negotiated", asset_id=w.so2.id,
                            quantity=1_000, price=100, named_buyer_id=w.buyers[0].id, end_at=t0 + timedelta(days=1),
                            provenance=EMISSION_PROVENANCE, now=t0)
    bad.rebase()
    bad(seller.post(f"/api/v1/listings/{lid}/accept"), 403, "not_named_buyer")
    bad(seller.post(f"/api/v1/listings/{lid}/reject"), 403, "not_named_buyer")
    bad(named.post(f"/api/v1/listings/{lapsed.id}/accept"), 409, "listing_ended")
    bad(named.post(f"/api/v1/listings/{lapsed.id}/reject"), 409, "listing_ended")
    bad(named.post(f"/api/v1/listings/{lid}/buy", {"quantity": "20"}, format="json"), 409, "wrong_listing_kind")
    # the named buyer cannot pay
    pricey = create(seller, **dict(body, price="99999999.00", quantity="50")).json()["id"]
    bad.rebase()
    bad(named.post(f"/api/v1/listings/{pricey}/accept"), 400, "insufficient_balance")


def test_idempotency_key_conflict(lworld, api):
    w = lworld
    seller = api(w.county)
    assert create(seller, key="k-1", **farmland_fixed(w, quantity="10", min_purchase=None)).status_code == 201
    r = create(seller, key="k-1", **farmland_fixed(w, quantity="20", min_purchase=None))
    assert r.status_code == 409 and r.json()["code"] == "idempotency_conflict"
    assert balances(w.county, w.farmland) == (240_00, 10_00)


def test_schema_documents_the_listing_endpoints(client):
    schema = client.get("/api/schema/?format=json").json()
    paths = schema["paths"]
    assert set(paths["/api/v1/listings"]) >= {"get", "post"}
    for suffix in ("cancel", "buy", "accept", "reject"):
        assert "post" in paths[f"/api/v1/listings/{{id}}/{suffix}"]
    assert set(paths["/api/v1/listings/{id}/bids"]) >= {"get", "post"}
