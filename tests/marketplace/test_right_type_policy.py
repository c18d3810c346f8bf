"""Per-right-type policy is data on `RightType`: a new right type added as a row behaves according to
its fields — earmarked proceeds at settlement, issuance evidence, listing provenance, the basin rule,
the public-notice period, the discharge-permit default — with no code naming it. And the data
migration gives the reference right types the policy the code used to hard-wire."""
from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.apps import apps as django_apps
from django.utils import timezone

from accounts.actor import Actor
from core.errors import DomainError
from ledger.models import Account, Asset, LedgerTransaction, RightType
from ledger.reference import RIGHT_TYPES
from ledger.services import asset_create, rights_issue
from marketplace.models import Rule, RulebookVersion
from marketplace.rules import CheckContext, evaluate
from trading.listings.services import listing_create
from trading.models import Trade
from trading.orderbook.services import order_place
from trading.settlement.services import trade_settle

SYSTEM = Actor.system()
_seq = itertools.count(1)


def new_right_type(code: str, **policy) -> RightType:
    return RightType.objects.create(code=code, name_zh=code, name_en=code, default_unit="u", **policy)


def rulebook(*rules) -> RulebookVersion:
    book = RulebookVersion.objects.create(version=5000 + next(_seq), effective_from=timezone.now() - timedelta(days=1))
    for kind, params in rules:
        Rule.objects.create(rulebook=book, kind=kind, params=params)
    return book


def instrument(make_org, right_type: str, *, region="350121", basin=None) -> tuple[Asset, object]:
    issuer = make_org("county_government", region)
    asset = asset_create(actor=SYSTEM, code=f"{right_type}-{next(_seq)}", right_type_id=right_type, subtype="x",
                         unit="u", scale=2, vintage=2026, origin_region_id=region, issuer=issuer, basin_id=basin)
    return asset, issuer


# --- ledger and settlement -----------------------------------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("purpose, proceeds", [("wetland_protection", "earmarked"), ("", "participant")])
def test_a_new_right_type_with_an_earmark_purpose_sends_government_proceeds_to_the_fund(
        purpose, proceeds, make_org, make_market, fund, operator_org):
    new_right_type("wetland", earmark_purpose=purpose)
    market = make_market(right_type="wetland", subtype="x", unit="u", scale=2)
    county = market.issuer
    fund(county, market=market, quantity=10_00)
    buyer = make_org("enterprise", "350102")
    fund(buyer, cny=10_000_000)
    order_place(actor=SYSTEM, organization=county, market_id=market.id, side="sell", price=100_000, quantity=5_00)
    [trade] = order_place(actor=SYSTEM, organization=buyer, market_id=market.id, side="buy", price=100_000,
                          quantity=5_00).trades
    assert trade_settle(trade_id=trade.id) == "settled"
    cny = Asset.objects.get(code="CNY")
    def cash(kind):
        account = Account.objects.filter(organization=county, asset=cny, kind=kind).first()
        return account.available if account else 0

    assert (cash("earmarked"), cash("participant")) == ((500_000, 0) if proceeds == "earmarked" else (0, 500_000))
    memo = LedgerTransaction.objects.get(pk=Trade.objects.get(pk=trade.id).ledger_transaction_id).memo
    assert memo["proceeds_account"] == proceeds


@pytest.mark.django_db
def test_a_new_right_type_requires_its_issuance_evidence(make_org):
    new_right_type("forest", issuance_evidence=["survey_report"])
    asset, issuer = instrument(make_org, "forest")
    with pytest.raises(DomainError) as exc:
        rights_issue(actor=SYSTEM, issuer=issuer, asset=asset, recipient=issuer, amount=100, idempotency_key="f-1")
    assert exc.value.code == "evidence_required" and set(exc.value.fields) == {"survey_report"}
    rights_issue(actor=SYSTEM, issuer=issuer, asset=asset, recipient=issuer, amount=100, idempotency_key="f-2",
                 evidence={"survey_report": "林调〔2026〕3号"})
    new_right_type("grassland")
    asset, issuer = instrument(make_org, "grassland")  # no evidence required
    rights_issue(actor=SYSTEM, issuer=issuer, asset=asset, recipient=issuer, amount=100, idempotency_key="g-1")


