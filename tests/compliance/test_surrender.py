"""Surrender (清缴): a ledger retirement against verified emissions, on or before the deadline day
(K-DEADLINE-001), of the year's kind of allowance (K-ASSET-001), within what is owed (K-VERIFY-001,
K-OBLIG-001), with the vintages the rulebook allows (V-VINT-001/002/003); idempotent; audited."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from accounts.actor import Actor
from accounts.models import AuditEvent
from compliance.models import Surrender
from core.errors import DomainError
from ledger.models import LedgerTransaction
from ledger.verify import verify_ledger
from oversight.services import rulebook_create

from tests.support.compliance import DEADLINE

pytestmark = pytest.mark.django_db


def _ready(cw, *, listed=1000, emissions=800, deadline=DEADLINE):
    year = cw.year(deadline=deadline)
    cw.cover(year, cw.fz, listed=listed)
    cw.allocate(year, cw.fz)
    cw.allocate(year, cw.fz, "true_up")
    cw.verify(year, cw.fz, emissions)
    return year


def test_surrender_is_a_retirement_in_the_ledger(cw):
    year = _ready(cw)
    s = cw.surrender(year, cw.fz_m, 500, on=DEADLINE)  # the deadline day itself is allowed
    txn = LedgerTransaction.objects.get(pk=s.transaction_id)
    assert txn.kind == "retire" and txn.memo["compliance_period"] == "carbon:2025:350000"
    assert cw.holding(cw.fz, cw.asset) == 500 and cw.retired(cw.asset) == 500
    audit = AuditEvent.objects.get(action="compliance.surrender", object_id=str(s.pk))
    assert audit.after["remaining"] == 300 and audit.after["ledger_transaction"] == txn.pk
    assert AuditEvent.objects.filter(action="rights.retire", object_id=str(txn.pk)).exists()
    report = verify_ledger()
    assert report.ok, report


def test_after_the_deadline_surrender_is_refused(cw):
    year = _ready(cw)
    with pytest.raises(DomainError) as exc:
        cw.surrender(year, cw.fz_m, 100, on=DEADLINE + timedelta(days=1))
    assert exc.value.code == "compliance_deadline_passed" and "2026-12-31" in exc.value.message
    assert not Surrender.objects.exists() and cw.retired(cw.asset) == 0


def test_after_the_deadline_by_the_clock(cw):
    year = _ready(cw, deadline=date(2026, 1, 31))
    if date.today() > date(2026, 1, 31):  # the machine's date: the default `on` is today
        with pytest.raises(DomainError) as exc:
            cw.surrender(year, cw.fz_m, 100)
        assert exc.value.code == "compliance_deadline_passed"
    else:  # pragma: no cover - only before that day
        assert cw.surrender(year, cw.fz_m, 100).amount == 100


def test_not_more_than_is_owed_and_only_once_verified(cw):
    year = cw.year()
    cw.cover(year, cw.fz, listed=1000)
    cw.allocate(year, cw.fz)
    with pytest.raises(DomainError) as exc:
        cw.surrender(year, cw.fz_m, 100, on=DEADLINE)
    assert exc.value.code == "compliance_emissions_not_verified"
    cw.verify(year, cw.fz, 300)
    cw.surrender(year, cw.fz_m, 200, on=DEADLINE)
    with pytest.raises(DomainError) as exc:
        cw.surrender(year, cw.fz_m, 101, on=DEADLINE)
    assert exc.value.code == "compliance_exceeds_obligation" and exc.value.params["remaining"] == "100"
    cw.surrender(year, cw.fz_m, 100, on=DEADLINE)
    assert cw.retired(cw.asset) == 300


def test_not_covered_and_wrong_instrument_and_insufficient_holdings(cw):
    year = _ready(cw)
    with pytest.raises(DomainError) as exc:
        cw.surrender(year, cw.xm_m, 10, on=DEADLINE)
    assert exc.value.code == "compliance_enterprise_not_covered"
    energy = cw.allowance(2025, right_type="energy", unit="tce")
    with pytest.raises(DomainError) as exc:
        cw.surrender(year, cw.fz_m, 10, asset=energy, on=DEADLINE)
    assert exc.value.code == "compliance_wrong_instrument"
    older = cw.allowance(2024)  # right kind, but the enterprise holds none
    with pytest.raises(DomainError) as exc:
        cw.surrender(year, cw.fz_m, 10, asset=older, on=DEADLINE)
    assert exc.value.code == "insufficient_balance"
    assert not Surrender.objects.exists()


def test_replay_returns_the_same_surrender(cw):
    year = _ready(cw)
    a = cw.surrender(year, cw.fz_m, 100, key="k1", on=DEADLINE)
    b = cw.surrender(year, cw.fz_m, 100, key="k1", on=DEADLINE)
    assert a.pk == b.pk and cw.retired(cw.asset) == 100
    with pytest.raises(DomainError) as exc:
        cw.surrender(year, cw.fz_m, 99, key="k1", on=DEADLINE)
    assert exc.value.code == "idempotency_conflict"


def _vintage_rule(**params):
    rulebook_create(actor=Actor.system(), membership=None, description="vintage test",
                    rules=[{"kind": "surrender_vintage", "params": {"right_types": ["carbon"], **params}}])


def _give(cw, asset, amount):
    from ledger import services as ledger_services
    ledger_services.rights_issue(actor=Actor.system(), issuer=cw.authority, asset=asset, recipient=cw.fz,
                                 amount=amount, idempotency_key=f"give-{asset.pk}")


@pytest.mark.parametrize("params, vintage, code", [
    ({"max_age_years": 1}, 2023, "V-VINT-001"),   # banked too long
    ({"max_age_years": 1}, 2024, None),           # one year of banking allowed
    ({}, 2024, "V-VINT-001"),                      # default: only the year's own vintage
    ({}, 2026, "V-VINT-002"),                      # no borrowing by default
    ({"borrow_years": 1}, 2026, None),
    ({"max_age_years": 5}, None, "V-VINT-003"),    # an allowance without a vintage
])
def test_vintage_rules_are_rulebook_data(cw, params, vintage, code):
    year = _ready(cw)
    if vintage is None:
        from ledger import services as ledger_services
        asset = ledger_services.asset_create(actor=Actor.system(), code=f"T-CA-NOV-{cw.authority.pk}",
                                             right_type_id="carbon", subtype="", unit="tCO2", scale=0, vintage=None,
                                             origin_region_id="350000", issuer=cw.authority)
    else:
        asset = cw.allowance(vintage)
    _give(cw, asset, 50)
    cw.surrender(year, cw.fz_m, 1, asset=asset, key="before-rule", on=DEADLINE)  # no rule yet: any vintage
    _vintage_rule(**params)
    if code is None:
        assert cw.surrender(year, cw.fz_m, 10, asset=asset, on=DEADLINE).amount == 10
    else:
        with pytest.raises(DomainError) as exc:
            cw.surrender(year, cw.fz_m, 10, asset=asset, on=DEADLINE)
        assert exc.value.code == code and exc.value.status_code == 422
    # the year's own vintage always passes
    assert cw.surrender(year, cw.fz_m, 5, on=DEADLINE).amount == 5


def test_the_vintage_rule_never_applies_to_trading_stages():
    from marketplace.rules import SurrenderVintageRule, validate_rule
    from marketplace.rules.params import RuleParamsError

    rule = SurrenderVintageRule({"stages": ["order"], "max_age_years": 2})
    assert rule.stages == ("surrender",)
    with pytest.raises(RuleParamsError):
        validate_rule("surrender_vintage", {"max_age_years": -1})
