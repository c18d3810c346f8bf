"""Guangdong's regulator and cross-provincial agreements (issue #17, the Guangdong side).

* Scope, both directions: Guangdong's regulator (jurisdiction 440000) sees the Longyan–Guangdong agreement,
  its monitoring data, approvals, results export and Guangdong's row of the region report, and nothing of
  a Fujian-internal agreement, of Fujian's trades, of Fujian's paired assistance; Fujian's regulator sees
  both agreements but not Guangdong's row of the region report.
* Approvals of a cross-provincial agreement and of its results: two people of EACH province's regulator;
  not the operator, not a city regulator, not a third person of a province that has given its two, not a
  member of a party; a regulator of a province not involved (Zhejiang) does not even find it.
"""
from __future__ import annotations

from datetime import date

import pytest

from accounts.actor import Actor
from accounts.models import Membership, Region
from compensation import services
from compensation.models import Assessment, CompensationApproval, MonitoringSection, Period
from core.errors import DomainError
from trading.orderbook.services import order_place

from .conftest import approve_all, at, submit, tiers_spec
from .test_cycle import GOOD


def _fujian_internal(w, make_org, make_member, fund):
    """A Zhangzhou–Xiamen agreement (both in Fujian) approved by Fujian's regulator alone."""
    zz, xm = make_org("city_government", "350600", name="漳州市人民政府"), make_org("city_government", "350200",
                                                                                    name="厦门市人民政府")
    fund(zz, cny=1_000_00)
    fund(xm, cny=1_000_00)
    zz_admin, xm_admin = make_member(zz, "admin"), make_member(xm, "admin")
    section = MonitoringSection.objects.create(code="jiulong-north", name_zh="九龙江北溪", upstream_region_id="350600",
                                               downstream_region_id="350200", station=w.station)
    spec = tiers_spec(w, terms={"section": section.code, "tiers": [
        {"min_rate": "0", "payer": "downstream", "payee": "upstream", "amount": "10.00"}]},
        sections=[section.code],
        parties=[{"organization": zz.id, "role": "upstream", "contribution": "10.00"},
                 {"organization": xm.id, "role": "downstream", "contribution": "10.00"}])
    v = services.version_create(membership=zz_admin, code="jiulong", name_zh="九龙江", **spec)
    services.version_sign(membership=zz_admin, version_id=v.pk)
    services.version_sign(membership=xm_admin, version_id=v.pk)
    approval = CompensationApproval.objects.get(version=v)
    assert approval.required == 2 and approval.jurisdiction == "350000"
    services.measurements_submit(membership=w.station_member, today=date(2026, 1, 1), rows=[
        {"section": section.code, "indicator": "nh3n", "month": "2024-01", "value": "0.4", "unit": "mg/L"}])
    return v, approval


def _fujian_trade(make_market, make_org, fund):
    market = make_market(region="350203")
    seller, buyer = make_org("enterprise", "350203"), make_org("enterprise", "350206")
    fund(seller, market=market, quantity=10_000)
    fund(buyer, cny=10_000_000)
    for org, side in ((seller, "sell"), (buyer, "buy")):
        order_place(actor=Actor(user_id=None, organization_id=org.id, role="trader", organization_kind=org.kind),
                    organization=org, market_id=market.id, side=side, price=10_000, quantity=1000)


