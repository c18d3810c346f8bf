"""#14 items 8 and 9: money in and out, operator transfers and issuance are maker–checker (one person
proposes, another with the checker role confirms, both audited; never the same user, whatever memberships);
a configurable amount below which one person suffices (default: none); issuance only by the asset's
registered issuer or the operator on its behalf."""
from __future__ import annotations

from datetime import date

import pytest
from django.db import IntegrityError, transaction

from accounts.actor import Actor
from accounts.models import AuditEvent, Membership
from ledger import services
from ledger.models import Account, LedgerTransaction, MovementRequest

pytestmark = pytest.mark.django_db


@pytest.fixture
def mc(make_org, make_member, client_for, fast_passwords):
    class W:
        pass

    w = W()
    w.operator = make_org("exchange_operator", "350000")
    w.county = make_org("county_government", "350121", name="闽侯县人民政府")
    w.city = make_org("city_government", "350100", name="福州市人民政府")
    w.province = make_org("provincial_authority", "350000", name="福建省生态环境厅")
    w.ent = make_org("enterprise", "350121")
    w.ent2 = make_org("enterprise", "350205")
    w.op_admin, w.op_approver = make_member(w.operator, "admin"), make_member(w.operator, "approver")
    w.op_trader, w.op_viewer = make_member(w.operator, "trader"), make_member(w.operator, "viewer")
    w.county_trader, w.county_approver = make_member(w.county, "trader"), make_member(w.county, "approver")
    w.so2 = services.asset_create(actor=Actor.system(), code="MC-SO2-350121", right_type_id="emission", subtype="SO2",
                                  unit="t", scale=3, vintage=2026, origin_region_id="350121", issuer=w.county,
                                  valid_from=date(2026, 1, 1), valid_to=date(2030, 12, 31))
    w.c = client_for
    return w


def _post(client, url, data, key="mc-1"):
    return client.post(f"/api/v1/{url}", data, format="json", HTTP_IDEMPOTENCY_KEY=key)


def _confirm(client, movement_id):
    return client.post(f"/api/v1/movement-requests/{movement_id}/confirm", format="json")


def _cny(org):
    acc = Account.objects.filter(organization=org, asset__code="CNY", kind="participant").first()
    return acc.available if acc else 0


def test_a_deposit_waits_for_a_second_person(mc):
    maker = mc.c(mc.op_admin)
    journal = LedgerTransaction.objects.count()
    r = _post(maker, "cash/deposits", {"organization": mc.ent.id, "amount": "500.00", "bank_reference": "ICBC-1"})
    assert r.status_code == 202, r.content
    body = r.json()
    assert body["status"] == "pending" and body["amount"] == "500.00" and body["transaction"] is None
    assert LedgerTransaction.objects.count() == journal and _cny(mc.ent) == 0
    assert AuditEvent.objects.filter(action="movement.propose", object_id=str(body["id"])).exists()

    # the maker cannot check, nor can a viewer or a trader of the operator
    r = _confirm(maker, body["id"])
    assert r.status_code == 403 and r.json()["code"] == "maker_cannot_check"
    for m in (mc.op_viewer, mc.op_trader):
        r = _confirm(mc.c(m), body["id"])
        assert r.status_code == 403 and r.json()["code"] in ("not_a_checker", "permission_denied"), r.content
    assert _cny(mc.ent) == 0

    checker = mc.c(mc.op_approver)
    r = _confirm(checker, body["id"])
    assert r.status_code == 201, r.content
    assert _cny(mc.ent) == 50_000
    txn = LedgerTransaction.objects.get(pk=r.json()["id"])
    assert txn.actor_user_id == mc.op_approver.user_id
    confirm = AuditEvent.objects.get(action="movement.confirm", object_id=str(body["id"]))
    assert confirm.actor_user_id == mc.op_approver.user_id and confirm.after["proposed_by"] == mc.op_admin.user_id
    # confirming again, or proposing again with the key, is a replay: one transaction, no second deposit
    again = _confirm(checker, body["id"])
    assert again.status_code == 200 and again.json() == r.json() and again["Idempotent-Replayed"] == "true"
    replay = _post(maker, "cash/deposits", {"organization": mc.ent.id, "amount": "500.00", "bank_reference": "ICBC-1"})
    assert replay.status_code == 200 and replay.json()["status"] == "confirmed"
    conflict = _post(maker, "cash/deposits", {"organization": mc.ent.id, "amount": "501.00",
                                              "bank_reference": "ICBC-1"})
    assert conflict.status_code == 409 and conflict.json()["code"] == "idempotency_conflict"
    assert _cny(mc.ent) == 50_000


