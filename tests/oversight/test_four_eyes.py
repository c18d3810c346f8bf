"""The one four-eyes helper (`oversight.four_eyes`): each numbered check on its own, a caller's rule
keeping the caller's codes and order, and the four apps' rules wired to it with the codes they always
answered with."""
from __future__ import annotations

import pytest

from accounts.models import Membership
from core.checks import CHECKS, Refused
from core.errors import CODES, message_for
from oversight.four_eyes import (
    ApprovesOnce,
    CheckerSeat,
    DecidingSeat,
    FinalApprover,
    FourEyes,
    NotAParty,
    NotProposer,
    ProvincialRegulator,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(make_org, make_member):
    province = make_org("regulator", "350000", jurisdiction="350000")
    city_reg = make_org("regulator", "350100", jurisdiction="350100")
    operator = make_org("exchange_operator", "350000")
    payer, payee = make_org("county_government", "350121"), make_org("county_government", "350203")
    return {
        "province": province, "payer": payer, "payee": payee,
        "prov_approver": make_member(province, "approver"), "prov_viewer": make_member(province, "viewer"),
        "city_admin": make_member(city_reg, "admin"), "op_approver": make_member(operator, "approver"),
        "payer_admin": make_member(payer, "admin"), "payer_trader": make_member(payer, "trader"),
        "payee_admin": make_member(payee, "admin"),
    }


def test_the_checks_are_registered_with_numbers_and_codes():
    classes = (NotProposer, NotAParty, DecidingSeat, ProvincialRegulator, CheckerSeat, FinalApprover, ApprovesOnce)
    assert [c.number for c in classes] == [f"F-EYES-00{i}" for i in range(1, 8)]
    for c in classes:
        assert CHECKS[c.number] is c and c.code in CODES and c.__doc__


def test_not_proposer(people):
    m = people["prov_approver"]
    assert NotProposer.check(user_id=m.user_id, proposers=[m.user_id + 1000, None]) is None
    assert NotProposer.check(user_id=m.user_id, proposers={m.user_id}).code == "proposer_cannot_approve"
    assert NotProposer.check(user_id=None, proposers=[]).check == "F-EYES-001"  # not a person: refused
    assert NotProposer.check(user_id=m.user_id, proposers=[m.user_id], code="four_eyes_required").code == \
        "four_eyes_required"


def test_not_a_party_is_the_person_not_the_seat(people):
    approver = people["prov_approver"]
    assert NotAParty.check(user_id=approver.user_id, parties=[people["payer"].id, None]) is None
    # the same person also holds an inactive viewer seat at the payee: disqualified whatever seat decides
    Membership.objects.create(user_id=approver.user_id, organization=people["payee"], role="viewer", is_active=False)
    refusal = NotAParty.check(user_id=approver.user_id, parties=[people["payer"].id, people["payee"].id])
    assert (refusal.code, refusal.check) == ("approver_conflict_of_interest", "F-EYES-002")
    assert NotAParty.check(user_id=approver.user_id, parties=[]) is None


@pytest.mark.parametrize("who, passes", [("prov_approver", True), ("op_approver", True), ("city_admin", True),
                                         ("prov_viewer", False), ("payer_admin", False)])
def test_deciding_seat(people, who, passes):
    assert (DecidingSeat.check(membership=people[who]) is None) == passes


@pytest.mark.parametrize("who, passes", [("prov_approver", True), ("city_admin", False), ("op_approver", False),
                                         ("prov_viewer", False)])
def test_provincial_regulator_covering_the_parties(people, who, passes):
    assert (ProvincialRegulator.check(membership=people[who], regions=["350121", "350203"]) is None) == passes


def test_provincial_regulator_must_cover_every_region(people):
    assert ProvincialRegulator.check(membership=people["prov_approver"], regions=["350121", "440000"]) is not None


def test_checker_seat(people):
    payer = people["payer"].id
    assert CheckerSeat.check(membership=people["payer_admin"], organization=payer) is None
    assert CheckerSeat.check(membership=people["payer_trader"], organization=payer) is not None  # not a checker role
    assert CheckerSeat.check(membership=people["payee_admin"], organization=payer) is not None  # another body
    assert CheckerSeat.check(membership=people["payer_trader"], organization=payer, roles=("trader",)) is None


def test_final_approver_and_approves_once(people):
    op, prov, city = people["op_approver"], people["prov_approver"], people["city_admin"]
    assert FinalApprover.check(membership=op, final=False, jurisdiction="350000") is None
    refusal = FinalApprover.check(membership=op, final=True, jurisdiction="350000")
    assert refusal.code == "approver_not_in_jurisdiction" and refusal.message_params == {"jurisdiction": "350000"}
    assert FinalApprover.check(membership=city, final=True, jurisdiction="350000") is not None
    assert FinalApprover.check(membership=prov, final=True, jurisdiction="350000") is None
    assert ApprovesOnce.check(user_id=prov.user_id, approved_by=[op.user_id]) is None
    assert ApprovesOnce.check(user_id=prov.user_id, approved_by={prov.user_id}).code == "already_approved"


def test_a_rule_runs_its_steps_in_order_with_the_callers_codes(people):
    rule = FourEyes(((DecidingSeat, "compensation_not_an_approver"), (NotProposer, "compensation_approver_conflict"),
                     (NotAParty, None)))
    viewer = people["prov_viewer"]
    # fails the seat and the proposer check: the first step's code wins
    with pytest.raises(Refused) as exc:
        rule.enforce(membership=viewer, user_id=viewer.user_id, proposers=[viewer.user_id], parties=[])
    assert exc.value.code == "compensation_not_an_approver" and exc.value.refusal.check == "F-EYES-003"
    approver = people["prov_approver"]
    with pytest.raises(Refused) as exc:
        rule.enforce(membership=approver, user_id=approver.user_id, proposers=[approver.user_id], parties=[])
    assert exc.value.code == "compensation_approver_conflict" and exc.value.status_code == 403
    assert exc.value.message == message_for("compensation_approver_conflict")
    assert rule.first_refusal(membership=approver, user_id=approver.user_id, proposers=[], parties=[]) is None
    assert rule.numbers == ["F-EYES-003", "F-EYES-001", "F-EYES-002"]


def test_the_apps_rules_keep_their_codes_and_order():
    from assistance import services as assistance
    from compensation import services as compensation
    from oversight import approvals
    from reserve import services as reserve

    def codes(rule):
        return [(check.number, code) for check, code in rule.steps]

    assert codes(approvals.DECIDER) == [("F-EYES-001", "proposer_cannot_approve"),
                                        ("F-EYES-002", "approver_conflict_of_interest"),
                                        ("F-EYES-003", "not_an_approver")]
    assert codes(approvals.APPROVER) == [("F-EYES-007", "already_approved"),
                                         ("F-EYES-006", "approver_not_in_jurisdiction")]
    assert codes(compensation.DECIDER_SEAT) == [("F-EYES-003", "compensation_not_an_approver")]
    assert codes(compensation.DECIDER) == [("F-EYES-001", "compensation_approver_conflict"),
                                           ("F-EYES-002", "compensation_approver_conflict")]
    assert codes(compensation.APPROVER) == [("F-EYES-007", "compensation_already_approved"),
                                            ("F-EYES-006", "compensation_final_approver")]
    assert codes(assistance.AGREEMENT_APPROVER) == [("F-EYES-004", "assistance_not_an_approver"),
                                                    ("F-EYES-001", "assistance_proposer_cannot_approve"),
                                                    ("F-EYES-002", "assistance_approver_is_party")]
    assert codes(assistance.PAYMENT_CHECKER) == [("F-EYES-005", "assistance_not_a_checker"),
                                                 ("F-EYES-001", "assistance_maker_cannot_check"),
                                                 ("F-EYES-002", "assistance_checker_is_payee")]
    assert codes(reserve.DESIGNATION_DECIDER) == [("F-EYES-001", "four_eyes_required")]
