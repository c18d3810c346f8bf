"""Trading sessions as data: 9:30–11:30 and 13:00–15:00 Asia/Shanghai on working days, and the state
keys the roll-over uses between and after sessions."""
from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from marketplace.models import Holiday, Market, SessionWindow
from marketplace.sessions import LOCAL, is_session_key, market_state_at, session_at, trading_day


def at(day, hour, minute=0, second=0):
    return datetime(2026, 6, day, hour, minute, second, tzinfo=LOCAL)  # 2026-06-01 is a Monday


WINDOWS = [SessionWindow(start=time(13, 0), end=time(15, 0), weekdays="12345"),
           SessionWindow(start=time(9, 30), end=time(11, 30), weekdays="12345")]  # any order


@pytest.mark.django_db
@pytest.mark.parametrize("moment,session,state", [
    (at(1, 9, 29, 59), None, "2026-06-01#break"),
    (at(1, 9, 30), "2026-06-01#0", "2026-06-01#0"),
    (at(1, 11, 29, 59), "2026-06-01#0", "2026-06-01#0"),
    (at(1, 11, 30), None, "2026-06-01#break"),
    (at(1, 12, 59, 59), None, "2026-06-01#break"),
    (at(1, 13, 0), "2026-06-01#1", "2026-06-01#1"),
    (at(1, 14, 59, 59), "2026-06-01#1", "2026-06-01#1"),
    (at(1, 15, 0), None, "2026-06-01#closed"),
    (at(5, 10), "2026-06-05#0", "2026-06-05#0"),  # Friday
    (at(6, 10), None, "2026-06-06#closed"),  # Saturday
    (at(7, 14), None, "2026-06-07#closed"),  # Sunday
    (datetime(2026, 6, 1, 2, 0, tzinfo=UTC), "2026-06-01#0", "2026-06-01#0"),  # 10:00 in Shanghai
    (datetime(2026, 6, 1, 1, 29, tzinfo=UTC), None, "2026-06-01#break"),  # 9:29 in Shanghai
])
def test_windowed_sessions(moment, session, state):
    market = Market(always_open=False)
    assert session_at(market, moment, WINDOWS) == session
    assert market_state_at(market, moment, WINDOWS) == (session, state)


@pytest.mark.django_db
def test_holiday_is_closed():
    Holiday.objects.create(date=at(2, 0).date(), name="holiday")
    market = Market(always_open=False)
    assert session_at(market, at(2, 10), WINDOWS) is None
    assert market_state_at(market, at(2, 10), WINDOWS) == (None, "2026-06-02#closed")


@pytest.mark.django_db
def test_always_open_is_one_session_a_calendar_day():
    market = Market(always_open=True)
    assert market_state_at(market, at(6, 3), []) == ("2026-06-06", "2026-06-06")
    assert session_at(market, datetime(2026, 6, 1, 16, 30, tzinfo=UTC)) == "2026-06-02"


def test_state_keys():
    assert is_session_key("2026-06-01") and is_session_key("2026-06-01#1")
    assert not is_session_key("") and not is_session_key("2026-06-01#break")
    assert not is_session_key("2026-06-01#closed")
    assert trading_day("2026-06-01#1") == trading_day("2026-06-01") == "2026-06-01"