def test_one_person_with_two_memberships_is_still_one_person(mc, make_member):
    """The county trader also sits at the operator as an approver: proposing as one and confirming as the
    other is refused (and the database refuses it too)."""
    second_seat = Membership.objects.create(user=mc.county_trader.user, organization=mc.operator, role="approver")
    r = _post(mc.c(mc.county_trader), "issuances", {"asset": mc.so2.code, "recipient": mc.ent.id, "amount": "5"})
    assert r.status_code == 202, r.content
    r2 = _confirm(mc.c(second_seat), r.json()["id"])
    assert r2.status_code == 403 and r2.json()["code"] == "maker_cannot_check"
    movement = MovementRequest.objects.get(pk=r.json()["id"])
    with pytest.raises(IntegrityError), transaction.atomic():
        MovementRequest.objects.filter(pk=movement.pk).update(
            status="rejected", decided_by_id=movement.proposed_by_id)
    # the issuer's own approver (another person) confirms
    r3 = _confirm(mc.c(mc.county_approver), r.json()["id"])
    assert r3.status_code == 201, r3.content
    assert Account.objects.get(organization=mc.ent, asset=mc.so2).available == 5_000


def test_a_checker_may_not_belong_to_the_organization_paid(mc):
    Membership.objects.create(user=mc.op_approver.user, organization=mc.ent, role="viewer")
    r = _post(mc.c(mc.op_admin), "cash/deposits", {"organization": mc.ent.id, "amount": "1.00",
                                                   "bank_reference": "B"})
    r2 = _confirm(mc.c(mc.op_approver), r.json()["id"])
    assert r2.status_code == 403 and r2.json()["code"] == "checker_conflict_of_interest"


@pytest.mark.parametrize("url, body", [
    ("cash/withdrawals", lambda w: {"organization": w.ent.id, "amount": "100.00", "bank_reference": "W"}),
    ("transfers", lambda w: {"asset": w.so2.code, "sender": w.ent.id, "recipient": w.ent2.id, "amount": "1"}),
])
def test_withdrawals_and_transfers_are_maker_checker_and_checked_at_proposal(mc, url, body):
    services.cash_deposit(actor=Actor.system(), organization=mc.ent, amount=100_00, bank_reference="seed",
                          idempotency_key="seed")
    services.rights_issue(actor=Actor.system(), issuer=mc.county, asset=mc.so2, recipient=mc.ent, amount=1_000,
                          idempotency_key="seed")
    maker = mc.c(mc.op_admin)
    too_much = {**body(mc), "amount": "100.01" if url == "cash/withdrawals" else "1.001"}
    r = _post(maker, url, too_much, key="too-much")
    assert r.status_code == 400 and r.json()["code"] == "insufficient_balance", r.content
    assert not MovementRequest.objects.exists()  # a refused proposal leaves nothing behind
    r = _post(maker, url, body(mc))
    assert r.status_code == 202
    assert _confirm(maker, r.json()["id"]).status_code == 403
    assert _confirm(mc.c(mc.op_approver), r.json()["id"]).status_code == 201


