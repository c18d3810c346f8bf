"""Posting: `post()` writes a balanced ledger transaction. Every service that moves value calls it, except
the settlement, which writes its journal inside a statement of its own (see the third paragraph).

Two statements per transaction, whatever its size: lock the touched accounts in id order
(`SELECT … FOR UPDATE`, the fixed order that rules out deadlocks between ledger writers) and check the
balances; then insert the journal row (idempotent on its key) and its postings in one statement (a
statement trigger applies them to the balances, once per account). A shortfall is a clean 4xx raised
before anything is written; the CHECK constraints behind it make a negative participant balance
impossible even for a buggy caller.

A hot path that cannot afford the lock statement (settlement) writes the journal and postings as part of
one statement of its own (`ledger.sql.journal_cte`, `legs_in_lock_order`): the balance trigger takes the locks,
in the same order, and the CHECK constraints are then the balance check.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from django.db import connection, transaction

from accounts.actor import Actor
from core.errors import DomainError
from core.prepared import driver_cursor

from . import sql
from .errors import INSUFFICIENT_BALANCE, INSUFFICIENT_HELD

AVAILABLE, HELD = "A", "H"
_account_ids: dict[tuple, int] = {}


@dataclass(frozen=True)
class Leg:
    account_id: int
    bucket: str
    amount: int


@dataclass(frozen=True)
class Posted:
    transaction_id: int
    replayed: bool


def _normal(key: tuple) -> tuple:
    return key if len(key) == 4 else (*key, 0)


def _key_order(key: tuple) -> tuple:
    org, asset, kind, shard = key
    return (org is not None, org or 0, asset, str(kind), shard)


def accounts_ensure(keys: list[tuple]) -> dict[tuple, int]:
    """Account ids for (organization id, asset id, kind[, shard]) keys, opening missing accounts (zero
    balances). A key without a shard means shard 0.

    Accounts are never deleted, so ids are cached per process (README, "Per-process caches"), but only
    once the transaction that found or opened them has committed: an account opened by a transaction
    that then rolls back (a refused transfer to a first-time recipient) must not stay in the cache.
    Missing accounts are opened in one fixed order, so two transactions opening overlapping sets cannot
    deadlock on each other's uncommitted inserts; one that waited on a concurrent insert reads the
    committed row afterwards."""
    wanted = list(dict.fromkeys(_normal(k) for k in keys))
    found = {k: _account_ids[k] for k in wanted if k in _account_ids}
    missing = sorted((k for k in wanted if k not in found), key=_key_order)
    if missing:
        params = [x for i, k in enumerate(missing) for x in (*k, i)]
        with connection.cursor() as cur:
            cur.execute(sql.accounts_open_sql(len(missing)), params)
            for acc_id, org, asset, kind, shard in cur.fetchall():
                found[(org, asset, kind, shard)] = acc_id
            late = [k for k in missing if k not in found]
            if late:
                # ON CONFLICT waited for a concurrent opener that has committed since: the statement's
                # snapshot predates its row, a new statement sees it
                cur.execute(sql.accounts_find_sql(len(late)), [x for k in late for x in k])
                for acc_id, org, asset, kind, shard in cur.fetchall():
                    found[(org, asset, kind, shard)] = acc_id
        opened = dict(found)
        if connection.in_atomic_block:
            transaction.on_commit(lambda: _account_ids.update(opened))
        else:
            _account_ids.update(opened)
    return {k: found[_normal(k)] for k in keys}


def accounts_lock(keys: list[tuple]) -> None:
    """Lock the accounts of these keys in id order, in one statement: for a use case that will post
    several ledger transactions touching different accounts, so that it takes all its account locks the
    way a single posting does (sorted, at once) and cannot deadlock with one."""
    ids = sorted(set(accounts_ensure(keys).values()))
    with connection.cursor() as cur:
        sql.ACCOUNTS_LOCK.run(cur, {"ids": ids})


def forget_cached_accounts() -> None:
    _account_ids.clear()


def _first_difference(stored: dict, incoming: dict) -> str | None:
    for field in sorted(set(stored) | set(incoming)):
        if stored.get(field) != incoming.get(field):
            return field
    return None


def replay_of(*, idempotency_key: str, request: dict) -> Posted | None:
    """The transaction already written under this key for the same request, None when the key is unused;
    DomainError `idempotency_conflict` when it was used for another request. For services that find they
    have nothing to post (an expiry with nothing left) and must still honour a replay."""
    with connection.cursor() as cur:
        sql.TRANSACTION_BY_KEY.run(cur, {"key": idempotency_key})
        row = cur.fetchone()
    if row is None:
        return None
    stored = row[1] if isinstance(row[1], dict) else json.loads(row[1])
    differing = _first_difference(stored, json.loads(json.dumps(request, sort_keys=True, default=str)))
    if differing:
        raise DomainError("idempotency_conflict", field=differing,
                           fields={differing: "differs from the request first sent with this key"})
    return Posted(transaction_id=row[0], replayed=True)


# The journal row and its postings as CTEs, and their parameters, for callers that make one statement
# of them and their own writes (see ledger.sql).
journal_cte, journal_params = sql.journal_cte, sql.journal_params


def legs_in_lock_order(legs: list[Leg]) -> list[Leg]:
    """The legs to write without `post`'s lock statement, for a caller that puts `journal_cte` into its
    own statement: zero legs dropped, the rest in account id order. The balance trigger then takes the
    account locks as it applies the statement's postings (once per account, in account id order: the
    fixed order of `post` and `accounts_lock` too), so such writers cannot deadlock with each other or
    with them. Nothing checks the balances first: a bucket that would go negative fails the statement
    (CHECK `account_non_negative`), which aborts the caller's transaction; `shortfall` then tells which
    error it was."""
    return sorted((leg for leg in legs if leg.amount != 0), key=lambda leg: leg.account_id)


def shortfall(legs: list[Leg]) -> str | None:
    """`insufficient_held` / `insufficient_balance` when applying `legs` to the accounts' current
    balances would take a participant bucket below zero, None when it would not (read without locks)."""
    ids = sorted({leg.account_id for leg in legs})
    with connection.cursor() as cur:
        sql.ACCOUNTS_READ.run(cur, {"ids": ids})
        # an account missing here was opened by the rolled-back transaction: it would have opened empty
        return _shortfall_code({r[0]: r[1:] for r in cur.fetchall()}, legs)


def _shortfall_code(accounts: dict[int, tuple[str, int, int]], legs: list[Leg]) -> str | None:
    """The error for applying `legs` to `accounts` (id → kind, available, held; a missing account
    counts as an empty participant account), None when no participant bucket would go negative."""
    balance = {}
    for account_id, (_kind, available, held) in accounts.items():
        balance[(account_id, AVAILABLE)], balance[(account_id, HELD)] = available, held
    for leg in legs:
        balance[(leg.account_id, leg.bucket)] = balance.get((leg.account_id, leg.bucket), 0) + leg.amount
    short = next(((account_id, bucket) for (account_id, bucket), value in balance.items()
                  if value < 0 and accounts.get(account_id, ("",))[0] != "issuance"), None)
    if short is None:
        return None
    return INSUFFICIENT_HELD if short[1] == HELD else INSUFFICIENT_BALANCE


def post(*, kind: str, idempotency_key: str, request: dict, legs: list[Leg], actor: Actor,
         reference: tuple[str, object] = ("", ""), memo: dict | None = None) -> Posted:
    """Write one balanced ledger transaction, or return the one already written under this key.

    Raises DomainError `idempotency_conflict` (naming the first differing field) when the key was used for
    another request, `insufficient_balance` / `insufficient_held` when a participant bucket would go
    negative. Every check happens before the first write, so a caller may catch these errors and carry
    on in the same transaction. Must run inside the caller's `transaction.atomic`.
    """
    assert connection.in_atomic_block, "post() must run inside transaction.atomic"
    legs = [leg for leg in legs if leg.amount != 0]
    with driver_cursor() as cur:
        account_ids = sorted({leg.account_id for leg in legs})
        sql.lock_accounts(cur, account_ids)
        accounts = {r[0]: r for r in cur.fetchall()}
        if len(accounts) != len(account_ids):
            raise LookupError(f"unknown ledger accounts {set(account_ids) - set(accounts)}")
        short = _shortfall_code({a: r[2:] for a, r in accounts.items()}, legs)

        existing = None
        if short:  # a replay of a posted transaction is not a shortfall: look the key up first
            sql.TRANSACTION_BY_KEY.run(cur, {"key": idempotency_key})
            existing = cur.fetchone()
            if existing is None:
                raise DomainError(short)

        if existing is None:
            sql.INSERT_JOURNAL_AND_POSTINGS.execute(cur, journal_params(
                kind=kind, idempotency_key=idempotency_key, request=request, legs=legs,
                assets=[accounts[leg.account_id][1] for leg in legs], actor=actor, reference=reference, memo=memo))
            row = cur.fetchone()
            if row is None:
                sql.TRANSACTION_BY_KEY.run(cur, {"key": idempotency_key})
                existing = cur.fetchone()
        if existing is not None:
            existing_id, stored = existing
            stored = stored if isinstance(stored, dict) else json.loads(stored)
            differing = _first_difference(stored, json.loads(sql.request_json(request)))
            if differing:
                raise DomainError("idempotency_conflict", field=differing,
                               fields={differing: "differs from the request first sent with this key"})
            return Posted(transaction_id=existing_id, replayed=True)
        txn_id = row[0]
    return Posted(transaction_id=txn_id, replayed=False)


def atomic_post(**kwargs) -> Posted:
    with transaction.atomic():
        return post(**kwargs)
