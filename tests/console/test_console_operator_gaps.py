"""Browser tests of the operator's and enterprise's pages added after the first console: maker-checker
deposits (one person proposes, a second confirms, the balance moves only then), market proposals with
four eyes, memberships and invitations, webhook settings, and the county's public notice period."""
from __future__ import annotations

from decimal import Decimal

from accounts.models import Organization
from ledger.models import MovementRequest


def _cny(page) -> Decimal:
    return Decimal(page.inner_text("tr[data-asset='CNY'][data-kind='participant'] [data-testid=available]")
                   .replace(",", ""))


def test_operator_admin_proposes_a_deposit_a_second_person_confirms_it(page_for, ui, api_client):
    org = Organization.objects.get(memberships__user__username="minjiang_trader")
    desk = page_for("minjiang_trader")
    desk.goto(desk.base + "/desk/")
    before = _cny(desk)

    maker = page_for("operator_admin")
    maker.goto(maker.base + "/operator/")
    maker.select_option("#c-org", str(org.pk))
    maker.fill("#c-amount", "1234.56")
    maker.fill("#c-bank", "BROWSER-DEP-0001")
    maker.click("form[action$='/operator/cash/deposits/'] button:not([formaction])")
    message = maker.inner_text(".messages")
    assert "等待另一位复核人确认" in message, message
    movement = MovementRequest.objects.get(request__bank_reference="BROWSER-DEP-0001")
    assert movement.status == "pending"
    row = maker.locator(f"tr[data-movement='{movement.id}']")
    assert Decimal(row.locator("[data-testid=amount]").inner_text()) == Decimal("1234.56")
    assert "入金" in row.inner_text()
    ui.shot(maker, "operator-movements")
    # the proposer may not confirm their own request: the API refuses, the page says why
    row.locator("[data-testid=confirm]").click()
    assert maker.locator(".messages li.error").count() == 1
    assert "已确认并记账" not in maker.inner_text(".messages")
    movement.refresh_from_db()
    assert movement.status == "pending"
    desk.goto(desk.base + "/desk/")
    assert _cny(desk) == before  # nothing posted yet

    checker = page_for("operator_approver")
    checker.goto(checker.base + "/operator/")
    checker.locator(f"tr[data-movement='{movement.id}'] [data-testid=confirm]").click()
    assert "已确认并记账" in checker.inner_text(".messages")
    movement.refresh_from_db()
    assert movement.status == "confirmed" and movement.transaction_id
    assert checker.locator(f"tr[data-movement='{movement.id}']").count() == 0
    ui.check_clean(checker)

    desk.goto(desk.base + "/desk/")
    after = _cny(desk)
    assert after - before == Decimal("1234.56")
    api = api_client("minjiang_trader")
    shown = next(h for h in api.get("/api/v1/holdings").json() if h["asset"] == "CNY" and h["kind"] == "participant")
    assert Decimal(shown["available"]) == after
    ui.check_clean(desk)


def test_market_change_is_proposed_then_confirmed_by_a_second_operator_person(page_for, ui):
    from marketplace.models import Market, MarketProposal

    market = Market.objects.filter(status="open").order_by("code").first()
    new_fee = 7 if market.fee_bps != 7 else 8
    maker = page_for("operator_admin")
    maker.goto(maker.base + "/operator/")
    maker.select_option("#cf-market", str(market.pk))
    maker.fill("#cf-fee", str(new_fee))
    maker.fill("#cf-why", "浏览器测试：调整手续费")
    maker.click("#configure-form button[type=submit]")
    assert "等待另一位运营人员确认" in maker.inner_text(".messages")
    proposal = MarketProposal.objects.filter(market=market).order_by("-id").first()
    assert proposal.status == "pending" and proposal.config == {"fee_bps": new_fee}
    market.refresh_from_db()
    assert market.fee_bps != new_fee  # nothing applied before the second person
    assert maker.locator(f"tr[data-proposal='{proposal.id}']").count() == 1
    ui.shot(maker, "operator-proposals")

    checker = page_for("operator_approver")
    checker.goto(checker.base + "/operator/")
    checker.locator(f"tr[data-proposal='{proposal.id}'] [data-testid=confirm]").click()
    assert "市场提议已确认并生效" in checker.inner_text(".messages"), checker.inner_text(".messages")
    market.refresh_from_db()
    assert market.fee_bps == new_fee
    assert checker.locator(f"tr[data-market='{market.code}'] td").nth(2).inner_text() == f"{new_fee} bp"
    ui.check_clean(maker)
    ui.check_clean(checker)