@pytest.mark.django_db
def test_guangdong_sees_the_cross_provincial_agreement_and_nothing_of_fujian(
        world, client_for, agreement_in_force, make_org, make_member, make_market, fund):
    w = world
    ting = agreement_in_force(w)
    submit(w, GOOD)
    services.compensation_tick(now=at(date(2024, 1, 1)), today=date(2024, 1, 1))
    services.compensation_tick(now=at(date(2025, 1, 2)), today=date(2025, 1, 2))
    a = Assessment.objects.get(period__version=ting)
    approve_all(w, a.approval, now=a.objection_until)
    jiu, jiu_approval = _fujian_internal(w, make_org, make_member, fund)
    _fujian_trade(make_market, make_org, fund)
    gd, fj = client_for(w.gd_a), client_for(w.prov_a)

    # agreements, one by id, the other a 404
    assert [x["code"] for x in gd.get("/api/v1/compensation/agreements").json()["results"]] == ["ting"]
    assert sorted(x["code"] for x in fj.get("/api/v1/compensation/agreements").json()["results"]) == ["jiulong",
                                                                                                     "ting"]
    body = gd.get(f"/api/v1/compensation/agreements/{ting.agreement_id}").json()
    assert body["cumulative_total"] == "100.00" and body["periods"][0]["assessments"][0]["status"] == "settled"
    r = gd.get(f"/api/v1/compensation/agreements/{jiu.agreement_id}")
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    # monitoring data: the boundary section's, not the Jiulong section's
    sections = {m["section"] for m in gd.get("/api/v1/compensation/measurements").json()["results"]}
    assert sections == {"ting-boundary"}
    assert {m["section"] for m in fj.get("/api/v1/compensation/measurements").json()["results"]} == {
        "ting-boundary", "jiulong-north"}
    # approvals: Tingjiang's (both), not Jiulong's pending one
    gd_approvals = {x["id"] for x in gd.get("/api/v1/compensation/approvals").json()["results"]}
    assert jiu_approval.pk not in gd_approvals and a.approval.pk in gd_approvals
    assert jiu_approval.pk in {x["id"] for x in fj.get("/api/v1/compensation/approvals").json()["results"]}
    r = gd.post(f"/api/v1/compensation/approvals/{jiu_approval.pk}/approve", {}, format="json")
    assert r.status_code == 404
    # the results export: Tingjiang's rows only
    text = gd.get("/api/v1/compensation/exports/results.csv")
    rows = b"".join(text.streaming_content).decode("utf-8-sig")
    assert "ting" in rows and "jiulong" not in rows
    # the region report: Guangdong's row (it paid ¥100), no Fujian region; Fujian's report has no 440000
    gd_rows = {r["region"]: r for r in gd.get("/api/v1/compensation/reports/regions").json()["rows"]}
    assert set(gd_rows) == {"440000"} and gd_rows["440000"]["paid"] == "100.00"
    assert "440000" not in {r["region"] for r in fj.get("/api/v1/compensation/reports/regions").json()["rows"]}
    # no Fujian trading data, no Fujian audit events of the Fujian-internal agreement
    assert gd.get("/api/v1/oversight/trades").json()["results"] == []
    assert fj.get("/api/v1/oversight/trades").json()["results"] != []
    actions = {e["object_id"] for e in gd.get("/api/v1/oversight/audit", {"page_size": 500}).json()["results"]
               if e["object_type"] == "agreement_version"}
    assert str(ting.pk) in actions and str(jiu.pk) not in actions
    # the console pages: the same scope (server-rendered; Guangdong's approver signed in)
    from django.test import Client

    console = Client()
    assert console.post("/login/", {"username": w.gd_a.user.username,
                                    "password": "Str0ng-pass-phrase!"}).status_code == 302
    page = console.get("/compensation/").content.decode()
    assert 'data-agreement="ting"' in page and 'data-agreement="jiulong"' not in page
    assert console.get(f"/compensation/{ting.agreement_id}/").status_code == 200
    assert console.get(f"/compensation/{jiu.agreement_id}/").status_code == 404
    assert console.get(f"/compensation/{jiu.agreement_id}/data.json").status_code == 404
    assert console.get("/regulator/data.json").json()["flows"] == []
    fj_console = Client()
    fj_console.post("/login/", {"username": w.prov_a.user.username, "password": "Str0ng-pass-phrase!"})
    assert 'data-agreement="jiulong"' in fj_console.get("/compensation/").content.decode()
    # the exchange's register (every participant's holdings, conservation per asset) is not Guangdong's to read
    for path in ("/api/v1/register/holdings", "/api/v1/register/conservation"):
        assert gd.get(path).status_code == 403 and fj.get(path).status_code == 200
    # the exchange's own rulebook is Fujian's regulator's, not Guangdong's
    r = client_for(w.gd_b).post("/api/v1/oversight/rulebooks", {"rules": [], "description": "x"}, format="json")
    assert r.status_code == 403 and r.json()["code"] == "rulebook_forbidden"


