"""Browser tests of the console's fourth round: the checkpoint's Ed25519 signature re-checked by the
browser (next to the inclusion proof), the invitee's accept/decline page, role change and deactivation
on the members page, session windows / settlement mode / lot size in the market forms, and the history
of decided maker-checker requests, market proposals and approvals."""
from __future__ import annotations

import json

import pytest

from trading.models import Trade


@pytest.fixture
def sealed_trade():
    from ledger.sealing import seal

    trade = Trade.objects.filter(status="settled").order_by("-id").first()
    seal()
    return trade


def _verdicts(page) -> tuple[str, str]:
    page.wait_for_selector("#proof-result[data-verified]")
    page.wait_for_selector("#signature-result[data-verified]")
    return (page.get_attribute("#proof-result", "data-verified"),
            page.get_attribute("#signature-result", "data-verified"))


def _tampering(page, trade_id: int, change):
    """Route the dossier's proof JSON through `change(data)` (the page itself is untouched)."""
    def alter(route):
        response = route.fetch()
        data = response.json()
        change(data)
        route.fulfill(response=response, body=json.dumps(data))

    page.route(f"**/regulator/trades/{trade_id}/proof.json", alter)


def _flip(hex_text: str, at: int = 0) -> str:
    digit = hex_text[at]
    return hex_text[:at] + ("0" if digit != "0" else "1") + hex_text[at + 1:]


def test_genuine_dossier_shows_proof_and_signature_verified(page_for, ui, sealed_trade):
    from ledger.keys import verify
    from ledger.models import Checkpoint
    from ledger.sealing import checkpoint_signed_body

    page = page_for("regulator_fj_approver")
    page.goto(f"{page.base}/regulator/trades/{sealed_trade.id}/")
    assert _verdicts(page) == ("true", "true"), (page.inner_text("#proof-result"), page.inner_text("#signature-result"))
    cp = Checkpoint.objects.order_by("-tree_size").first()
    assert cp.key_id in page.inner_text("#signature-result")
    from ledger.models import SigningKey

    # the server-side verifier agrees with the browser on the same checkpoint
    assert verify(checkpoint_signed_body(cp), cp.signature, bytes(SigningKey.objects.get(key_id=cp.key_id).public_key))
    ui.shot(page, "dossier-signature")
    ui.check_clean(page)


def test_tampered_signature_is_not_verified_but_the_proof_still_is(page_for, ui, sealed_trade):
    page = page_for("regulator_fj_approver")
    _tampering(page, sealed_trade.id,
               lambda d: d["checkpoint"].update(signature=_flip(d["checkpoint"]["signature"], 5)))
    page.goto(f"{page.base}/regulator/trades/{sealed_trade.id}/")
    assert _verdicts(page) == ("true", "false")
    assert "✘" in page.inner_text("#signature-result")
    ui.check_clean(page)


def test_tampered_signed_field_is_not_verified(page_for, sealed_trade):
    # a changed timestamp is not covered by the inclusion proof, only by the signature
    page = page_for("regulator_fj_approver")
    _tampering(page, sealed_trade.id,
               lambda d: d["checkpoint"]["body"].update(created_at=d["checkpoint"]["body"]["created_at"].replace(
                   d["checkpoint"]["body"]["created_at"][:4], "1999")))
    page.goto(f"{page.base}/regulator/trades/{sealed_trade.id}/")
    assert _verdicts(page) == ("true", "false")


def test_tampered_leaf_is_not_verified_but_the_signature_still_is(page_for, ui, sealed_trade):
    page = page_for("regulator_fj_approver")
    _tampering(page, sealed_trade.id, lambda d: d["proof"].update(leaf_data=_flip(d["proof"]["leaf_data"], 40),
                                                                  leaf_hash=_flip(d["proof"]["leaf_hash"])))
    page.goto(f"{page.base}/regulator/trades/{sealed_trade.id}/")
    assert _verdicts(page) == ("false", "true")
    ui.check_clean(page)


