"""Surveillance works from a watermark: a run reads only the trades above it, so a second run with no
new trade reads no trade row at all, and a later run sees only what is new."""
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Membership
from oversight.models import Alert, SurveillanceWatermark
from oversight.surveillance import run_surveillance
from trading.models import Trade

from tests.support.rules import YUAN

T = 1000
PRICE = 28_500 * YUAN
TRADE_DETECTORS = ("linked", "off_vwap", "cancel_ratio")  # concentration reads balances, not trades


def _trade_queries(ctx) -> list[str]:
    """Statements that read trade rows (the probe of the id sequence reads none)."""
    return [q["sql"] for q in ctx.captured_queries
            if "trading_trade" in q["sql"] and "pg_sequence_last_value" not in q["sql"]]


@pytest.mark.django_db
def test_second_run_without_new_trades_reads_no_trade_rows(world):
    m = world.market(subtype="SO2", region="350121")
    a, b = world.enterprise("350121"), world.enterprise("350102")
    world.issue(m, a, 10 * T)
    Membership.objects.create(user=a.trader.user, organization=b, role="viewer")
    first = world.cross(a, b, m, PRICE, T).trades[0]
    later = timezone.now() + timedelta(minutes=5)  # past the watermark's lag: the mark may move

    assert run_surveillance(now=later, detectors=TRADE_DETECTORS) == {"self_dealing": 1}
    assert SurveillanceWatermark.objects.get(name="trades").last_trade_id == first.id

    with CaptureQueriesContext(connection) as ctx:
        assert run_surveillance(now=later + timedelta(minutes=5), detectors=TRADE_DETECTORS) == {}
    assert _trade_queries(ctx) == [], _trade_queries(ctx)  # no trade row read: the sequence says nothing new
    assert SurveillanceWatermark.objects.get(name="trades").last_trade_id == first.id

    second = world.cross(a, b, m, PRICE, T).trades[0]
    with CaptureQueriesContext(connection) as ctx:
        assert run_surveillance(now=later + timedelta(minutes=10), detectors=TRADE_DETECTORS) == {"self_dealing": 1}
    new_trade_reads = [q for q in _trade_queries(ctx) if f"id > {first.id}" in q]
    assert new_trade_reads, "the run reads the trades above the watermark"
    assert SurveillanceWatermark.objects.get(name="trades").last_trade_id == second.id
    assert Alert.objects.filter(kind="self_dealing").count() == 2
    assert Trade.objects.count() == 2


@pytest.mark.django_db
def test_young_trades_do_not_move_the_watermark(world):
    m = world.market(subtype="SO2", region="350121")
    a, b = world.enterprise("350121"), world.enterprise("350102")
    world.issue(m, a, 10 * T)
    world.cross(a, b, m, PRICE, T)
    run_surveillance()  # `now`: the trade is seconds old, a lower id could still commit
    assert SurveillanceWatermark.objects.get(name="trades").last_trade_id == 0