@pytest.mark.django_db
def test_guangdong_has_no_say_over_fujian_paired_assistance(world, client_for, make_org, make_member, fund):
    from assistance import services as assistance_services
    from assistance.models import AssistancePair

    w = world
    payer, payee = make_org("county_government", "350582"), make_org("county_government", "350821")
    fund(payer, cny=100_000_00)
    agreement = assistance_services.pair_propose(membership=make_member(payer, "admin"), payer=payer, payee=payee,
                                                 annual_minimum=12_000_000_00, effective_year=2026)
    gd = client_for(w.gd_a)
    assert gd.get("/api/v1/assistance/pairs").json()["results"] == []
    assert gd.get(f"/api/v1/assistance/pairs/{agreement.pair_id}").status_code == 404
    assert gd.post(f"/api/v1/assistance/agreements/{agreement.pk}/approve", {}, format="json").status_code == 404
    with pytest.raises(DomainError) as e:  # nor may it propose a pair of two Fujian counties
        assistance_services.pair_propose(membership=w.gd_a, payer=payee, payee=payer, annual_minimum=12_000_000_00,
                                         effective_year=2026)
    assert e.value.code == "assistance_not_a_proposer"
    with pytest.raises(DomainError) as e:
        assistance_services.agreement_approve(membership=w.gd_a, agreement_id=agreement.pk)
    assert e.value.code == "assistance_not_an_approver"
    assert [p["id"] for p in client_for(w.prov_a).get("/api/v1/assistance/pairs").json()["results"]] == [
        AssistancePair.objects.get().pk]


def _signed(w):
    v = services.version_create(membership=w.up_admin, code="ting", name_zh="汀江", **tiers_spec(w))
    services.version_sign(membership=w.up_admin, version_id=v.pk)
    services.version_sign(membership=w.down_admin, version_id=v.pk)
    return v, CompensationApproval.objects.get(version=v)


def _code(fn) -> str:
    with pytest.raises(DomainError) as e:
        fn()
    return e.value.code


@pytest.mark.django_db
def test_a_cross_provincial_version_needs_two_approvals_in_each_province(world, make_org, make_member):
    w = world
    v, approval = _signed(w)
    assert approval.required == 4 and services.approval_provinces(approval) == ["350000", "440000"]

    def approve(m):
        return services.approval_decide(membership=m, approval_id=approval.pk, decision="approve")

    # the operator and a city regulator covering Longyan are not a province's regulator here
    assert _code(lambda: approve(w.operator_admin)) == "compensation_province_approver"
    assert _code(lambda: approve(w.city_ly)) == "compensation_province_approver"
    # a regulator of a province not involved does not find the approval
    Region.objects.get_or_create(code="330000", defaults={"name_zh": "浙江省", "name_en": "Zhejiang",
                                                          "level": "province"})
    zj = make_member(make_org("regulator", "330000", jurisdiction="330000"), "approver")
    assert _code(lambda: approve(zj)) == "not_found"
    # a Guangdong regulator's person with a seat in the Guangdong party is disqualified
    conflicted = make_member(w.gd_a.organization, "approver")
    Membership.objects.create(user=conflicted.user, organization=w.down, role="viewer")
    assert _code(lambda: approve(conflicted)) == "compensation_approver_conflict"
    # Guangdong first, in any order; a third Guangdong person is refused
    approve(w.gd_a)
    approve(w.gd_b)
    assert _code(lambda: approve(make_member(w.gd_a.organization, "approver"))) == "compensation_province_done"
    approve(w.prov_a)
    v.refresh_from_db()
    assert v.status == "pending_approval"  # Fujian has given one of its two
    assert _code(lambda: approve(w.prov_a)) == "compensation_already_approved"
    approve(w.prov_b)
    v.refresh_from_db()
    approval.refresh_from_db()
    assert v.status == "in_force" and approval.status == "approved"
    assert sorted(approval.decisions.values_list("organization__jurisdiction_id", flat=True)) == [
        "350000", "350000", "440000", "440000"]


