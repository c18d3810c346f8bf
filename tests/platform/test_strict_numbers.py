"""Strict numbers at the edge (issue 14 item 5): an amount is `-?[0-9]+(\\.[0-9]+)?` in ASCII, as a JSON
string, and nothing else. Decimal() and str.isdigit() accept exponents, underscores, surrounding spaces,
a plus sign, NaN/Infinity and non-ASCII digits (full-width １０, Arabic-Indic ١٢): each was an accepted
amount before (a listing was bought with quantity "1e1"). JSON numbers are refused too, integers included
(README: amounts are decimal strings). Each shape is refused with 400 `invalid_number` on the amount field,
and nothing changes."""
import pytest

from ledger.models import LedgerTransaction
from trading.models import Order, Trade

SHAPES = ["1e3", "5E1", "1e1", "1_000", "１０", "١٢", "۱۲", "२", " 2", "+2", "2 ", "2\n", "", "1.", ".5", "1..5",
          "NaN", "nan", "Infinity", "-Infinity", "0x10", "1,000", "٢.٥", "−2", "2.5.1", "--2"]
JSON_NUMBERS = [10, 2.5, 1e3, 0, -1, True]


def _refused(response, field):
    assert response.status_code == 400, response.json()
    body = response.json()
    assert body["code"] == "invalid_number", body
    assert [e["code"] for e in body["fields"][field]] == ["invalid_number"], body


def _nothing_changed(before):
    assert (Order.objects.count(), Trade.objects.count(), LedgerTransaction.objects.count()) == before


def _state():
    return Order.objects.count(), Trade.objects.count(), LedgerTransaction.objects.count()


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["price", "quantity"])
@pytest.mark.parametrize("shape", SHAPES + JSON_NUMBERS, ids=repr)
def test_orders_refuse_every_other_shape(trading_world, field, shape):
    w = trading_world
    before = _state()
    body = {"market": w.market.id, "side": "buy", "price": "100.00", "quantity": "2", field: shape}
    _refused(w.buyer_client.post("/api/v1/orders", body, format="json"), field)
    _nothing_changed(before)


@pytest.mark.django_db
@pytest.mark.parametrize("shape", SHAPES + JSON_NUMBERS, ids=repr)
def test_listing_purchase_quantity_refuses_every_other_shape(trading_world, shape):
    w = trading_world
    before = _state()
    r = w.buyer_client.post(f"/api/v1/listings/{w.listing}/buy", {"quantity": shape}, format="json")
    _refused(r, "quantity")
    _nothing_changed(before)


@pytest.mark.django_db
@pytest.mark.parametrize("shape", SHAPES + JSON_NUMBERS, ids=repr)
def test_deposits_refuse_every_other_shape(trading_world, shape):
    w = trading_world
    before = _state()
    r = w.operator_client.post("/api/v1/cash/deposits",
                               {"organization": w.buyer.id, "amount": shape, "bank_reference": "B-1"},
                               format="json", HTTP_IDEMPOTENCY_KEY=f"dep-{abs(hash(repr(shape)))}")
    _refused(r, "amount")
    _nothing_changed(before)


@pytest.mark.django_db
def test_the_one_shape_is_accepted(trading_world):
    """The same endpoints take the strict shape (so the refusals above are about the shape)."""
    w = trading_world
    r = w.buyer_client.post("/api/v1/orders", {"market": w.market.id, "side": "buy", "price": "100.00",
                                               "quantity": "2"}, format="json")
    assert r.status_code == 201, r.json()
    r = w.buyer_client.post(f"/api/v1/listings/{w.listing}/buy", {"quantity": "1.5"}, format="json")
    assert r.status_code == 201, r.json()
    r = w.operator_client.post("/api/v1/cash/deposits", {"organization": w.buyer.id, "amount": "12.50",
                                                         "bank_reference": "B-2"},
                               format="json", HTTP_IDEMPOTENCY_KEY="dep-ok")
    assert r.status_code in (200, 201), r.json()
