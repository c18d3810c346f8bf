"""Shared helpers of the benchmark drivers: Django setup, the seed file, percentiles, timing, and the
fast paths that make large, escrow-consistent data sets quickly (`make_matched_trades`, `rest_orders`).

Fast paths never bypass the ledger's guarantees: escrow is posted through `ledger.posting.post` (one
ledger transaction per batch, whose legs move available → held for every organization and asset the
batch touches), and the balance triggers, zero-sum and CHECK constraints all apply.
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STATE = Path(os.environ.get("STATE_DIR", ROOT / ".state" / "bench"))
SEED_FILE = STATE / "seed.json"


def setup_django() -> None:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("ENABLE_BENCH_APP", "1")
    import django

    django.setup()


def load_seed() -> dict:
    return json.loads(SEED_FILE.read_text())


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100)."""
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100 * len(s) + 0.5)) - 1))
    return s[k]


def median(values):
    return statistics.median(values) if values else None


def rnd(x, digits=1):
    return None if x is None else round(x, digits)


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S', time.gmtime())}] {msg}", file=sys.stderr, flush=True)


# --- fast paths (need Django set up) -----------------------------------------------------------------

def _hold_post(holds: dict[tuple[int, int], int], note: str) -> None:
    """One ledger transaction moving `amount` available → held for each (organization, asset)."""
    from accounts.actor import Actor
    from ledger.posting import AVAILABLE, HELD, Leg, accounts_ensure, post

    keys = [(org, asset, "participant") for (org, asset) in holds]
    ids = accounts_ensure(keys)
    legs = []
    for (org, asset), amount in holds.items():
        acc = ids[(org, asset, "participant")]
        legs += [Leg(acc, AVAILABLE, -amount), Leg(acc, HELD, amount)]
    post(kind="hold", idempotency_key=f"bench:{note}:{uuid.uuid4().hex}", request={"bench": note}, legs=legs,
         actor=Actor.system(), reference=("bench", note))


def make_matched_trades(specs: list[tuple], *, enqueue: bool = False, queue: str | None = None) -> list[int]:
    """Matched, escrowed, unsettled order-book trades, as `order_place` leaves them (orders filled, trade,
    MATCHED event, pending outbox row), without going through matching. `specs`: (market, buyer id,
    seller id, price fen, quantity minor units). With `enqueue`, each trade's settlement is sent after
    commit (to `queue`, else to the market's settlement queue) exactly as the order path does."""
    from django.db import transaction
    from django.utils import timezone

    from ledger.services import cny
    from trading.common import pricing
    from trading.models import Order, SettlementOutbox, Trade, TradeEvent
    from trading.settlement.outbox import outbox_row_for, send_settlement

    cny_id = cny().id
    with transaction.atomic():
        now = timezone.now()
        holds: dict[tuple[int, int], int] = {}
        orders, rows = [], []
        for market, buyer, seller, price, quantity in specs:
            scale = market.asset.scale
            value = pricing.trade_value(price, quantity, scale)
            fee_args = dict(bps=market.fee_bps, minimum=market.fee_min)
            buyer_fee = pricing.total_fee(value, **fee_args)
            seller_fee = min(pricing.total_fee(value, **fee_args), value)
            buyer_hold = value + buyer_fee
            holds[(buyer, cny_id)] = holds.get((buyer, cny_id), 0) + buyer_hold
            holds[(seller, market.asset_id)] = holds.get((seller, market.asset_id), 0) + quantity
            common = dict(market=market, time_in_force="gtc", price=price, quantity=quantity, remaining=0,
                          filled_value=value, hold_remaining=0, status="filled", session=market.current_session)
            buy = Order(organization_id=buyer, side="buy", fees_charged=buyer_fee, **common)
            sell = Order(organization_id=seller, side="sell", fees_charged=seller_fee, **common)
            orders += [buy, sell]
            rows.append((market, buy, sell, buyer, seller, price, quantity, value, buyer_fee, seller_fee, buyer_hold))
        _hold_post(holds, "trades")
        Order.objects.bulk_create(orders)
        trades = [Trade(market=m, asset_id=m.asset_id, source="order_book", buy_order=b, sell_order=s, buyer_id=bu,
                        seller_id=se, price=p, quantity=q, value=v, buyer_fee=bf, seller_fee=sf, buyer_hold=bh,
                        seller_hold=q, aggressor="buy", session=m.current_session, status="matched")
                  for m, b, s, bu, se, p, q, v, bf, sf, bh in rows]
        Trade.objects.bulk_create(trades)
        TradeEvent.objects.bulk_create([TradeEvent(trade=t, status="matched", detail={"source": "bench"})
                                        for t in trades])
        SettlementOutbox.objects.bulk_create([outbox_row_for(t, t.market) for t in trades])
        ids = [t.id for t in trades]
        if enqueue:
            due = [(t.id, queue or outbox_row_for(t, t.market).queue) for t in trades]
            transaction.on_commit(lambda: [send_settlement(tid, q) for tid, q in due])
        _ = now
    return ids


def rest_orders(market, organization_id: int, *, side: str, count: int, price_lo: int, price_hi: int,
                lots: tuple[int, int] = (1, 5), batch: int = 20_000) -> int:
    """Bulk-insert `count` open GTC limit orders (one side) with their escrow: INSERT … SELECT
    generate_series for the orders, one ledger hold transaction per batch for their total. Buy holds
    assume a fee-free market (value at the limit price, rounded up to the fen)."""
    from django.db import connection, transaction

    from ledger.services import cny

    assert side == "buy" or side == "sell"
    if side == "buy":
        assert market.fee_bps == 0 and market.fee_min == 0, "buy holds here assume a fee-free market"
    scale_div = 10 ** market.asset.scale
    lot = market.lot_size
    span = max(1, (price_hi - price_lo) // market.tick_size + 1)
    done = 0
    while done < count:
        n = min(batch, count - done)
        with transaction.atomic(), connection.cursor() as cur:
            # price and quantity are deterministic functions of the series number (spread over the range)
            price_sql = f"({price_lo} + ((g * 7919) %% {span}) * {market.tick_size})"
            qty_sql = f"({lot} * ({lots[0]} + (g %% {lots[1] - lots[0] + 1})))"
            hold_sql = qty_sql if side == "sell" else \
                f"({price_sql}::bigint * {qty_sql} + {scale_div - 1}) / {scale_div}"
            cur.execute(
                f"""INSERT INTO trading_order (market_id, organization_id, user_id, side, time_in_force, price,
                        quantity, remaining, filled_value, fees_charged, hold_remaining, status, cancel_reason, session,
                        rule_version, client_order_id, created_at, updated_at)
                    SELECT %s, %s, NULL, %s, 'gtc', {price_sql}, {qty_sql}, {qty_sql}, 0, 0, {hold_sql}, 'open', '',
                           %s, NULL, '', now(), now()
                      FROM generate_series(%s, %s) g
                    RETURNING hold_remaining""",
                [market.id, organization_id, side, market.current_session or "", done + 1, done + n])
            total = sum(r[0] for r in cur.fetchall())
            asset_id = market.asset_id if side == "sell" else cny().id
            _hold_post({(organization_id, asset_id): total}, f"rest:{market.id}:{side}")
        done += n
    return done
