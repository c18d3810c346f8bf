"""Trading sessions: which session (if any) is open at a given moment, in Asia/Shanghai time.

Session keys are strings: "2026-11-27" for an always-open market (one session a calendar day) and
"2026-11-27#1" for the second window of a windowed market's day."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings

from .models import Holiday, Market

LOCAL = ZoneInfo(settings.TIME_ZONE)


def session_at(market: Market, at: datetime, windows=None) -> str | None:
    local = at.astimezone(LOCAL)
    day = local.date().isoformat()
    if market.always_open:
        return day
    windows = list(market.session_windows.all()) if windows is None else windows
    if Holiday.objects.filter(date=local.date()).exists():
        return None
    weekday = str(local.isoweekday())
    t = local.time()
    for i, w in enumerate(sorted(windows, key=lambda w: w.start)):
        if weekday in w.weekdays and w.start <= t < w.end:
            return f"{day}#{i}"
    return None