def test_unknown_key_id_is_not_verified(page_for, sealed_trade):
    page = page_for("regulator_fj_approver")
    _tampering(page, sealed_trade.id, lambda d: d["checkpoint"].update(key_id="0123456789abcdef"))
    page.goto(f"{page.base}/regulator/trades/{sealed_trade.id}/")
    assert _verdicts(page)[1] == "false"


# --- the invitee's page ---------------------------------------------------------------------------------------

def test_invited_user_accepts_from_the_nav_and_can_switch_to_the_organization(page_for, ui):
    from accounts.models import Membership, MembershipInvitation

    admin = page_for("minjiang_admin")
    admin.click("nav >> text=成员")
    assert admin.locator("tr[data-member='minjiang_trader']").count() == 1
    admin.fill("#inv-user", "longyan_trader")
    admin.select_option("#inv-role", "viewer")
    admin.click("#invite-form button[type=submit]")
    assert "邀请已发出" in admin.inner_text(".messages")
    invitation = MembershipInvitation.objects.get(user__username="longyan_trader", status="pending")
    ui.check_clean(admin)

    invitee = page_for("longyan_trader")
    link = invitee.locator("[data-testid=nav-invitations]")
    assert link.count() == 1 and link.locator(".badge").inner_text() == "1"
    link.click()
    row = invitee.locator(f"tr[data-invitation='{invitation.id}']")
    assert "闽江" in row.inner_text() and row.locator("[data-testid=role]").inner_text() == "查询员"
    ui.shot(invitee, "invitations")
    row.locator("[data-testid=accept]").click()
    assert "已加入" in invitee.inner_text(".messages"), invitee.inner_text(".messages")
    invitation.refresh_from_db()
    assert invitation.status == "accepted"
    joined = Membership.objects.get(user__username="longyan_trader", organization=invitation.organization)
    assert joined.role == "viewer" and joined.is_active
    assert invitee.locator("[data-testid=nav-invitations]").count() == 0  # nothing pending any more
    assert invitee.locator(f"#switch-org option[value='{joined.pk}']").count() == 1
    ui.check_clean(invitee)


def test_invited_user_declines(page_for, ui):
    from accounts.actor import Actor
    from accounts.models import Membership, MembershipInvitation
    from accounts.services import membership_invite

    admin = Membership.objects.select_related("organization").get(user__username="minjiang_admin")
    org = admin.organization
    membership_invite(actor=Actor(user_id=admin.user_id, organization_id=org.pk, role="admin",
                                  organization_kind=org.kind), organization=org, role="trader",
                      username="ningde_trader")
    invitation = MembershipInvitation.objects.get(user__username="ningde_trader", status="pending")
    page = page_for("ningde_trader")
    page.goto(page.base + "/invitations/")
    page.locator(f"tr[data-invitation='{invitation.id}'] [data-testid=decline]").click()
    assert "已谢绝邀请" in page.inner_text(".messages")
    invitation.refresh_from_db()
    assert invitation.status == "declined"
    assert not Membership.objects.filter(user__username="ningde_trader", organization=org).exists()
    assert page.locator(f"tr[data-invitation='{invitation.id}']").count() == 0
    ui.check_clean(page)


# --- members: role change and deactivation ---------------------------------------------------------------------

