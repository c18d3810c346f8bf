"""Demo markets for `make run` (`seed_demo` calls `seed_marketplace()` after the ledger's demo): one
continuous market per standardized demo instrument, always open (the demo default), with realistic
reference prices (DOMAIN: COD ≈ ¥28,500/t, NOx ≈ ¥34,250/t) and a ±10% band once a session has closed.
Idempotent: markets are found by code."""
from __future__ import annotations

from accounts.actor import Actor
from ledger.models import Asset

from .models import Market
from .services import market_create

YUAN = 100
# market code: (asset code, tick fen, fee bps, fee minimum fen[, reference price fen])
MARKETS = {
    "EM-SO2-2026-350121": ("EM-SO2-2026-350121", 1 * YUAN, 5, 10 * YUAN),
    "EM-NOX-2026-350121": ("EM-NOX-2026-350121", 1 * YUAN, 5, 10 * YUAN),
    "EM-COD-2026-350181": ("EM-COD-2026-350181", 1 * YUAN, 5, 10 * YUAN),
    "EM-NH3N-2026-350181": ("EM-NH3N-2026-350181", 1 * YUAN, 5, 10 * YUAN),
    "CA-2026-350000": ("CA-2026-350000", 1, 3, 5 * YUAN),
    "EN-2026-350000": ("EN-2026-350000", 1, 5, 5 * YUAN),
    "PG-2026-350000": ("PG-2026-350000", 1, 5, 5 * YUAN),
    # order-book markets for water and farmland (the other instruments of those kinds trade by listing);
    # their configured reference price bands the first session (¥0.50/m³; ¥300,000/mu)
    "WR-TINGHAN-2026-350803": ("WR-TINGHAN-2026-350803", 1, 5, 1 * YUAN, 50),
    "FL-GRAIN-2026-350724": ("FL-GRAIN-2026-350724", 100 * YUAN, 5, 10 * YUAN, 300_000 * YUAN),
}


def seed_marketplace() -> dict[str, Market]:
    markets = {}
    for code, (asset_code, tick, fee_bps, fee_min, *reference) in MARKETS.items():
        market = Market.objects.filter(code=code).first()
        if market is None:
            asset = Asset.objects.filter(code=asset_code).first()
            if asset is None:
                continue  # the ledger demo did not create it
            market = market_create(actor=Actor.system(), asset=asset, code=code, lot_size=10**asset.scale,
                                   tick_size=tick, fee_bps=fee_bps, fee_min=fee_min, price_band_bps=1000,
                                   reference_price=reference[0] if reference else None)
        markets[code] = market
    return markets
