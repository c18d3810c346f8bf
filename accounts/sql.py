"""The hand-written SQL on accounts' tables, and the fragments other apps compose into their statements.

* `TOKEN_WITH_MEMBERSHIP`: the bearer token with its membership, user and organization (every request).
* `audit_cte`: a CTE that writes audit events, for a caller that puts an action's audit rows into the
  statement making the change (the settlement); `audit_params` gives its parameters.

Table and column names come from the models (`_meta`), so a renamed column is a migration and nothing
else. Why statements are prepared: `core.prepared`.
"""
from __future__ import annotations

import json

from core.prepared import BulkInsert, PreparedJoin, Sql

from .actor import Actor
from .models import ApiToken, AuditEvent, Membership, Organization, User


def _token_statement(columns: str) -> Sql:
    return Sql(f"""SELECT {columns}
                     FROM {ApiToken._meta.db_table} t
                     JOIN {Membership._meta.db_table} m ON m.id = t.membership_id
                     JOIN {User._meta.db_table} u ON u.id = m.user_id
                     JOIN {Organization._meta.db_table} o ON o.id = m.organization_id
                    WHERE t.key_hash = %(key_hash)s""", key_hash="varchar")


# What `select_related("membership__user", "membership__organization")` reads, prepared once per
# database session: every request runs it, and planning the four-way join cost several times its execution.
TOKEN_WITH_MEMBERSHIP = PreparedJoin(
    ("t", ApiToken), ("m", Membership), ("u", User), ("o", Organization), statement=_token_statement,
    links=(("m", "user", "u"), ("m", "organization", "o"), ("t", "membership", "m")))


def _column(name: str) -> str:
    return AuditEvent._meta.get_field(name).column


def audit_cte(*, source: Sql, action: str, before: str, after: str, order_by: str, name: str = "audit",
              object_id: str | None = None) -> Sql:
    """`name AS (INSERT INTO <audit log> … SELECT … FROM source ORDER BY order_by)`: one audit event per
    row of `source` (an SQL FROM list), its action, before and after the SQL expressions given (over
    `source`'s columns), everything else the parameters of `audit_params` (the same for every row);
    `object_id`: an SQL expression for the object id instead (an id the statement itself draws)."""
    columns = ", ".join(_column(f) for f in ("occurred_at", "actor_user", "actor_organization", "action",
                                             "object_type", "object_id", "before", "after", "request_id",
                                             "region_codes"))
    types = dict(audit_at="timestamptz", audit_user="bigint", audit_organization="bigint",
                 audit_object_type="varchar", audit_request_id="varchar", audit_regions="jsonb")
    if object_id is None:
        object_id, types["audit_object_id"] = "%(audit_object_id)s", "varchar"
    return Sql(f"""{name} AS (
               INSERT INTO {AuditEvent._meta.db_table} ({columns})
               SELECT %(audit_at)s, %(audit_user)s, %(audit_organization)s, {action}, %(audit_object_type)s,
                      {object_id}, {before}, {after}, %(audit_request_id)s, %(audit_regions)s
                 FROM {source}
                ORDER BY {order_by})""", source, **types)


def audit_params(*, actor: Actor, at, object_type: str, object_id, region_codes: list[str]) -> dict:
    """The parameters of `audit_cte`, as `audit.audit_record` fills the same columns."""
    return {"audit_at": at, "audit_user": actor.user_id, "audit_organization": actor.organization_id,
            "audit_object_type": object_type, "audit_object_id": str(object_id),
            "audit_request_id": actor.request_id or "", "audit_regions": json.dumps(region_codes or [])}


def bulk_audit_sql(source: str) -> str:
    """Audit events from `source`, a SELECT list over the caller's staging rows giving, in order: the
    time, actor user, actor organization, action, object type, object id, before (jsonb), after (jsonb),
    request id, region codes (jsonb). One INSERT for a whole batch of a history load (`trading.bulk`),
    in the transaction that writes what they record."""
    columns = ", ".join(_column(f) for f in ("occurred_at", "actor_user", "actor_organization", "action",
                                             "object_type", "object_id", "before", "after", "request_id",
                                             "region_codes"))
    return f"""INSERT INTO {AuditEvent._meta.db_table} ({columns})
               SELECT a.* FROM ({source}) a(occurred_at, actor_user_id, actor_organization_id, action,
                                            object_type, object_id, before, after, request_id, region_codes)
                ORDER BY a.occurred_at"""


# audit events built in memory (a batch of the matching engine's): one prepared INSERT for any number
AUDIT_EVENTS_INSERT = BulkInsert(AuditEvent)