def test_org_admin_changes_a_role_deactivates_a_member_and_cannot_remove_the_last_admin(page_for, ui):
    from accounts.models import ApiToken, AuditEvent, Membership

    page = page_for("minjiang_admin")
    page.goto(page.base + "/organization/members/")
    viewer = Membership.objects.get(user__username="minjiang_viewer")
    row = page.locator("tr[data-member='minjiang_viewer']")
    row.locator("[data-testid=role-select]").select_option("trader")
    row.locator("[data-testid=change-role]").click()
    assert "角色已修改" in page.inner_text(".messages"), page.inner_text(".messages")
    viewer.refresh_from_db()
    assert viewer.role == "trader"
    assert page.locator("tr[data-member='minjiang_viewer'] [data-testid=role]").inner_text() == "trader"
    assert AuditEvent.objects.filter(action="membership.update", object_id=str(viewer.pk)).exists()

    # deactivation revokes the member's tokens: the approver signed in elsewhere is signed out
    approver = Membership.objects.get(user__username="minjiang_approver")
    other = page_for("minjiang_approver")
    page.locator("tr[data-member='minjiang_approver'] [data-testid=deactivate]").click()
    assert "成员已停用" in page.inner_text(".messages")
    approver.refresh_from_db()
    assert not approver.is_active
    assert not ApiToken.objects.filter(membership=approver, revoked_at__isnull=True).exists()
    other.goto(other.base + "/desk/")
    assert "/login/" in other.url
    ui.shot(page, "members")

    # the only admin may not deactivate or demote themself: the API's last_admin refusal is shown
    page.locator("tr[data-member='minjiang_admin'] [data-testid=deactivate]").click()
    assert page.locator(".messages li.error").count() == 1
    assert "至少需要保留一名有效的管理员" in page.inner_text(".messages")
    row = page.locator("tr[data-member='minjiang_admin']")
    row.locator("[data-testid=role-select]").select_option("viewer")
    row.locator("[data-testid=change-role]").click()
    assert "至少需要保留一名有效的管理员" in page.inner_text(".messages")
    me = Membership.objects.get(user__username="minjiang_admin")
    assert me.is_active and me.role == "admin"

    page.locator("tr[data-member='minjiang_approver'] [data-testid=reactivate]").click()
    assert "成员已重新启用" in page.inner_text(".messages")
    approver.refresh_from_db()
    assert approver.is_active
    ui.check_clean(page)


def test_operator_admin_changes_a_role_on_an_organization_page_and_a_trader_may_not(page_for, ui):
    from accounts.models import Membership

    target = Membership.objects.select_related("organization").get(user__username="haicang_trader")
    page = page_for("operator_admin")
    page.goto(f"{page.base}/operator/organizations/{target.organization_id}/")
    row = page.locator("tr[data-member='haicang_trader']")
    row.locator("[data-testid=role-select]").select_option("approver")
    row.locator("[data-testid=change-role]").click()
    assert "角色已修改" in page.inner_text(".messages")
    target.refresh_from_db()
    assert target.role == "approver"
    ui.check_clean(page)

    # a trader has no members page, and a forged form post is refused by the API
    trader = page_for("minjiang_trader")
    trader.goto(trader.base + "/organization/members/")
    assert "/organization/members/" not in trader.url
    assert trader.locator("nav >> text=成员").count() == 0
    csrf = trader.context.cookies()
    token = next(c["value"] for c in csrf if c["name"] == "csrftoken")
    response = trader.request.post(f"{trader.base}/members/{target.pk}/",
                                   form={"role": "admin", "csrfmiddlewaretoken": token, "next": "/desk/"},
                                   headers={"Referer": trader.base + "/desk/"})
    assert response.ok
    target.refresh_from_db()
    assert target.role == "approver"


# --- market forms: session windows, settlement mode, lot size ---------------------------------------------------

def _confirm_proposal(page_for, proposal_id: int):
    checker = page_for("operator_approver")
    checker.goto(checker.base + "/operator/")
    checker.locator(f"tr[data-proposal='{proposal_id}'] [data-testid=confirm]").click()
    assert "市场提议已确认并生效" in checker.inner_text(".messages"), checker.inner_text(".messages")
    return checker


