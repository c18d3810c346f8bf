"""The `auction_burst` bench scenario's reference (`bench.drivers.auction_burst.reference`), checked
against hand-made bid logs, so that a wrong reference cannot silently agree with a wrong server: the
English auction's rules (reserve, increment, acceptance order = bid id, anti-sniping extensions that
move the end by the window, the highest bid wins and pays its bid) and the contradictions it reports."""
from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from bench.drivers.auction_burst import reference

END = datetime.fromisoformat("2026-12-06T10:00:00+00:00")
MINUTE = timedelta(minutes=1)


def ok(bidder, amount, bid_id, at):
    return {"bidder": bidder, "amount": amount, "status": 201, "code": None, "bid_id": bid_id,
            "bid_at": at if isinstance(at, str) else at.isoformat()}


def refused(bidder, amount, code, status=400):
    return {"bidder": bidder, "amount": amount, "status": status, "code": code}


def ref(rows, **kw):
    return reference(rows, reserve=10_000, increment=10, end_at=kw.pop("end_at", END), anti_snipe=MINUTE, **kw)


def test_a_burst_with_extensions_refusals_and_answers_out_of_order():
    rows = [
        ok(1, 10_000, 5, "2026-12-06T09:59:00.500000+00:00"),  # 59.5 s before the end: extended to 10:01
        refused(3, 10_000, "bid_below_increment"),
        ok(2, 10_010, 6, "2026-12-06T17:59:30+08:00"),  # 09:59:30 UTC, 90 s before 10:01: no extension
        ok(2, 10_060, 9, "2026-12-06T10:01:59+00:00"),  # answered before bid 8 but accepted after it
        ok(4, 10_050, 8, "2026-12-06T10:00:30+00:00"),  # 30 s before 10:01: extended to 10:02
        refused(5, 10_020, "bid_below_increment"),
        refused(6, 10_100, "timeout", status=None),  # no answer: not a bid the auction knows
        refused(7, 9_990, "bid_below_reserve"),
    ]
    r = ref(rows)
    # bid 9 at 10:01:59 is 1 s before 10:02: extended to 10:03
    assert r["problems"] == []
    assert (r["winner"], r["winner_bid"], r["price"]) == (2, 9, 10_060)
    assert r["end_at"] == datetime.fromisoformat("2026-12-06T10:03:00+00:00")
    assert (r["extensions"], r["accepted"]) == (3, 4)


def test_no_bid_accepted_means_no_winner_and_the_end_unmoved():
    r = ref([refused(1, 9_000, "bid_below_reserve"), refused(2, 10_000, "timeout", status=None)])
    assert (r["winner"], r["price"], r["end_at"], r["extensions"], r["problems"]) == (None, None, END, 0, [])


def test_bids_long_before_the_end_do_not_extend_it():
    r = ref([ok(1, 10_000, 1, END - 5 * MINUTE), ok(2, 10_010, 2, END - 2 * MINUTE)])
    assert (r["winner"], r["price"], r["end_at"], r["extensions"]) == (2, 10_010, END, 0)


def test_a_bid_exactly_one_window_before_the_end_does_not_extend_it():
    assert ref([ok(1, 10_000, 1, END - MINUTE)])["extensions"] == 0  # "less than" the window extends


def test_contradictions_are_reported():
    # accepted without beating the best by the increment
    assert ref([ok(1, 10_000, 1, END - 5 * MINUTE), ok(2, 10_005, 2, END - 4 * MINUTE)])["problems"]
    # accepted below the reserve
    assert ref([ok(1, 9_990, 1, END - 5 * MINUTE)])["problems"]
    # accepted after the end in force (one extension moved it to 10:01; 10:01:00 is too late)
    late = ref([ok(1, 10_000, 1, END - timedelta(seconds=10)), ok(2, 10_010, 2, END + MINUTE)])
    assert late["problems"] and late["end_at"] == END + MINUTE + MINUTE
    # the highest bid was not the last accepted one (bid 3, accepted after bid 2, is lower)
    lower_last = ref([ok(1, 10_000, 1, END - 5 * MINUTE), ok(2, 10_500, 2, END - 4 * MINUTE),
                      ok(3, 10_100, 3, END - 3 * MINUTE)])
    assert any("is not the last accepted" in p for p in lower_last["problems"])
    assert (lower_last["winner"], lower_last["price"]) == (2, 10_500)
    # a bid refused as too low that beats every accepted bid by the increment
    assert ref([ok(1, 10_000, 1, END - 5 * MINUTE), refused(2, 10_010, "bid_below_increment")])["problems"]
    # a bid refused as below the reserve that is not
    assert ref([refused(2, 10_000, "bid_below_reserve")])["problems"]


@st.composite
def valid_logs(draw):
    """A log of an auction run by the rules: accepted bids rising by at least the increment at rising
    times (some in the last minute), refusals below the best at their time, time-outs. Bids are at most
    50 s apart, so none can skip a whole last minute: each one is before the end then in force."""
    rows, amount, at, bid_id = [], 10_000 + 10 * draw(st.integers(0, 5)), END - 3 * MINUTE, 0
    for _ in range(draw(st.integers(0, 12))):
        at += timedelta(seconds=draw(st.integers(1, 50)))
        bid_id += draw(st.integers(1, 3))
        rows.append(ok(draw(st.integers(1, 6)), amount, bid_id, at))
        if draw(st.booleans()):
            rows.append(refused(7, amount + draw(st.integers(0, 9)), "bid_below_increment"))
        if draw(st.booleans()):
            rows.append(refused(8, amount + 500, "timeout", status=None))
        amount += 10 * draw(st.integers(1, 4))
    return rows


@given(valid_logs(), st.randoms(use_true_random=False))
def test_the_result_depends_on_the_bids_not_on_the_order_of_the_answers(rows, rng):
    r = ref(rows)
    assert r["problems"] == []
    shuffled = list(rows)
    rng.shuffle(shuffled)
    assert ref(shuffled) == r  # answers arrive in any order; acceptance order is the bid id
    accepted = [x for x in rows if x["status"] == 201]
    if accepted:  # the last accepted bid is the highest and wins at its own price
        assert (r["winner"], r["price"], r["winner_bid"]) == (accepted[-1]["bidder"], accepted[-1]["amount"],
                                                              accepted[-1]["bid_id"])
        assert r["end_at"] >= END and r["extensions"] == (r["end_at"] - END) // MINUTE
