"""The hand-written SQL on the ledger's tables, and the fragment others compose into their statements.

* The statements of posting (`ledger.posting`): open accounts, lock accounts, look up an idempotency key,
  read balances, and the journal row with its postings.
* `journal_cte()`: the journal row and its postings as two CTEs (`journal`, giving `id`, and `postings`),
  with named parameters; `journal_params(...)` gives their values. `post()` runs them alone; a hot path
  (the settlement) puts them in front of its own writes to make one statement, and joins its writes to
  `journal` so that nothing is written when the ledger key is already taken.

Table and column names come from the models (`_meta`). Other apps read the ledger's tables through
these names too (`ACCOUNT`, `POSTING`, …), never through a literal.
"""
from __future__ import annotations

import json

from accounts.actor import Actor
from accounts.models import Organization
from core.prepared import PreparedQuery, Sql

from .models import Account, Asset, LedgerTransaction, MerkleLeaf, Posting

ACCOUNT, ASSET = Account._meta.db_table, Asset._meta.db_table
TRANSACTION, POSTING = LedgerTransaction._meta.db_table, Posting._meta.db_table
LEAF = MerkleLeaf._meta.db_table
ORGANIZATION = Organization._meta.db_table  # accounts' table, joined for the owner's region


def accounts_open_sql(count: int) -> str:
    """Open the missing accounts of `count` (organization, asset, kind, shard, order) keys in that order
    and return the ids of every account of those organizations (positional parameters, 5 per key)."""
    values = ",".join(["(%s::bigint, %s::bigint, %s::varchar, %s::smallint, %s::int)"] * count)
    return f"""WITH wanted(org, asset, kind, shard, ord) AS (VALUES {values}),
               ins AS (INSERT INTO {ACCOUNT} (organization_id, asset_id, kind, shard, available, held, created_at)
                       SELECT org, asset, kind, shard, 0, 0, now() FROM wanted ORDER BY ord
                       ON CONFLICT (organization_id, asset_id, kind, shard) DO NOTHING
                       RETURNING id, organization_id, asset_id, kind, shard)
               SELECT id, organization_id, asset_id, kind, shard FROM ins
               UNION ALL
               SELECT a.id, a.organization_id, a.asset_id, a.kind, a.shard FROM {ACCOUNT} a JOIN wanted w
                 ON a.organization_id IS NOT DISTINCT FROM w.org AND a.asset_id = w.asset AND a.kind = w.kind
                AND a.shard = w.shard
               UNION ALL  -- the organizations' other accounts too: warms the cache per organization
               SELECT a.id, a.organization_id, a.asset_id, a.kind, a.shard FROM {ACCOUNT} a
                WHERE a.organization_id IN (SELECT org FROM wanted)"""


def accounts_find_sql(count: int) -> str:
    """The ids of `count` (organization, asset, kind, shard) keys (positional parameters, 4 per key)."""
    values = ",".join(["(%s::bigint, %s::bigint, %s::varchar, %s::smallint)"] * count)
    return f"""SELECT a.id, a.organization_id, a.asset_id, a.kind, a.shard FROM {ACCOUNT} a
                 JOIN (VALUES {values}) w(org, asset, kind, shard)
                   ON a.organization_id IS NOT DISTINCT FROM w.org AND a.asset_id = w.asset
                  AND a.kind = w.kind AND a.shard = w.shard"""


ACCOUNTS_LOCK = Sql(f"SELECT id FROM {ACCOUNT} WHERE id = ANY(%(ids)s) ORDER BY id FOR UPDATE", ids="bigint[]")
ACCOUNTS_READ = Sql(f"SELECT id, kind, available, held FROM {ACCOUNT} WHERE id = ANY(%(ids)s)", ids="bigint[]")
TRANSACTION_BY_KEY = Sql(f"SELECT id, request FROM {TRANSACTION} WHERE idempotency_key = %(key)s", key="varchar")