def test_new_market_with_session_windows_and_end_of_day_settlement(page_for, ui):
    from datetime import time

    from ledger.models import Asset
    from marketplace.models import Market, MarketProposal

    maker = page_for("operator_admin")
    maker.goto(maker.base + "/operator/")
    free = maker.locator("#mp-asset option").first.get_attribute("value")
    asset = Asset.objects.get(code=free)
    maker.select_option("#mp-asset", free)
    maker.fill("#mp-code", "SESSIONS-BROWSER")
    maker.fill("#mp-lot", "10")
    maker.fill("#mp-ref", "1.00")
    # "sessions" without a window: the API's own field error, nothing proposed
    maker.check("#mp-hours-sessions")
    maker.click("#market-form button[type=submit]")
    assert maker.locator(".messages li.error").count() == 1 and "session_windows" in maker.inner_text(".messages")
    assert not MarketProposal.objects.filter(config__code="SESSIONS-BROWSER").exists()

    maker.select_option("#mp-asset", free)
    maker.fill("#mp-code", "SESSIONS-BROWSER")
    maker.fill("#mp-lot", "10")
    maker.fill("#mp-ref", "1.00")
    maker.check("#mp-hours-sessions")
    maker.fill("#mp-sw-start-0", "09:30")
    maker.fill("#mp-sw-end-0", "11:30")
    maker.fill("#mp-sw-start-1", "13:00")
    maker.fill("#mp-sw-end-1", "15:00")
    maker.fill("#mp-sw-days-1", "135")
    maker.select_option("#mp-settle", "eod")
    maker.fill("#mp-cutoff", "16:00")
    maker.click("#market-form button[type=submit]")
    assert "等待另一位运营人员确认" in maker.inner_text(".messages"), maker.inner_text(".messages")
    proposal = MarketProposal.objects.get(config__code="SESSIONS-BROWSER")
    assert proposal.config["always_open"] is False and proposal.config["settlement_mode"] == "eod"
    assert proposal.config["session_windows"] == [["09:30:00", "11:30:00", "12345"], ["13:00:00", "15:00:00", "135"]]
    assert proposal.config["lot_size"] == 10 * 10 ** asset.scale
    ui.check_clean(maker)

    checker = _confirm_proposal(page_for, proposal.id)
    market = Market.objects.get(code="SESSIONS-BROWSER")
    assert not market.always_open and market.settlement_mode == "eod" and market.eod_cutoff == time(16, 0)
    assert [(w.start, w.end, w.weekdays) for w in market.session_windows.all()] == [
        (time(9, 30), time(11, 30), "12345"), (time(13, 0), time(15, 0), "135")]
    row = checker.locator("tr[data-market='SESSIONS-BROWSER']")
    assert row.locator("[data-testid=hours]").inner_text() == "09:30–11:30 (12345), 13:00–15:00 (135)"
    assert row.locator("[data-testid=settlement]").inner_text() == "eod 16:00"
    ui.check_clean(checker)


def test_reconfigure_lot_size_and_hours_of_a_market(page_for, ui):
    from decimal import Decimal

    from core.money import to_minor
    from marketplace.models import Market, MarketProposal

    market = Market.objects.select_related("asset").filter(status="open", always_open=True).order_by("code").first()
    new_lot = Decimal(market.lot_size) / 10 ** market.asset.scale * 2
    maker = page_for("operator_admin")
    maker.goto(maker.base + "/operator/")
    maker.select_option("#cf-market", str(market.pk))
    maker.fill("#cf-lot", str(new_lot))
    maker.check("#cf-hours-sessions")
    maker.fill("#cf-sw-start-0", "08:00")
    maker.fill("#cf-sw-end-0", "12:00")
    maker.fill("#cf-why", "浏览器测试：交易单位与时段")
    maker.click("#configure-form button[type=submit]")
    assert "等待另一位运营人员确认" in maker.inner_text(".messages"), maker.inner_text(".messages")
    proposal = MarketProposal.objects.filter(market=market).order_by("-id").first()
    assert proposal.config == {"lot_size": to_minor(new_lot, market.asset.scale), "always_open": False,
                               "session_windows": [["08:00:00", "12:00:00", "12345"]]}
    _confirm_proposal(page_for, proposal.id)
    market.refresh_from_db()
    assert market.lot_size == to_minor(new_lot, market.asset.scale) and not market.always_open
    assert market.session_windows.count() == 1


