"""The one numbered family of business checks: every rulebook code and every fixed check has a unique
number of one format in `core.checks.CHECKS`, maps to a registered API code, and is enforced by the
one `enforce` step (a refusal stops, an approval requirement passes through)."""
from __future__ import annotations

import re
from datetime import date, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from core.checks import CHECKS, BusinessCheck, Refusal, Refused, catalog, enforce, first_refusal, run
from core.errors import CODES
from ledger.checks import AssetValid, PositiveAmount, SufficientBalance
from marketplace import rules
from marketplace.rules import ORDER_CHECKS, RULES

NUMBER = re.compile(r"^[A-Z]-[A-Z]+-\d{3}$")
SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_every_check_has_a_well_formed_unique_number_and_a_registered_code():
    import trading.listings.services  # noqa: F401  (registers the listing checks)

    assert len(CHECKS) >= 30
    for number, check in CHECKS.items():
        assert NUMBER.match(number), number
        assert check.number == number
        assert check.code in CODES, (number, check.code)
    # every rulebook code is a number of the family, and is its own API code
    for cls in RULES.values():
        for code in cls.codes or (cls.code,):
            if code.startswith("T-"):
                continue  # test rules registered by other test modules
            assert CHECKS[code].code == code and cls.kind in CHECKS[code].kinds
    # the fixed checks keep the API codes the responses always had
    fixed = {n: c.code for n, c in CHECKS.items() if isinstance(c, type) and issubclass(c, BusinessCheck)}
    assert {fixed[n] for n in ("M-STATE-001", "M-STATE-002", "M-SESSION-001", "M-TICK-001", "M-LOT-001",
                               "M-MINQTY-001", "M-BAND-001", "A-VALID-001", "A-AMOUNT-001", "A-FUNDS-001",
                               "Q-ACTIVE-001", "Q-TRADER-001", "C-TERMS-001")} == {
        "market_halted", "market_closed", "outside_trading_session", "price_off_tick", "quantity_off_lot",
        "below_min_quantity", "price_outside_band", "asset_expired", "invalid_amount", "insufficient_balance",
        "organization_suspended", "not_a_trader", "invalid_listing_terms"}


def test_catalog_describes_every_check_with_its_policy():
    entries = catalog()
    assert [e["number"] for e in entries] == sorted(CHECKS)
    for e in entries:
        assert e["policy"], e["number"]
    assert {e["configurable"] for e in entries} == {True, False}


def test_enforce_stops_a_refusal_and_passes_an_approval_requirement():
    assert enforce(None) is None
    approval = Refusal("S-SCOPE-002", needs_approval=True, jurisdiction="350100")
    assert enforce(approval) is approval
    with pytest.raises(Refused) as exc:
        enforce(Refusal("P-PRICE-001", {"floor": 500, "floor_yuan": "5.00"}, fields={"price": "too low"}))
    assert exc.value.code == "P-PRICE-001" and exc.value.status_code == 422
    assert exc.value.params == {"floor": 500, "floor_yuan": "5.00"} and exc.value.fields == {"price": "too low"}
    assert "5.00" in exc.value.message  # yuan, from floor_yuan


def market(**overrides):
    asset = SimpleNamespace(code="so2-1", valid_to=date(2026, 12, 31),
                            is_expired=lambda on: on > date(2026, 12, 31))
    base = dict(status="open", session_now="2026-06-01#am", tick_size=10, lot_size=1000, min_quantity=2000,
                price_band_bps=1000, reference_price=10_000, asset=asset)
    return SimpleNamespace(**{**base, **overrides})


GOOD = dict(price=10_000, quantity=3000, now=datetime(2026, 6, 1, 10, tzinfo=SHANGHAI))


@pytest.mark.parametrize("change, number, code", [
    (dict(market=market(status="halted")), "M-STATE-001", "market_halted"),
    (dict(market=market(status="closed")), "M-STATE-002", "market_closed"),
    (dict(market=market(session_now=None)), "M-SESSION-001", "outside_trading_session"),
    (dict(now=datetime(2027, 1, 1, 10, tzinfo=SHANGHAI)), "A-VALID-001", "asset_expired"),
    (dict(price=10_005), "M-TICK-001", "price_off_tick"),
    (dict(quantity=2500), "M-LOT-001", "quantity_off_lot"),
    (dict(quantity=1000), "M-MINQTY-001", "below_min_quantity"),
    (dict(price=11_010), "M-BAND-001", "price_outside_band"),
    (dict(price=8_990), "M-BAND-001", "price_outside_band"),
])
def test_order_checks_refuse_each_fault_with_its_number_and_code(change, number, code):
    facts = {"market": market(), **GOOD}
    assert first_refusal(ORDER_CHECKS, **facts) is None
    run(ORDER_CHECKS, **facts)  # raises nothing
    refusal = first_refusal(ORDER_CHECKS, **{**facts, **change})
    assert (refusal.check, refusal.code) == (number, code)
    with pytest.raises(Refused) as exc:
        run(ORDER_CHECKS, **{**facts, **change})
    assert exc.value.code == code


def test_order_checks_run_in_the_order_of_the_stage_table():
    # halted and off-tick at once: the market state is reported first, as before
    refusal = first_refusal(ORDER_CHECKS, **{**GOOD, "market": market(status="halted"), "price": 10_005})
    assert refusal.check == "M-STATE-001"
    assert [c.number for c in ORDER_CHECKS] == ["M-STATE-001", "M-STATE-002", "M-SESSION-001", "A-VALID-001",
                                                "M-TICK-001", "M-LOT-001", "M-MINQTY-001", "M-BAND-001"]


def test_price_band_rounds_inward():
    assert rules.price_band(market(reference_price=10_123, price_band_bps=1000)) == (9111, 11135)
    assert rules.price_band(market(reference_price=None)) is None


@pytest.mark.parametrize("amount, ok", [(1, True), (10**12, True), (0, False), (-5, False), (True, False),
                                        ("7", False), (1.0, False)])
def test_positive_amount(amount, ok):
    assert (PositiveAmount.check(amount=amount) is None) is ok


def test_asset_valid_and_sufficient_balance():
    asset = SimpleNamespace(code="x", is_expired=lambda on: on > date(2026, 1, 1))
    assert AssetValid.check(asset=asset, on=date(2026, 1, 1)) is None
    assert AssetValid.check(asset=asset, on=date(2026, 1, 2)).fields == {"asset": "x"}
    assert SufficientBalance.check(amount=5, available=5) is None
    assert SufficientBalance.check(amount=6, available=5).code == "insufficient_balance"
    assert SufficientBalance.check(amount=2**62).code == "insufficient_balance"
