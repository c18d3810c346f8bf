"""Market administration: create markets, halt/resume/close them. Each change is audited."""
from __future__ import annotations

from django.db import transaction

from accounts.actor import Actor
from accounts.audit import audit_record
from core.errors import DomainError
from ledger.models import Asset

from .models import Market, SessionWindow


@transaction.atomic
def market_create(*, actor: Actor, asset: Asset, code: str, lot_size: int, min_quantity: int | None = None,
                  tick_size: int = 1, price_band_bps: int | None = 1000, fee_bps: int = 0, fee_min: int = 0,
                  always_open: bool = True, windows: list[tuple] = (), settlement_mode: str = "rtgs",
                  eod_cutoff=None, name_zh: str = "", name_en: str = "", reference_price: int | None = None) -> Market:
    """A market on `asset`. `reference_price` (fen), when given, is the band's reference until the first
    session closes (without one, the band applies only from the first close)."""
    bad = {}
    if lot_size <= 0 or lot_size % (10**asset.scale):
        # whole units only: keeps every order-book value an exact number of fen
        bad["lot_size"] = "must be a positive whole number of units"
    if tick_size <= 0:
        bad["tick_size"] = "must be positive"
    if min_quantity is not None and min_quantity <= 0:
        bad["min_quantity"] = "must be positive"
    if price_band_bps is not None and not 0 < price_band_bps < 10_000:
        bad["price_band_bps"] = "between 1 and 9999 basis points, or none"
    if not 0 <= fee_bps <= 10_000 or fee_min < 0:
        bad["fee_bps"] = "0..10000 basis points with a non-negative minimum"
    if any(end <= start for start, end, *_ in windows):
        bad["windows"] = "each window must end after it starts"
    if bad:
        raise DomainError("validation_error", fields=bad)
    market = Market.objects.create(
        code=code, asset=asset, lot_size=lot_size, min_quantity=min_quantity or lot_size, tick_size=tick_size,
        price_band_bps=price_band_bps, fee_bps=fee_bps, fee_min=fee_min, always_open=always_open,
        settlement_mode=settlement_mode, eod_cutoff=eod_cutoff, name_zh=name_zh or asset.name_zh,
        name_en=name_en or asset.name_en, reference_price=reference_price)
    for start, end, *weekdays in windows:
        SessionWindow.objects.create(market=market, start=start, end=end, weekdays=(weekdays or ["12345"])[0])
    audit_record(actor=actor, action="market.create", object_type="market", object_id=market.id,
                 after={"code": code, "asset": asset.code, "lot_size": lot_size, "tick_size": tick_size},
                 region_codes=[asset.origin_region_id] if asset.origin_region_id else [])
    return market


@transaction.atomic
def market_set_status(*, actor: Actor, market: Market, status: str, reason: str) -> Market:
    m = Market.objects.select_for_update().get(pk=market.pk)
    before = {"status": m.status}
    m.status = status
    m.save(update_fields=["status"])
    audit_record(actor=actor, action=f"market.{ {'halted': 'halt', 'open': 'resume', 'closed': 'close'}[status] }",
                 object_type="market", object_id=m.id, before=before, after={"status": status, "reason": reason},
                 region_codes=[m.asset.origin_region_id] if m.asset.origin_region_id else [])
    return m