@pytest.mark.django_db
def test_either_province_may_reject_and_objections_are_theirs_to_resolve(world, client_for, agreement_in_force):
    w = world
    v, approval = _signed(w)
    services.approval_decide(membership=w.prov_a, approval_id=approval.pk, decision="approve")
    r = client_for(w.gd_a).post(f"/api/v1/compensation/approvals/{approval.pk}/reject", {"reason": "terms"},
                                format="json")
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    v.refresh_from_db()
    assert v.status == "rejected"

    ting = agreement_in_force(w, code="ting2")
    submit(w, GOOD)
    services.compensation_tick(now=at(date(2024, 1, 1)), today=date(2024, 1, 1))
    services.compensation_tick(now=at(date(2025, 1, 2)), today=date(2025, 1, 2))
    a = Assessment.objects.get(period__version=ting)
    assert a.approval.required == 4
    objection = services.objection_raise(membership=w.down_admin, assessment_id=a.pk, reason="data",
                                         now=at(date(2025, 1, 3)))
    # the operator may not resolve it (cross-provincial: the provinces' regulators); a city regulator neither
    r = client_for(w.operator_admin).post(f"/api/v1/compensation/objections/{objection.pk}/resolve",
                                          {"outcome": "dismiss", "resolution": "no"}, format="json")
    assert r.status_code == 403 and r.json()["code"] == "compensation_province_approver"
    r = client_for(w.gd_b, language="zh").post(f"/api/v1/compensation/objections/{objection.pk}/resolve",
                                               {"outcome": "dismiss", "resolution": "数据有效"}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "dismissed"
    # four approvals settle it, after the window
    approve_all(w, a.approval, now=a.objection_until)
    a.refresh_from_db()
    assert a.status == "settled" and Period.objects.get(pk=a.period_id).status == "settled"


@pytest.mark.django_db
def test_the_refusal_codes_speak_both_languages(world, client_for):
    w = world
    _v, approval = _signed(w)
    url = f"/api/v1/compensation/approvals/{approval.pk}/approve"
    r = client_for(w.operator_admin, language="zh").post(url, {}, format="json")
    assert r.status_code == 403 and "省级监管机构" in r.json()["message"]
    for m in (w.prov_a, w.prov_b):
        assert client_for(m).post(url, {}, format="json").status_code == 200
    from accounts.models import Organization
    third = Membership.objects.create(user=w.city_fz.user, organization=Organization.objects.get(
        pk=w.prov_a.organization_id), role="approver")
    r = client_for(third).post(url, {}, format="json")
    assert r.status_code == 409 and r.json()["code"] == "compensation_province_done"
    assert "other province" in r.json()["message"]


@pytest.mark.django_db
def test_the_central_governments_reward_makes_no_province_of_its_seat(world, make_org):
    """A `rewarder` party (the central government's reward by results; the role comes with compformula) has
    its seat in Beijing: the approval's provinces stay Fujian and Guangdong."""
    from compensation.models import AgreementParty

    w = world
    v = services.version_create(membership=w.up_admin, code="ting", name_zh="汀江", **tiers_spec(w))
    Region.objects.get_or_create(code="110000", defaults={"name_zh": "北京市", "name_en": "Beijing",
                                                          "level": "province"})
    mof = make_org("provincial_authority", "110000", name="财政部")
    AgreementParty.objects.create(version=v, organization=mof, role="rewarder", contribution=0)
    assert services.version_provinces(v) == ["350000", "440000"]
    AgreementParty.objects.filter(version=v, organization=mof).update(role="funder")
    assert services.version_provinces(v) == ["110000", "350000", "440000"]  # a funder's province does count


@pytest.mark.django_db
def test_who_approved_may_not_then_reject(world, client_for):
    """One decision per person: an approver who then rejects gets a 409, not the unique constraint's 500
    (found by the invariant suite's random mix)."""
    w = world
    _v, approval = _signed(w)
    url = f"/api/v1/compensation/approvals/{approval.pk}"
    assert client_for(w.gd_a).post(f"{url}/approve", {}, format="json").status_code == 200
    r = client_for(w.gd_a).post(f"{url}/reject", {"reason": "changed my mind"}, format="json")
    assert r.status_code == 409 and r.json()["code"] == "compensation_already_approved"
    approval.refresh_from_db()
    assert approval.status == "pending" and approval.decisions.count() == 1