def test_reject_closes_the_request(mc):
    r = _post(mc.c(mc.op_admin), "cash/deposits", {"organization": mc.ent.id, "amount": "1.00",
                                                   "bank_reference": "B"})
    pk = r.json()["id"]
    checker = mc.c(mc.op_approver)
    rej = checker.post(f"/api/v1/movement-requests/{pk}/reject", {"reason": "no such bank transfer"}, format="json")
    assert rej.status_code == 200 and rej.json()["status"] == "rejected"
    assert AuditEvent.objects.filter(action="movement.reject", object_id=str(pk)).exists()
    r = _confirm(checker, pk)
    assert r.status_code == 409 and r.json()["code"] == "movement_closed"
    assert _cny(mc.ent) == 0


def test_single_person_amount_is_a_setting(mc, settings):
    settings.FOUR_EYES_SINGLE_PERSON_BELOW = {"deposit": 100_00}
    maker = mc.c(mc.op_admin)
    small = _post(maker, "cash/deposits", {"organization": mc.ent.id, "amount": "99.99", "bank_reference": "S"})
    assert small.status_code == 201 and _cny(mc.ent) == 99_99
    large = _post(maker, "cash/deposits", {"organization": mc.ent.id, "amount": "100.00", "bank_reference": "L"},
                  key="mc-2")
    assert large.status_code == 202
    # withdrawals have no such amount: always two people
    w = _post(maker, "cash/withdrawals", {"organization": mc.ent.id, "amount": "0.01", "bank_reference": "W"},
              key="mc-3")
    assert w.status_code == 202


def test_requests_are_listed_for_the_operator_and_the_issuer_only(mc):
    r = _post(mc.c(mc.county_trader), "issuances", {"asset": mc.so2.code, "recipient": mc.ent.id, "amount": "1"})
    pk = r.json()["id"]
    city_admin = Membership.objects.create(user=mc.op_admin.user.__class__.objects.create_user("mc-city"),
                                           organization=mc.city, role="admin")
    for m, sees in ((mc.op_viewer, True), (mc.county_approver, True), (city_admin, False)):
        ids = {row["id"] for row in mc.c(m).get("/api/v1/movement-requests").json()["results"]}
        assert (pk in ids) == sees


# --- item 9: the registered issuer only ---------------------------------------------------------------

@pytest.mark.parametrize("issuer_key", ["city", "province"])
def test_only_the_registered_issuer_issues(mc, make_member, issuer_key):
    """A city government (whose division covers the county) or a provincial department cannot mint the
    county's rights; neither can the operator in their name."""
    other = getattr(mc, issuer_key)
    r = _post(mc.c(make_member(other, "admin")), "issuances", {"asset": mc.so2.code, "recipient": other.id,
                                                               "amount": "1"})
    assert r.status_code == 403 and r.json()["code"] == "not_registered_issuer", r.content
    r = _post(mc.c(mc.op_admin), "issuances", {"asset": mc.so2.code, "recipient": other.id, "amount": "1",
                                               "issuer": other.id}, key="op")
    assert r.status_code == 403 and r.json()["code"] == "not_registered_issuer", r.content
    assert not MovementRequest.objects.exists()
    with pytest.raises(Exception) as exc:
        services.rights_issue(actor=Actor.system(), issuer=other, asset=mc.so2, recipient=other, amount=1,
                              idempotency_key="direct")
    assert getattr(exc.value, "code", None) == "not_registered_issuer"


def test_the_operator_issues_on_the_issuers_behalf_with_a_second_person(mc):
    r = _post(mc.c(mc.op_admin), "issuances", {"asset": mc.so2.code, "recipient": mc.ent.id, "amount": "2",
                                               "issuer": mc.county.id})
    assert r.status_code == 202
    assert _confirm(mc.c(mc.op_admin), r.json()["id"]).json()["code"] == "maker_cannot_check"
    assert _confirm(mc.c(mc.county_approver), r.json()["id"]).status_code == 201
    assert Account.objects.get(organization=mc.ent, asset=mc.so2).available == 2_000
