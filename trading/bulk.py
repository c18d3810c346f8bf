"""The bulk path for trade history: many settled order-book trades written in a few statements, with
everything the live paths would have written for them, for the demo history (`trading.demo_history`)
and the benchmarks' large data sets (`bench.drivers.history`). Not a shortcut around the invariants:
every row the live paths write is written, and every database guarantee applies.

For each trade, what `order_place` (twice) and `trade_settle` write:
  * two orders, filled: the resting sell (a second before the trade) and the crossing buy;
  * the trade, inserted SETTLED with its ledger transaction (the flow roll-up triggers on the trade
    table fold a batch of 1,000 or more straight into the daily summary and the totals, a smaller one
    into the deltas that `flow_rollup` folds: `oversight.models`);
  * its events MATCHED, SETTLING, SETTLED and its outbox row, done;
  * the settlement's ledger transaction (`settle:trade:<id>`, kind settle, the legs of `trade_settle`);
  * audit events `order.place` ×2, `trade.settling`, `trade.settle`;
  * and per market what `market_lock` does as time passes: each session the history moves past is
    closed (`SessionClose`, its VWAP the next reference price), the market rests in the last one.
Per batch, one thing differs from the live path, and it is documented here: the escrow. Live, each
order holds its own escrow (one `hold` ledger transaction per order); here ONE `hold` transaction per
batch moves, for every (organization, asset) of the batch, the sum of its trades' escrow from available
to held, through `ledger.posting.post` (locks, balance check: a party short of funds refuses the whole
batch). The settlements then spend exactly that escrow, so held balances end where they started.

How it is fast (a few statements per batch, whatever its size): the trades are drawn in time order,
their ids taken from the tables' own sequences (so ids grow with time, as live), staged with COPY in a
temporary table, and each table written by ONE INSERT … SELECT over it (SQL in the owning apps' `sql`
modules: `trading.settlement.sql`, `ledger.sql.bulk_journal_sql` / `bulk_postings_sql`,
`accounts.sql.bulk_audit_sql`). The ledger's statement-level balance trigger applies the batch's
postings once per account; its deferred trigger checks each transaction's zero sum at commit; the
append-only triggers and CHECK constraints apply as always. Nothing is disabled.

Idempotent: a batch is keyed (`key`); its hold transaction's idempotency key `bulk:<key>:hold` marks it
loaded, and a batch whose key is taken writes nothing. Deterministic: the caller's trades are the
only input (no clock, no randomness here). Not sealed here: the caller seals (`ledger.sealing.seal`)
when it wants the history provable at once.
"""
from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice

from django.db import connection, transaction
from django.utils import timezone

from accounts.actor import Actor
from accounts.models import GOVERNMENT_KINDS, Organization
from accounts.sql import bulk_audit_sql
from ledger.models import AccountKind, LedgerTransaction
from ledger.posting import AVAILABLE, HELD, Leg, accounts_ensure, post
from ledger.services import cny
from ledger.sql import bulk_journal_sql, bulk_postings_sql, journal_ids_sql
from marketplace.models import Market, SessionClose
from marketplace.sessions import is_session_key, market_state_at, trading_day
from marketplace.sql import bulk_session_closes_sql

from .common import pricing
from .models import Order, Trade
from .orderbook.sql import session_figures_source
from .settlement import sql
from .settlement.routing import settlement_queue, settlement_shard

SETTLE_AFTER = timedelta(seconds=3)  # match → settled, as a live settlement a few seconds after the match
BATCH = 100_000

# the staging table's columns (one row per trade), in COPY order
STAGE_COLUMNS = (
    ("trade_id", "bigint"), ("buy_order_id", "bigint"), ("sell_order_id", "bigint"), ("txn_id", "bigint"),
    ("market_id", "bigint"), ("market_code", "text"), ("asset_id", "bigint"), ("cny_id", "bigint"),
    ("buyer_id", "bigint"), ("seller_id", "bigint"), ("buyer_region", "text"), ("seller_region", "text"),
    ("price", "bigint"), ("quantity", "bigint"), ("value", "bigint"), ("buyer_fee", "bigint"),
    ("seller_fee", "bigint"), ("matched_at", "timestamptz"), ("settled_at", "timestamptz"), ("session", "text"),
    ("queue", "text"), ("client_tag", "text"), ("proceeds_kind", "text"), ("buyer_rights", "bigint"),
    ("seller_rights", "bigint"), ("buyer_cash", "bigint"), ("seller_cash", "bigint"), ("fee_account", "bigint"),
)
STAGE = "bulk_history_stage"


@dataclass(frozen=True)
class HistoryTrade:
    """One order-book trade of the history: `seller` rested a sell order a second before `at`, when
    `buyer`'s buy order crossed it at `price` (fen per whole unit) for `quantity` (minor units)."""

    market_id: int
    buyer_id: int
    seller_id: int
    price: int
    quantity: int
    at: datetime
    client_tag: str  # the orders' client_order_id are client_tag + "-s" / "-b"


def batch_key(key: str) -> str:
    return f"bulk:{key}:hold"


