"""The rule engine: one cheap query per evaluation, a cache that never serves rules that did not commit,
immutable rulebook versions, parameter validation, registered codes."""
from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from core.errors import CODES
from marketplace import rules
from marketplace.models import NonAttainmentFlag, Rule, RulebookVersion
from marketplace.rules import RULES, CheckContext, RuleParamsError, evaluate, evaluate_all, validate_rule

from tests.support.rules import install


def ctx_for(world, market, buyer_region="350203", stage="order", price=2_850_000, quantity=1000):
    buyer = world.enterprise(buyer_region, cny_yuan=0)
    return CheckContext(stage=stage, asset=market.asset, at=timezone.now(), buyer=buyer, price=price,
                        quantity=quantity)


@pytest.mark.django_db
def test_evaluate_costs_one_query_when_warm(world, django_assert_num_queries):
    install(("basin", {}), ("non_attainment_inflow", {}), ("scope", {"zone": "approve"}),
            ("guided_price", {"right_types": ["emission"], "floor": 100}), ("eligibility", {}),
            ("lot_limit", {"max_units": "1000"}), ("public_notice", {}))
    m = world.market(subtype="SO2", region="350121")
    ctx = ctx_for(world, m)
    evaluate(ctx)  # compiles (and looks up the buyer's permits once)
    with django_assert_num_queries(1):
        version, refusal = evaluate(ctx)
    assert refusal.code == "S-SCOPE-002"
    with django_assert_num_queries(1):
        evaluate(ctx)


@pytest.mark.django_db
def test_a_change_is_seen_at_once_in_the_same_transaction(world):
    m = world.market(subtype="SO2", region="350121")
    ctx = ctx_for(world, m)
    assert evaluate(ctx) == (None, None)
    book = install(("guided_price", {"right_types": ["emission"], "floor": 3_000_000}))
    assert evaluate(ctx)[1].code == "P-PRICE-001"
    assert evaluate(ctx)[0] == book.version
    NonAttainmentFlag.objects.create(region_id="350200", pollutant="SO2", period_start=timezone.localdate(),
                                     period_end=timezone.localdate())
    install(("non_attainment_inflow", {}), at_now=True)
    assert evaluate(CheckContext(stage="order", asset=m.asset, at=timezone.now(), buyer=ctx.buyer))[1].code == \
        "E-NATT-001"


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_change_is_never_served(world):
    m = world.market(subtype="SO2", region="350121")
    ctx = ctx_for(world, m)
    assert evaluate(ctx) == (None, None)
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            install(("guided_price", {"right_types": ["emission"], "floor": 3_000_000}))
            assert evaluate(ctx)[1].code == "P-PRICE-001"  # cached inside the transaction
            raise RuntimeError("roll back")
    assert evaluate(ctx) == (None, None)


@pytest.mark.django_db
def test_versions_take_effect_at_their_time(world):
    m = world.market(subtype="SO2", region="350121")
    install(("guided_price", {"right_types": ["emission"], "floor": 1}))
    later = install(("guided_price", {"right_types": ["emission"], "floor": 9_000_000}),
                    effective_from=timezone.now() + timedelta(hours=1))
    ctx = ctx_for(world, m)
    assert evaluate(ctx)[1] is None
    ctx.at = timezone.now() + timedelta(hours=2)
    version, refusal = evaluate(ctx)
    assert version == later.version and refusal.code == "P-PRICE-001"


@pytest.mark.django_db
def test_disabled_rules_do_not_apply(world):
    m = world.market(subtype="SO2", region="350121")
    book = install()
    Rule.objects.create(rulebook=book, kind="guided_price", params={"floor": 9_000_000}, enabled=False)
    assert evaluate(ctx_for(world, m)) == (book.version, None)


@pytest.mark.django_db
def test_evaluate_all_returns_every_requirement(world):
    install(("scope", {"city": "approve"}), ("public_notice", {"right_types": None}))
    m = world.market(subtype="SO2", region="350121")
    ctx = ctx_for(world, m, buyer_region="350902", stage="trade")
    _, found = evaluate_all(ctx)
    assert [r.code for r in found] == ["S-SCOPE-002", "W-NOTICE-001"]
    # evaluate prefers the requirement that needs a person over the notice hold
    assert evaluate(ctx)[1].code == "S-SCOPE-002"


@pytest.mark.django_db
def test_rulebook_versions_are_append_only(world):
    book = install(("basin", {}))
    with pytest.raises(DatabaseError), transaction.atomic():
        Rule.objects.filter(rulebook=book).update(params={"right_types": ["emission"]})
    with pytest.raises(DatabaseError), transaction.atomic():
        RulebookVersion.objects.filter(pk=book.pk).update(description="edited")
    with pytest.raises(DatabaseError), transaction.atomic():
        Rule.objects.filter(rulebook=book).delete()


def test_parameters_are_validated():
    for kind, params, field in [
        ("nope", {}, "kind"),
        ("scope", {"city": "maybe"}, "city"),
        ("guided_price", {}, "floor"),
        ("guided_price", {"floor": 10, "ceiling": 5}, "ceiling"),
        ("guided_price", {"floor": "10"}, "floor"),
        ("holding_limit", {}, "max_units"),
        ("holding_limit", {"max_units": "x"}, "max_units"),
        ("lot_limit", {"min_units": 5, "max_units": 1}, "max_units"),
        ("public_notice", {"days": 0}, "days"),
        ("inter_basin_transfer", {"from_basin": "minjiang"}, "to_basin"),
        ("basin", {"stages": ["nowhere"]}, "stages"),
        ("scope", {"approver": "fuzhou"}, "approver"),
    ]:
        with pytest.raises(RuleParamsError) as exc:
            validate_rule(kind, params)
        assert exc.value.field == field, (kind, params)
    assert validate_rule("scope", {"city": "approve", "approver": "destination_city"})


def test_every_rule_code_is_registered_with_both_languages():
    kinds = rules.rule_kinds()
    assert {k["kind"] for k in kinds} >= {"basin", "inter_basin_transfer", "public_notice", "non_attainment_inflow",
                                          "scope", "guided_price", "holding_limit", "lot_limit", "eligibility"}
    for k in kinds:
        assert k["policy"], k["kind"]
        for code in k["codes"]:
            status, zh, en = CODES[code]
            assert status == 422 and zh and en
    for cls in RULES.values():
        assert cls.code in CODES


def test_generation_table_exists(db):
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM marketplace_rules_generation")
        assert cur.fetchone()[0] <= 1