@pytest.mark.django_db
def test_a_new_right_type_requires_its_listing_provenance(make_org):
    new_right_type("forest", listing_provenance={"survey_report": "the forest survey that measured the stock"})
    asset, issuer = instrument(make_org, "forest")
    rights_issue(actor=SYSTEM, issuer=issuer, asset=asset, recipient=issuer, amount=100, idempotency_key="f-1")
    with pytest.raises(DomainError) as exc:
        listing_create(actor=SYSTEM, seller=issuer, kind="fixed_price", asset_id=asset.id, quantity=50, price=1000)
    assert exc.value.code == "evidence_required" and set(exc.value.fields) == {"provenance.survey_report"}
    listing = listing_create(actor=SYSTEM, seller=issuer, kind="fixed_price", asset_id=asset.id, quantity=50,
                             price=1000, provenance={"survey_report": "林调〔2026〕3号"})
    assert listing.hold_remaining == 50


# --- rules -----------------------------------------------------------------------------------------------

def trade_ctx(asset, buyer, seller):
    return CheckContext(stage="trade", asset=asset, at=timezone.now(), buyer=buyer, seller=seller, price=100,
                        quantity=100)


@pytest.mark.django_db
@pytest.mark.parametrize("basin_bound", [True, False])
def test_the_basin_rule_applies_by_default_to_basin_bound_right_types(basin_bound, make_org):
    new_right_type("reservoir", basin_bound=basin_bound)
    asset, seller = instrument(make_org, "reservoir", basin="minjiang")
    rulebook(("basin", {}))
    inside, outside = make_org("enterprise", "350102"), make_org("enterprise", "350203")  # Min / Jiulong River
    assert evaluate(trade_ctx(asset, inside, seller))[1] is None
    refusal = evaluate(trade_ctx(asset, outside, seller))[1]
    assert (refusal.code if refusal else None) == ("W-BASIN-001" if basin_bound else None)


@pytest.mark.django_db
def test_the_public_notice_period_is_the_right_types_own(make_org):
    new_right_type("reservoir", notice_period_days=3)
    new_right_type("pond")  # no notice period: the notice rule does not apply to it by default
    rulebook(("public_notice", {}))
    buyer = make_org("enterprise", "350102")
    asset, seller = instrument(make_org, "reservoir")
    refusal = evaluate(trade_ctx(asset, buyer, seller))[1]
    assert (refusal.code, refusal.notice_days, refusal.needs_approval) == ("W-NOTICE-001", 3, True)
    asset, seller = instrument(make_org, "pond")
    assert evaluate(trade_ctx(asset, buyer, seller))[1] is None
    # a policy change is seen at once: it bumps the rulebook generation
    RightType.objects.filter(code="reservoir").update(notice_period_days=7)
    asset, seller = instrument(make_org, "reservoir")
    assert evaluate(trade_ctx(asset, buyer, seller))[1].notice_days == 7


@pytest.mark.django_db
@pytest.mark.parametrize("permit_required", [True, False])
def test_the_discharge_permit_default_comes_from_the_right_type(permit_required, make_org):
    new_right_type("vocs", permit_required=permit_required)
    asset, seller = instrument(make_org, "vocs")
    rulebook(("eligibility", {}))
    buyer = make_org("enterprise", "350102")  # no permit on file
    refusal = evaluate(trade_ctx(asset, buyer, seller))[1]
    assert (refusal.code if refusal else None) == ("Q-ELIG-002" if permit_required else None)


# --- the data migration -----------------------------------------------------------------------------

@pytest.mark.django_db
def test_data_migration_fills_the_reference_policy():
    from importlib import import_module

    fill_policy = import_module("ledger.migrations.0008_right_type_policy").fill_policy
    RightType.objects.update(basin_bound=False, notice_period_days=None, pollutant_subtypes=False,
                             permit_required=False, earmark_purpose="", issuance_evidence=[], listing_provenance={})
    fill_policy(django_apps, None)
    got = {rt.code: rt for rt in RightType.objects.all()}
    assert {c for c, *_ in RIGHT_TYPES} <= set(got)
    assert got["water"].basin_bound and got["water"].notice_period_days == 5
    assert got["emission"].permit_required and got["emission"].pollutant_subtypes
    assert set(got["emission"].listing_provenance) == {"reduction_measure", "discharge_permit_no"}
    assert got["farmland"].earmark_purpose == "farmland_protection"
    assert got["farmland"].issuance_evidence == ["project_id", "area_mu", "acceptance_document"]
    assert set(got["farmland"].listing_provenance) == {"project_id", "acceptance_document"}
    for code in ("energy", "carbon", "power_generation"):
        rt = got[code]
        assert not (rt.basin_bound or rt.notice_period_days or rt.permit_required or rt.earmark_purpose
                    or rt.issuance_evidence or rt.listing_provenance), code