def batch_loaded(key: str) -> bool:
    return LedgerTransaction.objects.filter(idempotency_key=batch_key(key)).exists()


def _ids(statement: str, count: int) -> list[int]:
    with connection.cursor() as cur:
        cur.execute(statement, [count])
        return [r[0] for r in cur.fetchall()]


def _copy_text(value) -> str:
    if value is None:
        return r"\N"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value).replace("\\", "\\\\").replace("\t", " ").replace("\n", " ")


_state_cache: dict[tuple[int, datetime], str] = {}


def _session_at(market: Market, at: datetime) -> str:
    """The session key the live path gives a trade of `market` at `at` ('' outside sessions), as
    `market_lock` computes it (memoized per market and minute: windows are whole minutes)."""
    if market.always_open:
        return timezone.localtime(at).date().isoformat()
    minute = at.replace(second=0, microsecond=0)
    if (market.id, minute) not in _state_cache:
        session, _ = market_state_at(market, minute)
        _state_cache[(market.id, minute)] = session or ""
    return _state_cache[(market.id, minute)]


def funding_needs(trades: Iterable[HistoryTrade]) -> dict[tuple[int, int], int]:
    """(organization id, asset id) → the gross amount the trades need there: the buyers' cash (value and
    fee), the sellers' rights. What a caller funds before loading (deposits, issuance)."""
    trades = list(trades)
    markets = Market.objects.select_related("asset").in_bulk({t.market_id for t in trades})
    cny_id = cny().id
    need: dict[tuple[int, int], int] = {}
    for t in trades:
        m = markets[t.market_id]
        value = pricing.trade_value(t.price, t.quantity, m.asset.scale)
        cost = value + pricing.total_fee(value, bps=m.fee_bps, minimum=m.fee_min)
        need[(t.buyer_id, cny_id)] = need.get((t.buyer_id, cny_id), 0) + cost
        need[(t.seller_id, m.asset_id)] = need.get((t.seller_id, m.asset_id), 0) + t.quantity
    return need


@transaction.atomic
def load_batch(trades: list[HistoryTrade], *, key: str) -> int:
    """Write `trades` (settled, with everything above) as one batch keyed `key`; returns how many were
    written (0 when the key was loaded already)."""
    if not trades or batch_loaded(key):
        return 0
    trades = sorted(trades, key=lambda t: (t.at, t.client_tag))
    markets = Market.objects.select_related("asset__right_type").in_bulk({t.market_id for t in trades})
    orgs = Organization.objects.only("id", "kind", "region_id").in_bulk(
        {t.buyer_id for t in trades} | {t.seller_id for t in trades})
    cny_id = cny().id
    operator_id = (Organization.objects.filter(kind="exchange_operator").order_by("id")
                   .values_list("id", flat=True).first())
    system = Actor.system()

    rows, keys, holds = [], set(), {}
    sessions: dict[int, list[str]] = {}
    for t in trades:
        m, buyer, seller = markets[t.market_id], orgs[t.buyer_id], orgs[t.seller_id]
        session = _session_at(m, t.at)
        sessions.setdefault(m.id, []).append(session)
        if buyer.id == seller.id:
            raise ValueError(f"{t.client_tag}: a trade needs two organizations")
        asset = m.asset
        value = pricing.trade_value(t.price, t.quantity, asset.scale)
        fee_args = dict(bps=m.fee_bps, minimum=m.fee_min)
        buyer_fee = pricing.total_fee(value, **fee_args)
        seller_fee = min(pricing.total_fee(value, **fee_args), value)
        if (buyer_fee or seller_fee) and operator_id is None:
            raise RuntimeError("no exchange operator organization: fees have nowhere to go")
        # as trade_settle: a government seller of a right type with an earmark purpose is paid into its fund
        proceeds = (AccountKind.EARMARKED if asset.right_type.earmark_purpose and seller.kind in GOVERNMENT_KINDS
                    else AccountKind.PARTICIPANT)
        account_keys = ((buyer.id, asset.id, AccountKind.PARTICIPANT), (seller.id, asset.id, AccountKind.PARTICIPANT),
                        (buyer.id, cny_id, AccountKind.PARTICIPANT), (seller.id, cny_id, str(proceeds)),
                        (operator_id, cny_id, AccountKind.FEE_INCOME, settlement_shard(m.id)))
        keys.update(account_keys)
        holds[(buyer.id, cny_id)] = holds.get((buyer.id, cny_id), 0) + value + buyer_fee
        holds[(seller.id, asset.id)] = holds.get((seller.id, asset.id), 0) + t.quantity
        rows.append((t, m, buyer, seller, value, buyer_fee, seller_fee, str(proceeds), account_keys, session))

    ids = accounts_ensure(sorted(keys, key=lambda k: (k[0] or 0, k[1], str(k[2]), k[3] if len(k) > 3 else 0)))
    hold_ids = accounts_ensure([(org, asset, AccountKind.PARTICIPANT) for org, asset in holds])
    legs = []
    for (org, asset), amount in holds.items():
        acc = hold_ids[(org, asset, AccountKind.PARTICIPANT)]
        legs += [Leg(acc, AVAILABLE, -amount), Leg(acc, HELD, amount)]
    post(kind="hold", idempotency_key=batch_key(key), actor=system, reference=("bulk_history", key), legs=legs,
         request={"bulk_history": key, "trades": len(trades)},
         memo={"escrow of": "the orders of a bulk-loaded history batch (trading.bulk)"})

    n = len(rows)
    order_ids, trade_ids = _ids(sql.ids_sql(Order), 2 * n), _ids(sql.ids_sql(Trade), n)
    txn_ids = _ids(journal_ids_sql(), n)
    buf = io.StringIO()
    for i, (t, m, buyer, seller, value, buyer_fee, seller_fee, proceeds, account_keys, session) in enumerate(rows):
        matched = t.at
        acc = [ids[k] for k in account_keys]
        line = (trade_ids[i], order_ids[2 * i + 1], order_ids[2 * i], txn_ids[i], m.id, m.code, m.asset_id, cny_id,
                buyer.id, seller.id, buyer.region_id, seller.region_id, t.price, t.quantity, value, buyer_fee,
                seller_fee, matched, matched + SETTLE_AFTER, session, settlement_queue(m.id), t.client_tag,
                proceeds, *acc)
        buf.write("\t".join(_copy_text(v) for v in line))
        buf.write("\n")
    buf.seek(0)
    with connection.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {STAGE}")
        cur.execute(f"CREATE TEMPORARY TABLE {STAGE} ({', '.join(f'{c} {t}' for c, t in STAGE_COLUMNS)}) "
                    "ON COMMIT DROP")
        cur.cursor.copy_expert(f"COPY {STAGE} ({', '.join(c for c, _ in STAGE_COLUMNS)}) FROM STDIN", buf)
        cur.execute(sql.bulk_orders_sql(STAGE))
        cur.execute(bulk_journal_sql(sql.bulk_journal_source(STAGE)))
        cur.execute(bulk_postings_sql(sql.bulk_postings_source(STAGE)))
        cur.execute(sql.bulk_trades_sql(STAGE))
        cur.execute(sql.bulk_trade_events_sql(STAGE))
        cur.execute(sql.bulk_outbox_sql(STAGE))
        cur.execute(bulk_audit_sql(sql.bulk_audit_source(STAGE)))
        cur.execute(f"DROP TABLE {STAGE}")
    _close_sessions(markets, sessions, since=trades[0].at - timedelta(days=1))
    return n


