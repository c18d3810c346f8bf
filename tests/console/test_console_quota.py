"""Browser tests of issue #18's pages: an enterprise composes a package bid over a market and sees the
outcome (filled, then an impossible one unfilled with its escrow released), with the numbers the API
gives; regulators see the government reserve of their jurisdiction (and only that)."""
from __future__ import annotations

from decimal import Decimal

from core.money import from_minor
from marketplace.models import Market
from trading.models import Order


def test_enterprise_places_a_package_and_sees_the_outcome(page_for, ui, api_client):
    so2 = Market.objects.get(code="EM-SO2-2026-350121")
    best_ask = (Order.objects.filter(market=so2, side="sell", status="open")
                .exclude(organization__memberships__user__username="minjiang_trader").order_by("price", "id").first())
    limit = from_minor(best_ask.price, 2)  # within the price band, and what the first unit costs
    page = page_for("minjiang_trader")
    page.goto(page.base + "/desk/packages/")
    page.select_option("#leg0-target", f"m:{so2.id}")
    page.fill("#leg0-quantity", "1")
    page.fill("#leg0-limit", limit)
    page.click("[data-testid=place-package]")
    page.wait_for_load_state()
    assert "一笔交收" in page.inner_text(".messages"), page.inner_text("main")
    api = api_client("minjiang_trader")
    newest = api.get("/api/v1/packages").json()["results"][0]
    assert newest["status"] == "filled"
    row = page.locator(f"tr[data-package='{newest['id']}']")
    assert row.locator("[data-testid=status]").inner_text() == "filled"
    assert Decimal(row.locator("[data-testid=paid]").inner_text()) == Decimal(newest["paid"]) > 0
    assert row.locator("[data-testid=filled]").inner_text() == "1.000"
    ui.shot(page, "packages")

    # one unit more than the book holds at the limit: nothing is bought, the escrow goes back
    depth = sum(Order.objects.filter(market=so2, side="sell", status="open", price__lte=best_ask.price)
                .values_list("remaining", flat=True))
    page.select_option("#leg0-target", f"m:{so2.id}")
    page.fill("#leg0-quantity", str(depth // 10**so2.asset.scale + 1))
    page.fill("#leg0-limit", limit)
    page.click("[data-testid=place-package]")
    page.wait_for_load_state()
    assert "冻结资金已全部释放" in page.inner_text(".messages")
    newest = api.get("/api/v1/packages").json()["results"][0]
    assert (newest["status"], newest["paid"]) == ("unfilled", "0.00")
    assert page.locator(f"tr[data-package='{newest['id']}'] [data-testid=status]").inner_text() == "unfilled"
    ui.check_clean(page)


def test_regulators_see_the_reserve_of_their_jurisdiction(page_for, ui, api_client):
    fz = page_for("regulator_fz_approver")
    fz.goto(fz.base + "/reserve/")
    overview = api_client("regulator_fz_approver").get("/api/v1/reserve/overview").json()["reserves"]
    assert len(overview) == 1
    reserve = overview[0]
    section = fz.locator(f"section[data-reserve='{reserve['designation']['id']}']")
    assert section.count() == 1
    holding = reserve["holdings"][0]
    shown = section.locator(f"tr[data-holding='{holding['asset']}'] [data-testid=available]").inner_text()
    assert Decimal(shown) == Decimal(holding["available"])
    assert section.locator("[data-testid=floor]").inner_text() == reserve["designation"]["floor_price"]
    assert section.locator("tr[data-tender]").count() == len(reserve["tenders"]) >= 1
    assert fz.locator("[data-testid=reserve-export]").count() == 1
    ui.shot(fz, "reserve")
    ui.check_clean(fz)
    xm = page_for("regulator_xm_approver")
    xm.goto(xm.base + "/reserve/")
    assert xm.locator("section[data-reserve]").count() == 0
    ui.check_clean(xm)