# The two statements of every posting, prepared once per database session (see core.prepared): lock
# and read the accounts, then journal row and postings together.
#
# The lock statement comes in one form per number of accounts up to LOCK_ARITY_MAX (`id IN ($1, …, $n)`),
# and an array form beyond. Why: with an array parameter (`id = ANY($1)`) PostgreSQL cannot tell from
# the parameter how many rows to expect, so its cached generic plan for it is a sequential scan of the
# accounts, and it keeps choosing a custom plan instead — planning the statement anew on every posting,
# about 9% of a two-leg posting's server instructions (valgrind callgrind, 2026-12-06). With n scalar
# parameters the generic plan is an index scan on the primary key and is planned once per session.
LOCK_ARITY_MAX = 8
_LOCK_SELECT = f"SELECT id, asset_id, kind, available, held FROM {ACCOUNT} WHERE "
LOCK_ACCOUNTS = PreparedQuery(Sql(f"{_LOCK_SELECT}id = ANY(%(ids)s) ORDER BY id FOR UPDATE", ids="bigint[]"))
_LOCK_ACCOUNTS_N = [None] + [
    PreparedQuery(f"{_LOCK_SELECT}id IN ({', '.join(['%s'] * n)}) ORDER BY id FOR UPDATE", ["bigint"] * n)
    for n in range(1, LOCK_ARITY_MAX + 1)]


def lock_accounts(cur, ids: list[int]) -> None:
    """Lock the accounts `ids` (distinct) in id order and read them: (id, asset_id, kind, available, held)
    rows on `cur`, in id order. One statement, prepared per session, whatever the number of accounts."""
    if 0 < len(ids) <= LOCK_ARITY_MAX:
        _LOCK_ACCOUNTS_N[len(ids)].execute(cur, ids)
    else:
        LOCK_ACCOUNTS.execute(cur, {"ids": ids})


def _columns(model, *names: str) -> str:
    return ", ".join(model._meta.get_field(name).column for name in names)


def _journal_columns() -> str:
    return _columns(LedgerTransaction, "kind", "idempotency_key", "request", "actor_user_id",
                    "actor_organization_id", "reference_type", "reference_id", "memo", "hash_version")


def _postings_cte() -> str:
    """The `postings` CTE both journal forms share: the legs as arrays, in leg order, under `journal.id`."""
    posting = _columns(Posting, "transaction", "account", "asset", "bucket", "amount")
    return f"""postings AS (
           INSERT INTO {POSTING} ({posting})
           SELECT journal.id, l.account_id, l.asset_id, l.bucket, l.amount
             FROM journal, unnest(%(legs_account)s, %(legs_asset)s, %(legs_bucket)s, %(legs_amount)s)
                  WITH ORDINALITY AS l(account_id, asset_id, bucket, amount, n)
            ORDER BY l.n)"""


def journal_cte() -> Sql:
    """The journal row (idempotent on its key: nothing is written when the key is taken) and its
    postings, as two CTEs named `journal` (its `id`) and `postings`. Postings go in as arrays, so that
    one statement serves any number of legs, in leg order. Parameters: `journal_params`."""
    journal = _journal_columns()
    return Sql(f"""journal AS (
           INSERT INTO {TRANSACTION} ({journal})
           VALUES (%(journal_kind)s, %(journal_key)s, %(journal_request)s, %(journal_user)s,
                   %(journal_organization)s, %(journal_reference_type)s, %(journal_reference_id)s,
                   %(journal_memo)s, 1)
           ON CONFLICT (idempotency_key) DO NOTHING RETURNING id),
       {_postings_cte()}""",
               journal_kind="varchar", journal_key="varchar", journal_request="jsonb", journal_user="bigint",
               journal_organization="bigint", journal_reference_type="varchar", journal_reference_id="varchar",
               journal_memo="jsonb", legs_account="bigint[]", legs_asset="bigint[]", legs_bucket="varchar[]",
               legs_amount="bigint[]")


def request_json(request: dict) -> str:
    return json.dumps(request, sort_keys=True, default=str)


