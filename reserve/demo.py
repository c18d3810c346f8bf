"""Demo data of the government reserve (`seed_reserve`, called by `seed_demo`; idempotent, fast, through
the services): Fuzhou Municipal Government holds the emission-rights reserve (proposed by
`operator_admin`, confirmed by `operator_approver`) with a guided floor of ¥28,000/t for reserve sales; it
posts a buy-back notice for 20 t of Minhou SO2 at ¥29,000/t, Minjiang Thermal Power tenders 5 t into it,
and the city releases 2 t again by fixed-price listing at ¥30,500/t."""
from __future__ import annotations

from accounts.actor import Actor
from accounts.demo import seed_accounts
from accounts.models import Membership
from ledger.models import Asset
from ledger.services import cash_deposit

from . import services
from .models import Designation

YUAN = 100
SO2 = "EM-SO2-2026-350121"


def _actor(username: str, org) -> Actor:
    m = Membership.objects.get(user__username=username, organization=org)
    return Actor(user_id=m.user_id, organization_id=org.id, role=m.role, organization_kind=org.kind)


def seed_reserve() -> None:
    orgs = seed_accounts()
    city, operator, minjiang = orgs["fz_city"], orgs["operator"], orgs["ent_minjiang"]
    asset = Asset.objects.filter(code=SO2).first()
    if asset is None or Designation.objects.filter(right_type_id="emission", organization=city).exists():
        return
    proposal = services.designation_propose(
        actor=_actor("operator_admin", operator), right_type_id="emission", organization_id=city.id,
        floor_price=28_000 * YUAN, note="福州市排污权收储（演示）")
    services.designation_decide(actor=_actor("operator_approver", operator), designation_id=proposal.id,
                                confirm=True)
    body = _actor("fuzhou_city_admin", city)
    cash_deposit(actor=Actor.system(), organization=city, amount=2_000_000 * YUAN,
                 bank_reference="demo-reserve-fz", idempotency_key="demo-reserve-fz")
    notice = services.notice_open(actor=body, body=city, asset_id=asset.id, price=29_000 * YUAN,
                                  quantity=20 * 10**asset.scale, title="福州市二氧化硫排污权收储公告（演示）")
    services.tender(actor=_actor("minjiang_trader", minjiang), holder=minjiang, notice_id=notice.id,
                    quantity=5 * 10**asset.scale)
    services.release(actor=body, body=city, asset_id=asset.id, kind="fixed_price", quantity=2 * 10**asset.scale,
                     price=30_500 * YUAN, divisible=True,
                     provenance={"reduction_measure": "政府收储投放", "discharge_permit_no": "收储-FZ-2026-001"},
                     title="福州市收储排污权投放（演示）")