# --- history of decided requests ---------------------------------------------------------------------------------

def _deposit(api_client, org_id: int, reference: str) -> int:
    proposed = api_client("operator_admin").post("/api/v1/cash/deposits", {
        "organization": org_id, "amount": "2345.67", "bank_reference": reference}, format="json",
        HTTP_IDEMPOTENCY_KEY=reference)
    assert proposed.status_code == 202, proposed.content
    return proposed.json()["id"]


def test_operator_sees_decided_movements_and_proposals_paged(page_for, ui, api_client):
    from accounts.models import Organization
    from ledger.models import MovementRequest
    from marketplace.models import Market

    org = Organization.objects.get(memberships__user__username="minjiang_trader")
    checker = api_client("operator_approver")
    confirmed = _deposit(api_client, org.pk, "HIST-DEP-CONFIRM")
    assert checker.post(f"/api/v1/movement-requests/{confirmed}/confirm", {}, format="json").status_code == 201
    rejected = []
    for i in range(11):  # more than a page
        mid = _deposit(api_client, org.pk, f"HIST-DEP-REJECT-{i:02d}")
        assert checker.post(f"/api/v1/movement-requests/{mid}/reject", {"reason": f"核对不符 {i}"},
                            format="json").status_code == 200
        rejected.append(mid)
    market = Market.objects.order_by("code").first()
    proposed = api_client("operator_admin").patch(f"/api/v1/markets/{market.pk}",
                                                  {"fee_bps": 9, "reason": "history"}, format="json")
    assert proposed.status_code == 202, proposed.content
    proposal = proposed.json()["id"]
    assert checker.post(f"/api/v1/market-proposals/{proposal}/reject", {"reason": "不同意调整"},
                        format="json").status_code == 200

    page = page_for("operator_admin")
    page.goto(page.base + "/operator/")
    history = page.locator("[data-testid=history-movements]")
    history.wait_for()
    newest = history.locator(f"tr[data-history='{rejected[-1]}']")
    assert newest.locator("[data-testid=proposed-by]").inner_text().startswith("operator_admin")
    assert newest.locator("[data-testid=decided-by]").inner_text() == "operator_approver"
    assert newest.locator("[data-testid=outcome]").inner_text() == "rejected" and "核对不符 10" in newest.inner_text()
    assert history.locator("tbody tr").count() == 10
    assert history.locator(f"tr[data-history='{confirmed}']").count() == 0  # older: on a later page
    decided = MovementRequest.objects.exclude(status="pending").count()
    assert history.locator("[data-testid=page-of]").inner_text() == f"1 / {-(-decided // 10)}"
    history.locator("[data-testid=next]").click()
    page.wait_for_selector("[data-testid=history-movements] [data-testid=page-of]:has-text('2 /')")
    history = page.locator("[data-testid=history-movements]")
    row = history.locator(f"tr[data-history='{confirmed}']")
    if decided > 20:  # the demo's own decided requests may push it further back
        assert row.count() == 0
    else:
        assert row.locator("[data-testid=outcome]").inner_text() == "confirmed"
        assert row.locator("[data-testid=decided-by]").inner_text() == "operator_approver"

    proposals = page.locator("[data-testid=history-proposals]")
    row = proposals.locator(f"tr[data-history='{proposal}']")
    assert row.locator("[data-testid=proposed-by]").inner_text() == "operator_admin"
    assert row.locator("[data-testid=decided-by]").inner_text() == "operator_approver"
    assert row.locator("[data-testid=outcome]").inner_text() == "rejected" and "不同意调整" in row.inner_text()
    assert "fee_bps=9" in row.inner_text()
    ui.shot(page, "operator-history")
    ui.check_clean(page)

    # the standalone page (no htmx) lists the same rows
    page.goto(page.base + "/history/proposals/")
    assert page.locator(f"tr[data-history='{proposal}']").count() == 1
    ui.check_clean(page)


