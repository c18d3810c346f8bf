"""The county page's earmarked funds (issue #17): a government that received basin eco-compensation
(Longyan, in the demo) sees its three funds with the balances the API reports; a payout out of the basin
fund for a farmland purpose is refused on the page and moves nothing; one for a basin purpose is recorded
and the basin fund alone goes down by it. No console error, no request to another host."""
from __future__ import annotations

from decimal import Decimal


def _funds(api) -> dict[str, Decimal]:
    return {h["fund"]: Decimal(h["available"]) for h in api.get("/api/v1/holdings").json() if h["fund"]}


def _pay(page, fund: str, purpose: str, amount: str) -> None:
    page.select_option("#p-fund", fund)
    page.fill("#p-amount", amount)
    page.fill("#p-purpose", purpose)
    page.fill("#p-desc", "汀江流域水污染防治项目")
    page.click("form[action$='/county/payouts/'] button[type=submit]")
    page.wait_for_load_state("networkidle")


def test_funds_are_shown_apart_and_a_payout_spends_only_its_fund(page_for, ui, api_client):
    api = api_client("longyan_admin")
    before = _funds(api)
    assert set(before) == {"farmland", "basin_compensation", "paired_assistance"}
    assert before["basin_compensation"] > 0
    page = page_for("longyan_admin")
    page.goto(page.base + "/county/")
    assert page.locator("[data-testid=funds] tr[data-fund]").count() == 3
    for fund, balance in before.items():
        shown = page.inner_text(f"tr[data-fund={fund}] [data-testid=fund-balance]")
        assert Decimal(shown.replace(",", "")) == balance
    _pay(page, "basin_compensation", "farmland_protection", "1000.00")
    assert page.locator("ul.messages li.error").count() == 1
    assert _funds(api) == before
    _pay(page, "basin_compensation", "water_pollution_control", "1000.00")
    assert page.locator("ul.messages li.success").count() == 1
    after = _funds(api)
    assert after == {**before, "basin_compensation": before["basin_compensation"] - Decimal("1000.00")}
    ui.shot(page, "county-funds")
    ui.check_clean(page)
