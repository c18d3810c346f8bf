"""The hand-written SQL on marketplace's tables, and the fragment others compose into their statements.

* `rules_generation()`: a scalar subquery giving the rulebook generation (`marketplace_rules_generation`,
  a one-row table bumped by triggers on every rulebook table, see migration 0002), for a caller that
  reads it in the statement that locks what it will check (the market lock of an order, the trade lock
  of a settlement) and so needs no round trip of its own for it.
* `IDEMPOTENCY_STORE` / `IDEMPOTENCY_PROBE`: the HTTP idempotency record (`marketplace.idempotency`).
"""
from __future__ import annotations

from accounts.prepared import Sql

from .models import IdempotencyRecord

# not a model: created by migration 0002 (a sequence-fed one-row table)
GENERATION_TABLE = "marketplace_rules_generation"
GENERATION_READ = f"SELECT value FROM {GENERATION_TABLE} WHERE id = 1"


def rules_generation() -> Sql:
    """`(SELECT value FROM <generation table> WHERE id = 1)`, a scalar subquery for a select list."""
    return Sql(f"({GENERATION_READ})")


_IDEMPOTENCY = IdempotencyRecord._meta.db_table

IDEMPOTENCY_STORE = Sql(f"""INSERT INTO {_IDEMPOTENCY}
           (organization_id, key, fingerprint, method_path, request_body, status_code, response_body, created_at)
       VALUES (%(organization)s, %(key)s, %(fingerprint)s, %(method_path)s, %(request_body)s, %(status_code)s,
               %(response_body)s, now())
       ON CONFLICT (organization_id, key) DO NOTHING RETURNING id""",
                        organization="bigint", key="varchar", fingerprint="varchar", method_path="varchar",
                        request_body="jsonb", status_code="smallint", response_body="jsonb")

# an empty record, only to learn whether the key is taken (the caller rolls it back)
IDEMPOTENCY_PROBE = f"""INSERT INTO {_IDEMPOTENCY}
           (organization_id, key, fingerprint, method_path, request_body, created_at)
       VALUES (%s, %s, '', '', '{{}}', now())
       ON CONFLICT (organization_id, key) DO NOTHING RETURNING id"""
