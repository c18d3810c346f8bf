"""Each kind of user does its main task end to end in the browser: a county lists a farmland quota and
an enterprise buys it and watches it settle (through the real Celery worker); an enterprise sees the fee
and escrow before it places an order, then cancels it; a regulator sees the flows chart change when a
trade settles and approves a held trade; the trade dossier's inclusion proof is verified by the browser
(and a tampered root is not); the operator halts and resumes a market; a person with two organizations
chooses one at sign-in and switches. Numbers on the pages are compared with the API's."""
from __future__ import annotations

import re
from decimal import Decimal

import pytest

from ledger.models import Asset
from marketplace.models import Market
from oversight.models import ApprovalRequest
from trading.models import Listing, Trade

pytestmark = pytest.mark.celery


def _holding(client, code: str, kind: str = "participant") -> dict:
    return next(h for h in client.get("/api/v1/holdings").json() if h["asset"] == code and h["kind"] == kind)


def test_county_lists_a_quota_an_enterprise_buys_it_and_sees_it_settle(page_for, ui, api_client, celery_worker):
    county = page_for("songxi_trader")
    county.goto(county.base + "/county/")
    county.select_option("#l-kind", "fixed_price")
    county.select_option("#l-asset", label="FL-QTY-2026-350724 (mu)")
    county.fill("#l-title", "浏览器测试：补充耕地数量指标 12 亩")
    county.fill("#l-qty", "12")
    county.fill("#l-price", "46000")
    county.fill("#l-project", "SX-TDZZ-2025-014")
    county.fill("#l-doc", "松自然资验〔2025〕14号")
    ui.shot(county, "county-form")
    county.click("#listing-form button[type=submit]")
    assert "挂牌已发布" in county.inner_text(".messages")
    listing = Listing.objects.get(title="浏览器测试：补充耕地数量指标 12 亩")
    assert county.locator(f"tr[data-listing='{listing.id}']").count() == 1
    ui.shot(county, "county")
    ui.check_clean(county)

    buyer = page_for("minjiang_trader")
    buyer.goto(buyer.base + "/listings/")
    ui.shot(buyer, "listings")
    buyer.click(f"tr[data-listing='{listing.id}'] a")
    assert Decimal(buyer.inner_text("[data-testid=price]")) == Decimal("46000.00")
    ui.shot(buyer, "listing-fixed-price")
    buyer.fill("#buy-qty", "12")
    buyer.click("form button.primary")
    buyer.wait_for_url("**/desk/trades/")
    trade = Trade.objects.get(listing_id=listing.id)
    row = buyer.locator(f"tr[data-trade='{trade.id}']")
    # the page polls by itself (htmx) until the worker has settled the trade
    ui.poll(lambda: row.locator("[data-testid=status]").inner_text() == "settled", timeout=60,
            message="the trade to show as settled")
    api = api_client("minjiang_trader")
    shown = api.get(f"/api/v1/trades/{trade.id}").json()
    assert shown["status"] == "settled"
    assert Decimal(row.locator("td").nth(6).inner_text()) == Decimal(shown["value"]) == Decimal("552000.00")
    ui.shot(buyer, "my-trades")
    buyer.goto(buyer.base + "/desk/")
    cells = buyer.locator("tr[data-asset='FL-QTY-2026-350724'][data-kind='participant'] td")
    assert Decimal(cells.nth(2).inner_text()) == Decimal(_holding(api, "FL-QTY-2026-350724")["available"]) >= 12
    ui.shot(buyer, "desk")
    ui.check_clean(buyer)

    county.goto(county.base + "/county/")  # the proceeds went to the farmland-protection fund
    fund = _holding(api_client("songxi_trader"), "CNY", "earmarked")
    shown = county.inner_text("[data-fund=farmland] [data-testid=fund-balance]")
    assert Decimal(shown.split()[0]) == Decimal(fund["available"]) > 0
    ui.check_clean(county)