def test_operator_admin_lists_members_and_invites_an_existing_user(page_for, ui):
    from accounts.models import MembershipInvitation

    org = Organization.objects.get(memberships__user__username="minjiang_trader")
    page = page_for("operator_admin")
    page.goto(page.base + "/operator/")
    page.click(f"tr[data-org='{org.pk}'] a")
    assert page.locator("tr[data-member='minjiang_trader']").count() == 1
    assert page.locator("tr[data-member='haicang_trader']").count() == 0
    page.fill("#inv-user", "haicang_trader")
    page.select_option("#inv-role", "viewer")
    page.click("#invite-form button[type=submit]")
    assert "邀请已发出" in page.inner_text(".messages")
    invitation = MembershipInvitation.objects.get(organization=org, user__username="haicang_trader")
    assert invitation.status == "pending" and invitation.role == "viewer"
    assert page.locator("tr[data-invitation='haicang_trader']").count() == 1
    assert page.locator("tr[data-member='haicang_trader']").count() == 0  # a member only once they accept
    ui.shot(page, "operator-organization")
    ui.check_clean(page)


def test_enterprise_admin_manages_webhooks_and_sees_only_the_generic_delivery_error(page_for, ui, settings):
    from trading.models import WebhookDelivery, WebhookEndpoint

    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True  # the test's URL is a loopback one (the check itself is the API's)
    org = Organization.objects.get(memberships__user__username="minjiang_admin")
    page = page_for("minjiang_admin")
    page.goto(page.base + "/desk/webhooks/")
    page.fill("#wh-url", "http://127.0.0.1:9/browser-hook")
    page.check("input[name=events][value=settled]")
    page.click("#webhook-form button[type=submit]")
    assert "密钥只显示这一次" in page.inner_text(".messages")
    endpoint = WebhookEndpoint.objects.get(organization=org, url="http://127.0.0.1:9/browser-hook")
    assert endpoint.events == ["settled"]
    first = page.inner_text("[data-testid=secret-value]")
    assert first == endpoint.secret
    page.goto(page.base + "/desk/webhooks/")  # shown once: not on the next visit
    assert page.locator("[data-testid=secret-value]").count() == 0
    card = page.locator(f"section[data-endpoint='{endpoint.id}']")
    assert card.locator("[data-testid=hint]").inner_text() == "…" + first[-4:]

    card.locator("[data-testid=rotate]").click()
    endpoint.refresh_from_db()
    assert endpoint.secret != first and page.inner_text("[data-testid=secret-value]") == endpoint.secret

    delivery = WebhookDelivery.objects.create(endpoint=endpoint, trade_id=1, event="settled", payload={},
                                              status="gave_up", attempts=8,
                                              last_error="connect to 10.1.2.3:443 refused (internal detail)")
    page.goto(page.base + "/desk/webhooks/")
    row = page.locator(f"tr[data-delivery='{delivery.id}']")
    assert row.locator("[data-testid=error]").inner_text() == "delivery failed"
    assert "10.1.2.3" not in page.inner_text("main")
    ui.shot(page, "webhooks")

    page.locator(f"section[data-endpoint='{endpoint.id}'] [data-testid=delete]").click()
    assert "Webhook 已删除" in page.inner_text(".messages")
    assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    ui.check_clean(page)


