"""The eco-compensation pages: a party (Longyan) and the provincial regulator see the same Tingjiang–Hanjiang
agreement, the indicator chart draws, each period shows its result and the computation, the cumulative
transfers match the API (the central reward shown as such, the monthly and annual rates, each section's
annual means), the correction made after settlement is shown; another party's agreement is a 404."""
from __future__ import annotations

from compensation.models import Agreement


def test_agreement_page_for_a_party_and_the_regulator(page_for, ui, api_client):
    ting = Agreement.objects.get(code="tingjiang-hanjiang")
    api = api_client("longyan_admin").get(f"/api/v1/compensation/agreements/{ting.id}").json()
    # Guangdong's ¥150 million and the Ministry of Finance's central reward of ¥30 + ¥15 million
    assert api["cumulative_total"] == "195000000.00"
    for username in ("longyan_admin", "regulator_fj_approver"):
        page = page_for(username)
        page.goto(page.base + "/compensation/")
        assert page.locator("tr[data-agreement='tingjiang-hanjiang']").count() == 1
        page.click("tr[data-agreement='tingjiang-hanjiang'] a")
        page.wait_for_load_state("networkidle")
        ui.poll(lambda page=page: ui.canvas_has_content(page, "#indicator-chart"), message="the indicator chart")
        assert page.inner_text("[data-testid=cumulative-total]") == api["cumulative_total"]
        amounts = page.locator("[data-testid=transfer-amount]").all_inner_texts()
        assert amounts == ["100000000.00", "30000000.00", "50000000.00", "15000000.00"]
        assert page.locator("[data-testid=central-reward]").count() == 2
        # both indicators: 2025 reaches 0.9 by the monthly rate, but only 1 of 2 sections by the annual mean
        assert "(11/12)" in page.inner_text("article.period[data-period='2025'] [data-testid=rates]")
        assert "(1/2)" in page.inner_text("article.period[data-period='2025'] [data-testid=rates]")
        row = page.inner_text("article.period[data-period='2025'] tr[data-section='tingjiang-boundary']")
        assert "10/12" in row and "non_compliant" in row and "✗" in row  # the spill lifts the annual NH3-N mean
        row = page.inner_text("article.period[data-period='2025'] tr[data-section='shikuhe-boundary']")
        assert "12/12" in row and "non_compliant" not in row
        assert "2025-03 nh3n v1" in page.inner_text("[data-testid=corrected]")
        page.locator("details").first.click()
        assert "compliance rate" in page.inner_text("article.period")
        ui.shot(page, f"compensation-{username}")
        ui.check_clean(page)
    jiu = Agreement.objects.get(code="jiulongjiang-zhangzhou-xiamen")
    page = page_for("longyan_admin")
    response = page.goto(f"{page.base}/compensation/{jiu.id}/")
    assert response.status == 404


def test_guangdong_regulator_sees_the_cross_provincial_agreement_only(page_for, ui, api_client):
    """Guangdong's regulator (demo `regulator_gd_approver`, jurisdiction 440000): Tingjiang–Hanjiang on the page
    and in the API, approved by two people of each province; the Fujian-internal Jiulong agreement is a 404;
    no Fujian trade reaches its regulator pages."""
    from compensation.models import CompensationApproval

    ting = Agreement.objects.get(code="tingjiang-hanjiang")
    jiu = Agreement.objects.get(code="jiulongjiang-zhangzhou-xiamen")
    api = api_client("regulator_gd_approver")
    assert [a["code"] for a in api.get("/api/v1/compensation/agreements").json()["results"]] == [
        "tingjiang-hanjiang"]
    assert api.get("/api/v1/oversight/trades").json()["results"] == []
    assert api.get(f"/api/v1/compensation/agreements/{jiu.id}").status_code == 404
    ting_approvals = CompensationApproval.objects.filter(version__agreement=ting).union(
        CompensationApproval.objects.filter(assessment__period__agreement=ting))
    assert {(a.required, a.status) for a in ting_approvals} == {(4, "approved")}
    page = page_for("regulator_gd_approver")
    page.goto(page.base + "/compensation/")
    assert page.locator("tr[data-agreement='tingjiang-hanjiang']").count() == 1
    assert page.locator("tr[data-agreement='jiulongjiang-zhangzhou-xiamen']").count() == 0
    page.click("tr[data-agreement='tingjiang-hanjiang'] a")
    page.wait_for_load_state("networkidle")
    total = api.get(f"/api/v1/compensation/agreements/{ting.id}").json()["cumulative_total"]
    assert page.inner_text("[data-testid=cumulative-total]") == total
    ui.shot(page, "compensation-regulator_gd_approver")
    page.goto(page.base + "/regulator/trades/")
    assert page.locator("[data-testid=search-results] tbody tr td a").count() == 0
    ui.check_clean(page)
    assert page.goto(f"{page.base}/compensation/{jiu.id}/").status == 404