def journal_params(*, kind: str, idempotency_key: str, request: dict, legs: list, assets: list[int],
                   actor: Actor, reference: tuple[str, object] = ("", ""), memo: dict | None = None) -> dict:
    """The parameters of `journal_cte`, for `legs` (`posting.Leg`s, no zero amounts) and their assets
    (one per leg)."""
    return {"journal_kind": kind, "journal_key": idempotency_key, "journal_request": request_json(request),
            "journal_user": actor.user_id, "journal_organization": actor.organization_id,
            "journal_reference_type": reference[0], "journal_reference_id": str(reference[1]),
            "journal_memo": json.dumps(memo, sort_keys=True) if memo else "{}",
            "legs_account": [leg.account_id for leg in legs], "legs_asset": assets,
            "legs_bucket": [leg.bucket for leg in legs], "legs_amount": [leg.amount for leg in legs]}


_journal = journal_cte()
INSERT_JOURNAL_AND_POSTINGS = PreparedQuery(Sql(f"WITH {_journal} SELECT id FROM journal", _journal))


# --- journal exports (streamed by ledger.selectors) -----------------------------------------------------

# a condition on a transaction `t`: one of its postings is on an account of an organization, or of an
# instrument originating, in the region code prefix given (twice, as LIKE patterns)
TRANSACTION_IN_REGION = f"""EXISTS (SELECT 1 FROM {POSTING} sp
                                     JOIN {ACCOUNT} sa ON sa.id = sp.account_id
                                     LEFT JOIN {ORGANIZATION} so ON so.id = sa.organization_id
                                     JOIN {ASSET} ss ON ss.id = sp.asset_id
                                    WHERE sp.transaction_id = t.id
                                      AND (so.region_id LIKE %s OR ss.origin_region_id LIKE %s))"""


def journal_postings_export(where: str) -> str:
    """One row per posting of the transactions `t` matching `where`, in (time, transaction, posting) order."""
    return f"""SELECT t.id, t.created_at, t.kind, t.reference_type, t.reference_id, t.actor_organization_id,
                     p.id, p.account_id, a.kind, a.organization_id, s.code, s.scale, p.bucket, p.amount
                FROM {TRANSACTION} t
                JOIN {POSTING} p ON p.transaction_id = t.id
                JOIN {ACCOUNT} a ON a.id = p.account_id
                JOIN {ASSET} s ON s.id = p.asset_id
               WHERE {where}
               ORDER BY t.created_at, t.id, p.id"""


def journal_transactions_export(where: str) -> str:
    """One row per transaction `t` matching `where`, its postings as a JSON array, its Merkle leaf."""
    return f"""SELECT t.id, t.created_at, t.kind, t.idempotency_key, t.reference_type, t.reference_id,
                     t.actor_user_id, t.actor_organization_id, t.memo,
                     (SELECT json_agg(json_build_array(p.id, p.account_id, a.kind, a.organization_id, s.code,
                                                       p.asset_id, p.bucket, p.amount, s.scale) ORDER BY p.id)
                        FROM {POSTING} p
                        JOIN {ACCOUNT} a ON a.id = p.account_id
                        JOIN {ASSET} s ON s.id = p.asset_id
                       WHERE p.transaction_id = t.id),
                     l.index, l.leaf_hash
                FROM {TRANSACTION} t
                LEFT JOIN {LEAF} l ON l.transaction_id = t.id
               WHERE {where}
               ORDER BY t.created_at, t.id"""


# --- earmarked funds (ledger.earmark) -------------------------------------------------------------------

def earmarked_funds(window: str) -> str:
    """Per earmarked account (its kind among the last parameter, an array of the funds' kinds) with its
    organization: its kind and balance, and per (transaction kind, purpose code) the sum and count of its
    postings in transactions `t` matching `window` (`AND t.…` clauses)."""
    return f"""
            SELECT acc.organization_id, o.name_zh, o.region_id, acc.kind, acc.available, t.kind,
                   coalesce(t.memo->>'purpose_code', ''), sum(p.amount), count(DISTINCT t.id)
              FROM {ACCOUNT} acc
              JOIN {ORGANIZATION} o ON o.id = acc.organization_id
              LEFT JOIN ({POSTING} p JOIN {TRANSACTION} t ON t.id = p.transaction_id{window})
                     ON p.account_id = acc.id
             WHERE acc.kind = ANY(%s::varchar[])
             GROUP BY 1, 2, 3, 4, 5, 6, 7 ORDER BY o.region_id, acc.organization_id, acc.kind"""


