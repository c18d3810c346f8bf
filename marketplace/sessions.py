"""Trading sessions: which session (if any) is open at a given moment, in Asia/Shanghai time.

Session keys are strings: "2026-11-27" for an always-open market (one session a calendar day) and
"2026-11-27#1" for the second window of a windowed market's day. Windows apply on working days: the
ISO weekdays listed on the window, minus `Holiday` dates.

`market_state_at` names the state a market is in when no session is open, so that the roll-over
(`trading.orderbook.services.market_lock`) notices every transition: "2026-11-27#break" between two windows of a
trading day, "2026-11-27#closed" once the day's last window has ended (or on a day without trading).
Day orders live until the end of their trading day: they expire on the roll into "#closed" or into a
session of a later day.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings

from .models import Holiday, Market

LOCAL = ZoneInfo(settings.TIME_ZONE)
BREAK, CLOSED = "break", "closed"


def _windows(market: Market, windows) -> list:
    windows = list(market.session_windows.all()) if windows is None else list(windows)
    return sorted(windows, key=lambda w: w.start)


def session_at(market: Market, at: datetime, windows=None) -> str | None:
    local = at.astimezone(LOCAL)
    day = local.date().isoformat()
    if market.always_open:
        return day
    windows = _windows(market, windows)
    if Holiday.objects.filter(date=local.date()).exists():
        return None
    weekday = str(local.isoweekday())
    t = local.time()
    for i, w in enumerate(windows):
        if weekday in w.weekdays and w.start <= t < w.end:
            return f"{day}#{i}"
    return None


def market_state_at(market: Market, at: datetime, windows=None) -> tuple[str | None, str]:
    """(open session or None, state key). The state key is the session key while a session is open,
    else "<date>#break" (a later window of the same trading day is still to come) or "<date>#closed"."""
    local = at.astimezone(LOCAL)
    day = local.date().isoformat()
    if market.always_open:
        return day, day
    windows = _windows(market, windows)
    if Holiday.objects.filter(date=local.date()).exists():
        return None, f"{day}#{CLOSED}"
    weekday = str(local.isoweekday())
    t = local.time()
    later = False
    for i, w in enumerate(windows):
        if weekday not in w.weekdays:
            continue
        if w.start <= t < w.end:
            key = f"{day}#{i}"
            return key, key
        later = later or t < w.start
    return None, f"{day}#{BREAK if later else CLOSED}"


def is_session_key(key: str) -> bool:
    """True for a real session ("2026-11-27", "2026-11-27#0"), False for "" and the closed states."""
    return bool(key) and not key.endswith((f"#{BREAK}", f"#{CLOSED}"))


def trading_day(key: str) -> str:
    return key.split("#", 1)[0]
