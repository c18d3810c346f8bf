"""Progress math per pair and year, hand-computed: the pro-rata expectation (rounded up to the fen), the
status at the boundaries (exactly the minimum; one fen short), leap years, before/after the year."""
from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assistance.selectors import days_in_year, elapsed_days, pair_progress, progress_math

from .conftest import MINIMUM, pay


def test_days_and_elapsed():
    assert days_in_year(2024) == 366 and days_in_year(2025) == 365 and days_in_year(2100) == 365
    assert elapsed_days(2025, date(2024, 12, 31)) == 0
    assert elapsed_days(2025, date(2025, 1, 1)) == 1
    assert elapsed_days(2025, date(2025, 7, 2)) == 183  # 31+28+31+30+31+30 = 181 days to June 30, +2
    assert elapsed_days(2025, date(2025, 12, 31)) == 365
    assert elapsed_days(2025, date(2026, 1, 1)) == 365


def test_pro_rata_expectation_by_hand():
    # 12,000,000.00 yuan × 183 / 365 = 601,643,835.616… fen → rounded up to 601,643,836 fen
    row = progress_math(minimum=MINIMUM, paid=0, year=2025, on=date(2025, 7, 2))
    assert row["expected_to_date"] == 601_643_836
    assert row["behind"] == 601_643_836 and row["status"] == "behind" and row["shortfall"] == MINIMUM
    # a leap year: 12,000,000.00 × 60 / 366 = 196,721,311.47… fen → 196,721,312
    assert progress_math(minimum=MINIMUM, paid=0, year=2024, on=date(2024, 2, 29))["expected_to_date"] == 196_721_312
    # on 1 January one day is due: ⌈1,200,000,000 / 365⌉ = 3,287,672 (3,287,671.23…)
    assert progress_math(minimum=MINIMUM, paid=0, year=2025, on=date(2025, 1, 1))["expected_to_date"] == 3_287_672


def test_on_track_exactly_at_the_expectation_and_behind_one_fen_short():
    expected = 601_643_836
    on = progress_math(minimum=MINIMUM, paid=expected, year=2025, on=date(2025, 7, 2))
    assert (on["status"], on["behind"]) == ("on_track", 0)
    short = progress_math(minimum=MINIMUM, paid=expected - 1, year=2025, on=date(2025, 7, 2))
    assert (short["status"], short["behind"]) == ("behind", 1)


def test_year_end_boundaries_exact_minimum_and_one_fen_short():
    after = date(2026, 1, 1)
    met = progress_math(minimum=MINIMUM, paid=MINIMUM, year=2025, on=after)
    assert (met["status"], met["shortfall"], met["progress_bp"], met["closed"]) == ("met", 0, 10_000, True)
    short = progress_math(minimum=MINIMUM, paid=MINIMUM - 1, year=2025, on=after)
    assert (short["status"], short["shortfall"], short["progress_bp"]) == ("short", 1, 9_999)
    over = progress_math(minimum=MINIMUM, paid=MINIMUM + 50_00, year=2025, on=after)
    assert (over["status"], over["shortfall"]) == ("met", 0)
    # met during the year already
    assert progress_math(minimum=MINIMUM, paid=MINIMUM, year=2025, on=date(2025, 3, 1))["status"] == "met"


def test_before_the_year_nothing_is_expected():
    row = progress_math(minimum=MINIMUM, paid=0, year=2026, on=date(2025, 12, 31))
    assert (row["expected_to_date"], row["status"], row["closed"]) == (0, "on_track", False)


@given(minimum=st.integers(1, 10**14), paid=st.integers(0, 10**14), year=st.integers(2000, 2100),
       day=st.integers(0, 800))
def test_progress_invariants(minimum, paid, year, day):
    on = date(year - 1, 10, 1).fromordinal(date(year - 1, 10, 1).toordinal() + day)
    row = progress_math(minimum=minimum, paid=paid, year=year, on=on)
    assert 0 <= row["expected_to_date"] <= minimum
    assert row["shortfall"] == max(0, minimum - paid) and row["behind"] == max(0, row["expected_to_date"] - paid)
    # the expectation never falls short of the exact pro-rata amount and exceeds it by less than one fen
    exact_num = minimum * row["elapsed_days"]
    assert row["expected_to_date"] * row["days_in_year"] >= exact_num
    assert (row["expected_to_date"] - 1) * row["days_in_year"] < exact_num
    assert (row["status"] == "met") == (paid >= minimum)


@pytest.mark.django_db
def test_pair_progress_sums_confirmed_payments_of_the_year(approved_pair):
    ns = approved_pair(cash=30_000_000_00, year=2025)
    today = date(2026, 3, 1)
    pay(ns, 5_000_000_00, year=2025, today=today)
    pay(ns, 7_000_000_00 - 1, year=2025, today=today)
    pay(ns, 1_000_000_00, year=2026, today=today)
    # a pending (unconfirmed) payment does not count
    from assistance import services

    services.payment_propose(membership=ns.payer.trader, idempotency_key="pending-1", pair=ns.pair, year=2025,
                             amount=100, purpose_code="infrastructure", description="未确认", today=today)
    last = pair_progress(ns.pair, 2025, today)
    assert (last["paid"], last["shortfall"], last["status"]) == (MINIMUM - 1, 1, "short")
    this = pair_progress(ns.pair, 2026, today)
    # 2026-03-01: 31 + 28 + 1 = 60 days; ⌈1,200,000,000 × 60 / 365⌉ = 197,260,274 (197,260,273.97…)
    assert this["paid"] == 1_000_000_00 and this["expected_to_date"] == 197_260_274
    assert this["status"] == "behind" and this["behind"] == 97_260_274
