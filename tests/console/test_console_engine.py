"""The enterprise desk on a market matched by the engine (#19): the console asks the API to wait for the
engine (`Prefer: wait`); when the engine has not taken the order within the wait, the page says the order
is accepted and queued with its escrow held, lists it as queued among the live orders, and a cancel is
queued the same way — the engine then cancels it and releases the escrow."""
from __future__ import annotations

from decimal import Decimal

from marketplace.models import Market
from trading.models import Order
from trading.orderbook.engine import drain


def _held_cny(client) -> Decimal:
    row = next(h for h in client.get("/api/v1/holdings").json() if h["asset"] == "CNY" and h["kind"] == "participant")
    return Decimal(row["held"])


def test_desk_shows_an_order_queued_for_the_engine_and_queues_its_cancel(page_for, ui, api_client, settings,
                                                                         monkeypatch):
    import console.views

    carbon = Market.objects.get(code="CA-2026-350000")
    settings.ENGINE_MARKETS = [carbon.id]  # this market matched by the engine, no engine process running
    settings.ENGINE_EAGER = False
    monkeypatch.setattr(console.views, "ENGINE_WAIT", "wait=0.2")
    api = api_client("haicang_trader")
    held_before = _held_cny(api)
    page = page_for("haicang_trader")
    page.goto(f"{page.base}/desk/?market={carbon.id}")
    page.check("input[name=side][value=buy]")
    page.fill("#o-price", "85.00")  # below the asks, inside the band: it would rest
    page.fill("#o-quantity", "150")
    page.click("#order-form button[type=submit]")
    assert "排队等待撮合" in page.inner_text(".messages")
    order = Order.objects.filter(market=carbon, organization__memberships__user__username="haicang_trader",
                                 status="accepted").latest("id")
    assert _held_cny(api) > held_before  # escrow before exposure: held at acceptance
    row = page.locator("[data-testid=open-orders] tbody tr", has_text=str(order.id))
    assert row.locator("[data-testid=queued]").inner_text() == "待撮合"
    ui.shot(page, "desk-engine-queued")
    page.set_viewport_size({"width": 390, "height": 844})  # the same desk at phone width
    ui.shot(page, "desk-engine-queued-phone")
    page.set_viewport_size({"width": 1366, "height": 768})
    row.locator("button").click()
    assert "撤单请求已受理" in page.inner_text(".messages")
    assert drain(carbon.id) == 2  # the engine takes the acceptance, then the cancel
    order.refresh_from_db()
    assert (order.status, order.cancel_reason, order.hold_remaining) == ("cancelled", "cancelled_by_owner", 0)
    assert _held_cny(api) == held_before
    page.goto(f"{page.base}/desk/?market={carbon.id}")
    assert page.locator("[data-testid=open-orders] tbody tr", has_text=str(order.id)).count() == 0
    ui.check_clean(page)