def test_enterprise_sees_fee_and_escrow_before_ordering_then_cancels(page_for, ui, api_client):
    carbon = Market.objects.get(code="CA-2026-350000")
    api = api_client("haicang_trader")
    held_before = Decimal(_holding(api, "CNY")["held"])  # the demo's resting bids
    page = page_for("haicang_trader")
    page.goto(f"{page.base}/desk/?market={carbon.id}")
    page.check("input[name=side][value=buy]")
    page.fill("#o-price", "85.00")  # below the asks (and inside the price band): the order rests
    page.fill("#o-quantity", "150")
    ui.poll(lambda: "元" in page.inner_text("[data-testid=hold]") if page.locator("[data-testid=hold]").count()
            else False, message="the fee and escrow preview")
    fee = Decimal(page.inner_text("[data-testid=fee]").split()[0])
    hold = Decimal(page.inner_text("[data-testid=hold]").split()[0])
    assert Decimal(page.inner_text("[data-testid=value]").split()[0]) == Decimal("12750.00")
    ui.shot(page, "desk-preview")
    page.click("#order-form button[type=submit]")
    assert "委托已提交" in page.inner_text(".messages")
    order = api.get("/api/v1/orders", {"market": carbon.id, "status": "open"}).json()["results"][0]
    assert Decimal(order["price"]) == Decimal("85.00")
    held = Decimal(_holding(api, "CNY")["held"])
    assert held - held_before == hold == Decimal("12750.00") + fee  # the preview's escrow is what the ledger holds
    row = page.locator("[data-testid=open-orders] tbody tr", has_text=str(order["id"]))
    row.locator("button").click()
    assert "委托已撤销" in page.inner_text(".messages")
    assert api.get(f"/api/v1/orders/{order['id']}").json()["status"] == "cancelled"
    assert Decimal(_holding(api, "CNY")["held"]) == held_before
    ui.check_clean(page)


def test_regulator_sees_the_flow_chart_change_and_approves_a_held_trade(page_for, ui, api_client):
    from trading.listings.services import listing_buy
    from trading.settlement.services import trade_settle

    page = page_for("regulator_fj_approver")
    page.goto(page.base + "/regulator/?right_type=farmland&period=30")
    page.wait_for_load_state("networkidle")
    assert page.locator("#sankey canvas").count() == 1
    before = page.evaluate("document.querySelector('#flow-table').textContent")
    assert "宁德" not in before  # no farmland has gone from Songxi to Ningde yet

    # a farmland purchase settles (the demo's Songxi listing, bought by a Ningde enterprise)
    from accounts.actor import Actor
    from accounts.models import Organization

    listing = Listing.objects.get(title="松溪县补充耕地数量指标 250 亩")
    ningde = Organization.objects.get(name_zh="宁德蕉城锂电材料有限公司")
    result = listing_buy(actor=Actor(user_id=None, organization_id=ningde.id, role="trader",
                                     organization_kind="enterprise"), buyer=ningde, listing_id=listing.id,
                         quantity=50 * 100)
    assert trade_settle(trade_id=result.trade.id) == "settled"

    page.reload()
    page.wait_for_load_state("networkidle")
    ui.poll(lambda: ui.canvas_has_content(page, "#sankey"), message="the Sankey chart")
    ui.poll(lambda: ui.canvas_has_content(page, "#volume"), message="the volume chart")
    after = page.evaluate("document.querySelector('#flow-table').textContent")
    assert "南平" in after and "宁德" in after
    flows = api_client("regulator_fj_approver").get("/api/v1/oversight/reports/flows",
                                                    {"right_type": "farmland", "level": "city"}).json()
    assert any(f["origin"] == "350700" and f["destination"] == "350900" for f in flows["rows"])

    page.goto(page.base + "/regulator/")
    page.wait_for_load_state("networkidle")
    ui.poll(lambda: ui.canvas_has_content(page, "#sankey"), message="the Sankey chart")
    ui.shot(page, "regulator")
    pending = int(page.inner_text("[data-testid=pending-count]"))
    assert pending == ApprovalRequest.objects.filter(status="pending").count() >= 1
    first = page.locator("[data-testid=approvals] tbody tr").first
    request_id = int(first.get_attribute("data-approval"))
    first.locator("input[name=reason]").fill("同意：跨区转让符合总量控制")
    first.locator("button", has_text="同意").click()
    assert "已同意" in page.inner_text(".messages")
    api = api_client("regulator_fj_admin")
    approval = api.get(f"/api/v1/oversight/approvals/{request_id}").json()
    decisions = [d for d in approval["decisions"] if d["decision"] == "approve"]
    assert len(decisions) == 1
    row = page.locator(f"tr[data-approval='{request_id}'] [data-testid=approvals-count]")
    assert row.inner_text() == f"1/{approval['required_approvals'] if 'required_approvals' in approval else 2}"
    ui.check_clean(page)


def test_dossier_inclusion_proof_is_verified_by_the_browser(page_for, ui):
    from ledger.sealing import seal

    trade = Trade.objects.filter(status="settled").order_by("-id").first()
    seal()
    page = page_for("regulator_fj_approver")
    page.goto(f"{page.base}/regulator/trades/{trade.id}/")
    page.wait_for_selector("#proof-result[data-verified]")
    assert page.get_attribute("#proof-result", "data-verified") == "true", page.inner_text("#proof-result")
    ui.shot(page, "dossier")
    ui.check_clean(page)

    # the same page with one hex digit of the checkpoint root changed in the proof JSON: the browser refuses it
    tampered = page_for("regulator_fj_approver")

    def alter(route):
        response = route.fetch()
        body = response.text()
        new = re.sub(r'("root": ")([0-9a-f])', lambda m: m.group(1) + ("0" if m.group(2) != "0" else "1"), body,
                     count=1)
        assert new != body
        route.fulfill(response=response, body=new)

    tampered.route(f"**/regulator/trades/{trade.id}/proof.json", alter)
    tampered.goto(f"{tampered.base}/regulator/trades/{trade.id}/")
    tampered.wait_for_selector("#proof-result[data-verified]")
    assert tampered.get_attribute("#proof-result", "data-verified") == "false"
    tampered.wait_for_selector("#signature-result[data-verified]")
    assert tampered.get_attribute("#signature-result", "data-verified") == "false"


