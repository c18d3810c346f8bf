"""The paired-assistance page in the browser: the provincial regulator sees every demo pair with its
progress bar and chart, last year's shortfall (Fuzhou → Zhao'an) with its alert, and the overdue filter on
support commitments; a paying government proposes a payment and a second person of it confirms it on the
page, after which the paid figure matches the API's. No console error, no request to another host."""
from __future__ import annotations

from decimal import Decimal

from django.utils import timezone


def _row(rows: list[dict], payee_name: str) -> dict:
    return next(r for r in rows if r["payee_name"] == payee_name)


def test_regulator_sees_progress_shortfall_and_commitments(page_for, ui, api_client):
    last = timezone.localdate().year - 1
    page = page_for("regulator_fj_approver")
    page.goto(f"{page.base}/assistance/?year={last}")
    page.wait_for_load_state("networkidle")
    ui.poll(lambda: ui.canvas_has_content(page, "#assistance-chart"), message="the assistance chart")
    api = api_client("regulator_fj_approver")
    report = api.get("/api/v1/assistance/reports/progress", {"year": last}).json()["rows"]
    assert page.locator("[data-testid=pairs] tbody tr[data-pair]").count() == len(report) == 3
    for r in report:
        row = page.locator(f"tr[data-pair='{r['pair']}']")
        assert Decimal(row.locator("[data-testid=paid]").inner_text()) == Decimal(r["paid"])
        assert Decimal(row.locator("[data-testid=shortfall]").inner_text()) == Decimal(r["shortfall"])
        assert row.get_attribute("data-status") == r["status"]
    zhaoan = _row(report, "诏安县人民政府")
    assert zhaoan["status"] == "short" and zhaoan["shortfall"] == "2500000.00"
    assert page.locator(f"tr[data-pair='{zhaoan['pair']}'] progress").get_attribute("value") == "7916"
    assert "诏安县人民政府" in page.inner_text("[data-testid=shortfall-alerts]")
    ui.shot(page, "assistance-regulator")
    page.click("text=只看逾期")
    page.wait_for_load_state()
    assert page.locator("[data-testid=commitments] tr[data-commitment]").count() == 0  # the demo's are not due
    page.click("text=全部")
    states = sorted(page.locator("[data-testid=commitments] tr[data-commitment]").evaluate_all(
        "rows => rows.map(r => r.dataset.state)"))
    assert states == ["fulfilled", "open"]
    with page.expect_download() as download:
        page.click("[data-testid=export-progress]")
    assert download.value.suggested_filename == "assistance-progress.csv"
    ui.check_clean(page)


def test_government_proposes_and_a_second_person_confirms_a_payment(page_for, ui, api_client):
    year = timezone.localdate().year
    api = api_client("fuqing_approver")
    before = _row(api.get("/api/v1/assistance/reports/progress").json()["rows"], "松溪县人民政府")
    maker = page_for("fuqing_admin")
    maker.goto(maker.base + "/assistance/")
    maker.select_option("#pay-year", str(year))
    maker.fill("#pay-amount", "100000.00")
    maker.select_option("#pay-purpose", "infrastructure")
    maker.fill("#pay-desc", "浏览器测试：援建道路")
    maker.click("#pay-form button[type=submit]")
    assert "等待本单位另一位审核人确认" in maker.inner_text(".messages")
    pending = maker.locator("[data-testid=pending-payments] tr[data-payment]")
    assert pending.count() == 1 and pending.locator("button.confirm").count() == 0  # not the maker's to confirm
    ui.shot(maker, "assistance-government")
    ui.check_clean(maker)

    checker = page_for("fuqing_approver")
    checker.goto(checker.base + "/assistance/")
    checker.locator("[data-testid=pending-payments] button.confirm").click()
    assert "付款已确认并记账" in checker.inner_text(".messages")
    after = _row(api.get("/api/v1/assistance/reports/progress").json()["rows"], "松溪县人民政府")
    assert Decimal(after["paid"]) - Decimal(before["paid"]) == Decimal("100000.00")
    row = checker.locator(f"tr[data-pair='{after['pair']}']")
    assert Decimal(row.locator("[data-testid=paid]").inner_text()) == Decimal(after["paid"])
    ui.poll(lambda: ui.canvas_has_content(checker, "#assistance-chart"), message="the assistance chart")
    ui.check_clean(checker)