# --- bulk journal (history loads: `trading.bulk`) --------------------------------------------------------

def bulk_journal_sql(source: str) -> str:
    """Journal rows from `source`, a SELECT list over the caller's staging rows giving, in order: id (taken
    from the journal's sequence, `journal_ids_sql`), kind, idempotency key, request (jsonb), actor user,
    actor organization, reference type, reference id, memo (jsonb). One INSERT for the whole batch; the
    creation time and `xid` are the database's (the rows are sealed as written). A key already taken is an
    error (unique constraint): a bulk load checks for its marker before it starts, it never replays."""
    journal = _columns(LedgerTransaction, "id", "kind", "idempotency_key", "request", "actor_user_id",
                       "actor_organization_id", "reference_type", "reference_id", "memo", "hash_version")
    return f"""INSERT INTO {TRANSACTION} ({journal})
               SELECT j.*, 1 FROM ({source}) j(id, kind, idempotency_key, request, actor_user_id,
                                              actor_organization_id, reference_type, reference_id, memo)
                ORDER BY j.id"""


def bulk_postings_sql(source: str) -> str:
    """Postings from `source`, a SELECT list giving transaction id, account id, asset id, bucket, amount
    (zero amounts are dropped here). One INSERT for the whole batch: the statement-level balance trigger
    checks every journal row they name (written by this database transaction), every account/asset pair,
    and applies the net per account once, in account id order (the ledger's lock order); the CHECK
    constraints see the result, and the deferred trigger checks each transaction's zero sum per asset at
    commit. Nothing is bypassed."""
    posting = _columns(Posting, "transaction", "account", "asset", "bucket", "amount")
    return f"""INSERT INTO {POSTING} ({posting})
               SELECT p.* FROM ({source}) p(transaction_id, account_id, asset_id, bucket, amount)
                WHERE p.amount <> 0
                ORDER BY p.transaction_id, p.account_id"""


def journal_ids_sql() -> str:
    """`count` (the one parameter) new journal ids, ascending, from the journal's own sequence."""
    return f"""SELECT nextval(pg_get_serial_sequence('{TRANSACTION}', 'id'))
                 FROM generate_series(1, %s) ORDER BY 1"""


# --- a journal keyed inside the caller's statement (#19: the one-statement order acceptance) --------------

def journal_keyed_cte(*, source: str, key: str, reference_id: str) -> Sql:
    """`journal_cte` for a caller whose statement draws the referenced object's id itself: the journal
    row is written once per row of `source` (an SQL FROM item; no row: nothing is written) with the
    idempotency key and reference id the SQL expressions `key` and `reference_id` over it; the postings
    follow in leg order. CTEs `journal` and `postings`; parameters those of `journal_params` except
    `journal_key` and `journal_reference_id`. The balance trigger and the CHECK constraints apply as to
    any posting (a bucket that would go negative fails the statement: `account_non_negative`)."""
    journal = _journal_columns()
    return Sql(f"""journal AS (
           INSERT INTO {TRANSACTION} ({journal})
           SELECT %(journal_kind)s, {key}, %(journal_request)s, %(journal_user)s, %(journal_organization)s,
                  %(journal_reference_type)s, {reference_id}, %(journal_memo)s, 1
             FROM {source}
           ON CONFLICT (idempotency_key) DO NOTHING RETURNING id),
       {_postings_cte()}""",
               journal_kind="varchar", journal_request="jsonb", journal_user="bigint",
               journal_organization="bigint", journal_reference_type="varchar", journal_memo="jsonb",
               legs_account="bigint[]", legs_asset="bigint[]", legs_bucket="varchar[]", legs_amount="bigint[]")