def _close_sessions(markets: dict[int, Market], sessions: dict[int, list[str]], *, since: datetime) -> None:
    """Bring each market's session state to where the live order path would have left it after these
    trades (`trading.orderbook.services.market_lock`): every session the history moved past is closed
    (a `SessionClose` with its VWAP), the market rests in the history's last session, and its reference
    price is the last close. A market already in a later session (a history loaded behind it) keeps its
    state; the history's sessions are then all closed."""
    closing, moves = [], {}
    for market_id in sessions:  # a session the history moves past may have begun before the batch
        previous = markets[market_id].current_session
        if is_session_key(previous):
            day = datetime.fromisoformat(trading_day(previous)).replace(tzinfo=timezone.get_default_timezone())
            since = min(since, day)
    for market_id, keys in sessions.items():
        market = markets[market_id]
        keys = sorted(set(k for k in keys if is_session_key(k)))
        if not keys:
            continue
        previous = market.current_session
        if previous and previous > keys[-1]:
            closing += [(market_id, k) for k in keys]
            continue
        closing += [(market_id, k) for k in keys[:-1]]
        if is_session_key(previous) and previous < keys[-1] and previous not in keys:
            closing.append((market_id, previous))
        moves[market_id] = (keys[-1], keys[:-1] or ([previous] if is_session_key(previous) else []))
    if not closing:
        return
    pairs = "(VALUES " + ", ".join(["(%s::bigint, %s::varchar)"] * len(closing)) + ") w(market_id, session)"
    with connection.cursor() as cur:
        cur.execute(bulk_session_closes_sql(session_figures_source(pairs)),
                    [x for pair in closing for x in pair] + [since])
    closes = {(c.market_id, c.session): c.close for c in
              SessionClose.objects.filter(market_id__in=list(moves), session__in={k for _, k in closing})}
    for market_id, (current, closed) in moves.items():
        reference = next((closes[(market_id, k)] for k in reversed(sorted(closed)) if (market_id, k) in closes),
                         markets[market_id].reference_price)
        Market.objects.filter(pk=market_id).update(current_session=current, reference_price=reference)


def _chunks(items: Iterable[HistoryTrade], size: int) -> Iterator[list[HistoryTrade]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def load_history(trades: Iterable[HistoryTrade], *, key: str, batch: int = BATCH) -> int:
    """Load `trades` (in time order) in batches of `batch`, batch i keyed `key:i`, each in its own
    transaction unless the caller holds one; returns how many trades were written."""
    return sum(load_batch(chunk, key=f"{key}:{i}") for i, chunk in enumerate(_chunks(trades, batch)))
