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