def test_trade_search_and_export(page_for, ui):
    page = page_for("regulator_fj_approver")
    page.goto(page.base + "/regulator/trades/?right_type=carbon")
    rows = page.locator("[data-testid=search-results] tbody tr")
    assert rows.count() > 0 and "CA-2026-350000" in rows.first.inner_text()
    ui.shot(page, "trade-search")
    with page.expect_download() as download:
        page.click("[data-testid=export-csv]")
    text = open(download.value.path(), encoding="utf-8-sig").read()
    assert text.splitlines()[0].count(",") >= 5 and len(text.splitlines()) > 1
    ui.check_clean(page)


def test_operator_halts_and_resumes_a_market(page_for, ui, api_client):
    so2 = Market.objects.get(code="EM-NOX-2026-350121")
    page = page_for("operator_admin")
    page.goto(page.base + "/operator/")
    ui.shot(page, "operator")
    row = page.locator(f"tr[data-market='{so2.code}']")
    row.locator("input[name=reason]").fill("系统维护")
    row.locator("button").click()
    assert page.locator(f"tr[data-market='{so2.code}'] [data-testid=status]").inner_text() == "halted"
    api = api_client("operator_admin")
    assert api.get(f"/api/v1/markets/{so2.id}").json()["status"] == "halted"
    row = page.locator(f"tr[data-market='{so2.code}']")
    row.locator("input[name=reason]").fill("维护结束")
    row.locator("button").click()
    assert api.get(f"/api/v1/markets/{so2.id}").json()["status"] == "open"
    ui.check_clean(page)


def test_a_person_with_two_organizations_chooses_one_and_switches(page_for, ui):
    page = page_for("chen_consultant", organization="海沧新材料股份有限公司 (admin)")
    assert "海沧新材料" in page.inner_text("[data-testid=acting-org]")
    page.select_option("#switch-org", label="晋江纺织印染有限公司 (viewer)")
    page.click("form[action='/switch/'] button")
    page.wait_for_load_state()
    assert "晋江纺织" in page.inner_text("[data-testid=acting-org]")
    ui.check_clean(page)


def test_pages_need_the_right_organization(page_for):
    page = page_for("minjiang_trader")
    page.goto(page.base + "/regulator/")
    assert "/desk/" in page.url  # an enterprise is sent back to its desk, with a message
    anonymous = page_for()
    anonymous.goto(anonymous.base + "/desk/")
    assert "/login/" in anonymous.url
    assert Asset.objects.exists()


def test_enterprise_bids_in_an_english_auction_with_countdown_and_anti_sniping(page_for, ui, api_client):
    listing = Listing.objects.get(title="松溪县闽江流域取水权 50 万立方米竞价")
    page = page_for("minjiang_trader")
    page.goto(f"{page.base}/listings/{listing.id}/")
    assert "5" in page.inner_text("[data-testid=anti-snipe]")
    first = page.inner_text("[data-testid=countdown]")
    ui.poll(lambda: page.inner_text("[data-testid=countdown]") != first, timeout=5, message="the countdown to tick")
    assert re.search(r"\d+h \d+m \d+s", page.inner_text("[data-testid=countdown]"))
    page.fill("#bid-price", "0.90")
    page.click("form button.primary")
    assert "出价成功" in page.inner_text(".messages")
    ui.shot(page, "listing-auction")
    bids = api_client("minjiang_trader").get(f"/api/v1/listings/{listing.id}/bids").json()
    assert any(Decimal(b["price"] if "price" in b else b["amount"]) == Decimal("0.90") for b in bids)
    ui.check_clean(page)


def test_a_negotiated_offer_is_listed_only_for_its_parties(page_for):
    offer = Listing.objects.get(title="协议转让：闽江流域取水权 20 万立方米")
    named = page_for("minjiang_trader")  # the named buyer
    named.goto(named.base + "/listings/")
    assert named.locator(f"tr[data-listing='{offer.id}']").count() == 1
    other = page_for("longyan_trader")
    other.goto(other.base + "/listings/")
    assert other.locator("[data-testid=listings] tbody tr").count() >= 1
    assert other.locator(f"tr[data-listing='{offer.id}']").count() == 0
    assert other.goto(f"{other.base}/listings/{offer.id}/").status == 404