def test_webhook_page_refuses_a_private_url_with_the_api_field_error(page_for, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    page = page_for("minjiang_admin")
    page.goto(page.base + "/desk/webhooks/")
    page.fill("#wh-url", "http://127.0.0.1:9/nope")
    page.click("#webhook-form button[type=submit]")
    assert page.locator(".messages li.error").count() == 1
    assert "url" in page.inner_text(".messages")


def test_county_sees_a_water_trade_in_its_public_notice_with_the_date_it_becomes_final(page_for, ui, api_client):
    from django.utils import timezone

    from oversight.models import ApprovalRequest
    from trading.models import Listing, Trade

    offer = Listing.objects.get(title="协议转让：闽江流域取水权 20 万立方米")
    accepted = api_client("minjiang_trader").post(f"/api/v1/listings/{offer.id}/accept", {}, format="json",
                                                  HTTP_IDEMPOTENCY_KEY="browser-notice-accept")
    assert accepted.status_code in (200, 201), accepted.content
    trade = Trade.objects.get(listing_id=offer.id)
    request = ApprovalRequest.objects.get(trade=trade)
    assert request.status == "pending" and request.notice_until > timezone.now()

    county = page_for("songxi_trader")
    county.goto(county.base + "/county/")
    row = county.locator(f"tr[data-notice-trade='{trade.id}']")
    assert row.count() == 1
    local = timezone.localtime(request.notice_until)
    assert row.locator("[data-testid=notice-until]").inner_text() == local.strftime("%Y-%m-%d %H:%M")
    assert row.locator("[data-testid=final-on]").inner_text().startswith(local.strftime("%Y-%m-%d"))
    assert "协议转让：闽江流域取水权" in row.inner_text()
    ui.shot(county, "county-notice")
    ui.check_clean(county)


def test_regulator_exports_the_trade_search_as_xlsx(page_for, ui):
    from io import BytesIO

    from openpyxl import load_workbook

    page = page_for("regulator_fj_approver")
    page.goto(page.base + "/regulator/trades/?right_type=carbon")
    shown = page.locator("[data-testid=search-results] tbody tr").count()
    with page.expect_download() as download:
        page.click("[data-testid=export-xlsx]")
    assert download.value.suggested_filename.endswith(".xlsx")
    sheet = load_workbook(BytesIO(open(download.value.path(), "rb").read()), read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) > 1 and len(rows[0]) >= 5 and shown > 0
    assert any("CA-2026-350000" in str(cell) for row in rows[1:] for cell in row)
    ui.check_clean(page)


def test_county_issuance_awaits_a_second_person_and_the_operator_confirms_it(page_for, ui, api_client):
    county = page_for("songxi_trader")
    before = Decimal(next(h for h in api_client("songxi_trader").get("/api/v1/holdings").json()
                          if h["asset"] == "WR-MINJIANG-2026-350724" and h["kind"] == "participant")["available"])
    county.goto(county.base + "/county/")
    county.select_option("#i-asset", "WR-MINJIANG-2026-350724")
    county.fill("#i-amount", "1000")
    county.click("#issue-form button[type=submit]")
    assert "等待另一位复核人确认" in county.inner_text(".messages"), county.inner_text(".messages")
    movement = MovementRequest.objects.filter(kind="issue", status="pending").order_by("-id").first()
    assert county.locator(f"tr[data-movement='{movement.id}']").count() == 1  # the issuer sees its request
    ui.check_clean(county)

    checker = page_for("operator_approver")
    checker.goto(checker.base + "/operator/")
    checker.locator(f"tr[data-movement='{movement.id}'] [data-testid=confirm]").click()
    assert "已确认并记账" in checker.inner_text(".messages"), checker.inner_text(".messages")
    after = Decimal(next(h for h in api_client("songxi_trader").get("/api/v1/holdings").json()
                         if h["asset"] == "WR-MINJIANG-2026-350724" and h["kind"] == "participant")["available"])
    assert after - before == 1000


def test_a_new_market_exists_only_after_a_second_operator_person_confirms_it(page_for, ui):
    from marketplace.models import Market, MarketProposal

    assert not Market.objects.filter(code="WR-TINGHAN-BROWSER").exists()
    maker = page_for("operator_admin")
    maker.goto(maker.base + "/operator/")
    from ledger.models import Asset

    free = maker.locator("#mp-asset option").first.get_attribute("value")  # an instrument without a market
    asset = Asset.objects.get(code=free)
    assert not Market.objects.filter(asset=asset).exists()
    maker.select_option("#mp-asset", free)
    maker.fill("#mp-code", "WR-TINGHAN-BROWSER")
    maker.fill("#mp-name-zh", "浏览器测试市场")
    maker.fill("#mp-lot", "1")
    maker.fill("#mp-tick", "0.01")
    maker.fill("#mp-ref", "0.90")
    maker.fill("#mp-fee", "5")
    maker.click("#market-form button[type=submit]")
    assert "等待另一位运营人员确认" in maker.inner_text(".messages"), maker.inner_text(".messages")
    proposal = MarketProposal.objects.get(config__code="WR-TINGHAN-BROWSER")
    assert proposal.status == "pending" and not Market.objects.filter(code="WR-TINGHAN-BROWSER").exists()
    # the proposer's own confirm is refused (four eyes)
    maker.locator(f"tr[data-proposal='{proposal.id}'] [data-testid=confirm]").click()
    assert maker.locator(".messages li.error").count() == 1
    assert not Market.objects.filter(code="WR-TINGHAN-BROWSER").exists()

    checker = page_for("operator_approver")
    checker.goto(checker.base + "/operator/")
    checker.locator(f"tr[data-proposal='{proposal.id}'] [data-testid=confirm]").click()
    assert "市场提议已确认并生效" in checker.inner_text(".messages"), checker.inner_text(".messages")
    market = Market.objects.get(code="WR-TINGHAN-BROWSER")
    assert market.fee_bps == 5 and market.reference_price == 90
    assert checker.locator("tr[data-market='WR-TINGHAN-BROWSER']").count() == 1
    ui.check_clean(maker)
    ui.check_clean(checker)
