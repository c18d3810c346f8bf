"""Market microstructure: the fixed (not configurable) checks of an order against its market.

  M-STATE-001    market_halted            the market is halted
  M-STATE-002    market_closed            the market is closed for good
  M-SESSION-001  outside_trading_session  no trading session is open now
  A-VALID-001    asset_expired            the instrument's validity has ended (`ledger.checks`)
  M-TICK-001     price_off_tick           the price is not a multiple of the tick size
  M-LOT-001      quantity_off_lot         the quantity is not a multiple of the lot size
  M-MINQTY-001   below_min_quantity       the quantity is below the market's minimum
  M-BAND-001     price_outside_band       the price is outside ±band around the reference price

`ORDER_CHECKS` is which checks an order runs, in order (after Q-ACTIVE-001 and before the rulebook):
the UK ETS `business-checks.properties` line of this stage. Facts: `market` (locked, with
`session_now`), `price`, `quantity`, `now`.
"""
from __future__ import annotations

from django.utils.translation import gettext

from core.checks import BusinessCheck, business_check
from core.money import from_minor
from ledger.checks import AssetValid

from .. import errors
from ..models import MarketStatus
from ..sessions import LOCAL


def _in_units(minor: int, market) -> str:
    """A quantity in the instrument's unit (minor units when the market carries no asset scale)."""
    scale = getattr(getattr(market, "asset", None), "scale", None)
    return from_minor(minor, scale) if isinstance(scale, int) else str(minor)


def _unit(market) -> str:
    return getattr(getattr(market, "asset", None), "unit", "") or ""


def price_band(market) -> tuple[int, int] | None:
    """Allowed (low, high) limit prices: ±`price_band_bps` around the reference price (the previous
    session's VWAP close); None before the first close or without a band."""
    if market.price_band_bps is None or market.reference_price is None:
        return None
    ref, bps = market.reference_price, market.price_band_bps
    return -(-ref * (10_000 - bps) // 10_000), ref * (10_000 + bps) // 10_000


@business_check
class MarketNotHalted(BusinessCheck):
    """A halted market takes no orders (cancelling stays possible)."""

    number, code, subject = "M-STATE-001", errors.MARKET_HALTED, "market"

    @classmethod
    def check(cls, *, market, **_):
        return cls.refuse() if market.status == MarketStatus.HALTED else None


@business_check
class MarketNotClosed(BusinessCheck):
    """A closed market takes no orders; its open orders were cancelled when it closed."""

    number, code, subject = "M-STATE-002", errors.MARKET_CLOSED, "market"

    @classmethod
    def check(cls, *, market, **_):
        return cls.refuse() if market.status == MarketStatus.CLOSED else None


@business_check
class InTradingSession(BusinessCheck):
    """Orders are taken only inside a trading session (continuous markets are always in one)."""

    number, code, subject = "M-SESSION-001", errors.OUTSIDE_SESSION, "market"

    @classmethod
    def check(cls, *, market, **_):
        return cls.refuse() if market.session_now is None else None


@business_check
class PriceOnTick(BusinessCheck):
    """A limit price is a whole number of ticks (`tick_size` fen)."""

    number, code, subject = "M-TICK-001", errors.PRICE_OFF_TICK, "market"

    @classmethod
    def check(cls, *, market, price, **_):
        if price % market.tick_size:
            return cls.refuse(fields={"price": gettext("tick size is {tick} yuan").format(
                tick=from_minor(market.tick_size, 2))})
        return None


@business_check
class QuantityOnLot(BusinessCheck):
    """A quantity is a whole number of lots (`lot_size` minor units)."""

    number, code, subject = "M-LOT-001", errors.QUANTITY_OFF_LOT, "market"

    @classmethod
    def check(cls, *, market, quantity, **_):
        if quantity % market.lot_size:
            return cls.refuse(fields={"quantity": gettext("lot size is {lot} {unit}").format(
                lot=_in_units(market.lot_size, market), unit=_unit(market))})
        return None


@business_check
class MinimumQuantity(BusinessCheck):
    """An order is at least the market's minimum quantity."""

    number, code, subject = "M-MINQTY-001", errors.BELOW_MIN_QUANTITY, "market"

    @classmethod
    def check(cls, *, market, quantity, **_):
        if quantity < market.min_quantity:
            return cls.refuse(fields={"quantity": gettext("minimum is {minimum} {unit}").format(
                minimum=_in_units(market.min_quantity, market), unit=_unit(market))})
        return None


@business_check
class PriceInBand(BusinessCheck):
    """A limit price lies within ±`price_band_bps` of the reference price (the previous session's VWAP
    close), when the market has a band and a reference price."""

    number, code, subject = "M-BAND-001", errors.PRICE_OUTSIDE_BAND, "market"

    @classmethod
    def check(cls, *, market, price, **_):
        band = price_band(market)
        if band and not band[0] <= price <= band[1]:
            return cls.refuse(fields={"price": gettext("allowed {low}..{high} yuan").format(
                low=from_minor(band[0], 2), high=from_minor(band[1], 2))})
        return None


class MarketAssetValid(BusinessCheck):
    """A-VALID-001 as an order sees it: the market's instrument has not expired on the trading date."""

    number, code, subject = AssetValid.number, AssetValid.code, AssetValid.subject

    @classmethod
    def check(cls, *, market, now, **_):
        asset = market.asset
        if asset.is_expired(now.astimezone(LOCAL).date()):
            return cls.refuse(fields={"market": f"{asset.code} expired on {asset.valid_to}"})
        return None


ORDER_CHECKS = (MarketNotHalted, MarketNotClosed, InTradingSession, MarketAssetValid, PriceOnTick, QuantityOnLot,
                MinimumQuantity, PriceInBand)
