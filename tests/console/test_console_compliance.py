"""The compliance page in the browser (demo data: carbon 2025, deadline 2026-11-30): an enterprise sees its
obligation, allocation, surrendered, remaining and deadline as the API reports them, and a surrender after
the deadline is refused with the API's message; the provincial regulator sees the shortfall list with the
short cement plant, a city regulator only its own city's enterprises."""
from __future__ import annotations

from datetime import date

from compliance.demo import DEADLINE


def _cells(page, selector: str) -> list[str]:
    return [t.strip() for t in page.locator(selector).all_inner_texts()]


def test_enterprise_sees_its_obligation_and_a_late_surrender_is_refused(page_for, ui, api_client):
    page = page_for("longyan_trader")
    page.goto(page.base + "/compliance/")
    page.wait_for_load_state("networkidle")
    api = api_client("longyan_trader").get("/api/v1/compliance/obligations").json()
    assert len(api) == 1
    row = api[0]
    assert (row["obligation"], row["surrendered"], row["remaining"], row["deadline"]) == (
        "1180000", "1100000", "80000", "2026-11-30")
    assert _cells(page, "[data-testid=obligations] [data-testid=obligation]") == [row["obligation"]]
    assert _cells(page, "[data-testid=obligations] [data-testid=surrendered]") == [row["surrendered"]]
    assert _cells(page, "[data-testid=obligations] [data-testid=allocated]") == [row["allocated"]] == ["1100000"]
    assert _cells(page, "[data-testid=obligations] [data-testid=remaining]")[0].startswith("80000")
    assert _cells(page, "[data-testid=obligations] [data-testid=deadline]")[0].startswith("2026-11-30")
    assert "v2" in _cells(page, "[data-testid=obligations] [data-testid=emissions]")[0]  # the corrected version
    ui.shot(page, "compliance-enterprise")
    form = page.locator("[data-testid=surrender-form]")
    form.locator("input[name=amount]").fill("1")
    form.locator("button").click()
    page.wait_for_load_state("networkidle")
    text = page.inner_text(".messages")
    if date.today() > DEADLINE:
        assert "截止日" in text and "K-DEADLINE-001" in text
        after = api_client("longyan_trader").get("/api/v1/compliance/obligations").json()[0]
        assert after["surrendered"] == "1100000"
    else:  # pragma: no cover - only before the demo's deadline
        assert "清缴已完成" in text
    ui.check_clean(page)


def test_regulators_see_the_shortfall_list_in_their_jurisdiction(page_for, ui, api_client):
    page = page_for("regulator_fj_approver")
    page.goto(page.base + "/compliance/")
    page.wait_for_load_state("networkidle")
    year = api_client("regulator_fj_approver").get("/api/v1/compliance/years").json()[0]["id"]
    report = api_client("regulator_fj_approver").get("/api/v1/compliance/shortfalls", {"year": year}).json()
    short = [r for r in report["rows"] if r["shortfall"] != "0"]
    assert [(r["organization_name"], r["shortfall"]) for r in short] == [("龙岩闽西水泥有限公司", "80000")]
    row = page.locator(f"[data-testid=shortfalls] tr[data-org='{short[0]['organization']}']")
    assert row.locator("[data-testid=shortfall]").inner_text().strip() == "80000"
    assert page.locator("[data-testid=shortfalls] tbody tr").count() == len(report["rows"]) == 3
    ui.shot(page, "compliance-regulator")
    ui.check_clean(page)

    fz = page_for("regulator_fz_approver")
    fz.goto(fz.base + "/compliance/")
    fz.wait_for_load_state("networkidle")
    names = _cells(fz, "[data-testid=shortfalls] tbody tr td:first-child")
    assert names == ["闽江热电有限公司"]  # Minhou (350121) is in Fuzhou; Longyan and Xiamen are not
    ui.check_clean(fz)