def test_regulator_sees_decided_approvals_and_others_see_no_foreign_history(page_for, ui, api_client):
    from oversight.models import ApprovalRequest

    request = ApprovalRequest.objects.filter(status="pending").order_by("id").first()
    rejected = api_client("regulator_fj_approver").post(f"/api/v1/oversight/approvals/{request.id}/reject",
                                                        {"reason": "材料不全"}, format="json")
    assert rejected.status_code == 200, rejected.content
    request.refresh_from_db()
    assert request.status == "rejected"

    page = page_for("regulator_fj_approver")
    page.goto(page.base + "/regulator/")
    history = page.locator("[data-testid=history-approvals]")
    history.wait_for()
    row = history.locator(f"tr[data-history='{request.id}']")
    assert row.locator("[data-testid=outcome]").inner_text() == "rejected"
    assert row.locator("[data-testid=decided-by]").inner_text() == "regulator_fj_approver (reject)"
    assert request.trade.seller.name_zh in row.locator("[data-testid=proposed-by]").inner_text()
    assert "材料不全" in row.inner_text()
    ui.shot(page, "regulator-history")
    ui.check_clean(page)

    # an enterprise has no approvals or proposals history, and sees only its own movements
    desk = page_for("minjiang_trader")
    for what in ("approvals", "proposals"):
        response = desk.request.get(f"{desk.base}/history/{what}/")
        assert response.status == 404
    desk.goto(desk.base + "/history/movements/")
    assert desk.locator("[data-testid=history-movements] tbody tr[data-history]").count() == 0


# --- every page at 1366×768 and at a phone's width ---------------------------------------------------------------

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 768}

UNLABELLED = """() => Array.from(document.querySelectorAll('input, select, textarea')).filter(el => {
    if (el.type === 'hidden' || el.closest('[hidden]')) return false;
    if (el.getAttribute('aria-label') || el.closest('label')) return false;
    return !(el.id && document.querySelector('label[for="' + el.id + '"]'));
}).map(el => el.outerHTML.slice(0, 120))"""


WIDEST = """() => Array.from(document.querySelectorAll('body *')).filter(el =>
    !el.closest('.table-wrap') && el.getBoundingClientRect().right > document.documentElement.clientWidth + 1).slice(-4)
    .map(el => el.tagName + '.' + el.className + '#' + el.id)"""


def _pages():
    from accounts.models import Organization
    from marketplace.models import Market

    trade = Trade.objects.filter(status="settled").order_by("-id").first()
    org = Organization.objects.get(memberships__user__username="minjiang_trader")
    market = Market.objects.order_by("code").first()
    return {
        None: ["/", f"/markets/{market.id}/"],
        "minjiang_admin": ["/desk/", "/listings/", "/desk/trades/", "/desk/webhooks/", "/organization/members/",
                           "/invitations/", "/history/movements/"],
        "songxi_trader": ["/county/"],
        "regulator_fj_approver": ["/regulator/", "/regulator/trades/", f"/regulator/trades/{trade.id}/",
                                  "/history/approvals/"],
        "operator_admin": ["/operator/", f"/operator/organizations/{org.pk}/", "/history/movements/",
                           "/history/proposals/"],
    }


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1366x768", "phone"])
def test_every_page_fits_the_width_has_labelled_fields_and_stays_clean(page_for, ui, viewport):
    for username, paths in _pages().items():
        page = page_for(username, viewport=viewport)
        for path in paths:
            page.goto(page.base + path)
            page.wait_for_load_state("networkidle")
            assert page.url.endswith(path), f"{username} was sent from {path} to {page.url}"
            overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 1, (f"{path} is {overflow}px wider than {viewport['width']}px: "
                                   f"{page.evaluate(WIDEST)}")
            assert page.evaluate(UNLABELLED) == [], path
            name = path.strip("/").replace("/", "-") or "markets"
            ui.shot(page, f"layout-{viewport['width']}-{username or 'public'}-{name}")
        ui.check_clean(page)
