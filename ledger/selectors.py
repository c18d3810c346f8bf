"""Read-side queries of the ledger: what the acting membership may see. Views never build ledger
querysets themselves, so the visibility rules live here and only here.

* The instrument catalog (assets) and the checkpoints (signed tree heads: sizes and hashes, no data)
  are public to every member.
* Accounts, holdings and statements: the acting organization's own accounts only.
* A ledger transaction: when it touches one of the acting organization's accounts; the exchange
  operator sees all; a regulator sees those touching an organization in its jurisdiction or moving an
  asset that originates there. Anything else is a 404, never a 403 that confirms it exists.
* Journal exports: the operator everything, a regulator the transactions it may see (as above).
"""
from __future__ import annotations

from datetime import datetime

from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from rest_framework.exceptions import NotFound

from accounts.models import GOVERNMENT_KINDS, Membership
from accounts.permissions import is_operator

from . import sql
from .canonical import memo_value
from .models import EARMARKED_KINDS, Account, Asset, Checkpoint, LedgerTransaction, MerkleLeaf, Posting, SigningKey
from .services import cny


def regulator_prefix(membership: Membership) -> str | None:
    """The region-code prefix a regulator oversees (None for anyone else)."""
    org = membership.organization
    if org.kind == "regulator" and org.jurisdiction_id:
        return org.jurisdiction.prefix
    return None


# --- catalog -----------------------------------------------------------------------------------------

def asset_list() -> QuerySet[Asset]:
    return Asset.objects.select_related("right_type").order_by("id")


def asset_by_code(code: str) -> Asset | None:
    return Asset.objects.filter(code=code).first()


# --- holdings and statements -------------------------------------------------------------------------

def holding_list(*, membership: Membership) -> list[Account]:
    """The acting organization's accounts. A government body always sees its three earmarked CNY funds
    (farmland protection, basin eco-compensation, paired assistance: `ledger.earmark.FUNDS`), each shown
    at zero until money arrives."""
    org = membership.organization
    accounts = list(Account.objects.select_related("asset").filter(organization_id=org.pk)
                    .order_by("asset__code", "kind"))
    missing = [k for k in EARMARKED_KINDS if not any(a.kind == k for a in accounts)]
    if org.kind in GOVERNMENT_KINDS and missing:
        try:
            cash = cny()
        except Asset.DoesNotExist:
            cash = None
        if cash is not None:  # unsaved placeholders: a GET opens no account
            accounts.extend(Account(organization_id=org.pk, asset=cash, kind=k, available=0, held=0) for k in missing)
    return accounts


def statement_lines(*, membership: Membership | None) -> QuerySet[Posting]:
    if membership is None:
        return Posting.objects.none()
    return (Posting.objects.filter(account__organization_id=membership.organization_id)
            .select_related("transaction", "asset", "account"))


# --- transactions ------------------------------------------------------------------------------------

def visible_transactions(*, membership: Membership) -> QuerySet[LedgerTransaction]:
    qs = LedgerTransaction.objects.all()
    if is_operator(membership):
        return qs
    touches = Posting.objects.filter(transaction=OuterRef("pk"))
    visible = Q(Exists(touches.filter(account__organization_id=membership.organization_id)))
    prefix = regulator_prefix(membership)
    if prefix is not None:
        visible |= Q(Exists(touches.filter(Q(account__organization__region__code__startswith=prefix)
                                           | Q(asset__origin_region__code__startswith=prefix))))
    return qs.filter(visible)


def transaction_for(*, membership: Membership, pk: int) -> LedgerTransaction:
    txn = (visible_transactions(membership=membership).filter(pk=pk)
           .prefetch_related("postings__asset", "postings__account").first())
    if txn is None:
        raise NotFound()
    return txn


def transaction_posted(*, transaction_id: int) -> LedgerTransaction:
    """A transaction the caller has just written (no visibility filter needed)."""
    return LedgerTransaction.objects.prefetch_related("postings__asset", "postings__account").get(pk=transaction_id)


def leaf_of(transaction_id: int) -> MerkleLeaf | None:
    return MerkleLeaf.objects.filter(transaction_id=transaction_id).first()


# --- checkpoints -------------------------------------------------------------------------------------

def checkpoint_list() -> QuerySet[Checkpoint]:
    return Checkpoint.objects.all()


def signing_keys():
    """Every public key that has signed checkpoints, oldest first (public information)."""
    return SigningKey.objects.order_by("valid_from")


def checkpoint_latest() -> Checkpoint | None:
    return Checkpoint.objects.order_by("-tree_size").first()


def checkpoint_at(tree_size: int) -> Checkpoint | None:
    return Checkpoint.objects.filter(tree_size=tree_size).first()


# --- journal export ----------------------------------------------------------------------------------

def _export_scope(membership: Membership, since: datetime | None, until: datetime | None) -> tuple[str, list]:
    where, params = ["TRUE"], []
    if since is not None:
        where.append("t.created_at >= %s")
        params.append(since)
    if until is not None:
        where.append("t.created_at < %s")
        params.append(until)
    if not is_operator(membership):
        prefix = regulator_prefix(membership)
        if prefix is None:
            where.append("FALSE")
        else:
            where.append(sql.TRANSACTION_IN_REGION)
            params += [prefix + "%", prefix + "%"]
    return " AND ".join(where), params


def _streamed(name: str, statement: str, params: list, batch: int):
    """Rows of `statement` from a server-side cursor inside one transaction (one snapshot, `batch` rows in
    memory at a time). A generator: the transaction lives as long as the response is being sent."""
    with transaction.atomic():
        connection.ensure_connection()
        with connection.connection.cursor(name=name) as cur:
            cur.itersize = batch
            cur.execute(statement, params)
            yield from cur


def journal_postings(*, membership: Membership, since=None, until=None, batch: int = 2000):
    """One row per posting, in (time, transaction, posting) order: (transaction id, created_at, kind,
    reference type, reference id, actor organization, posting id, account id, account kind,
    organization id, asset code, asset scale, bucket, amount)."""
    where, params = _export_scope(membership, since, until)
    return _streamed("export_journal_postings", sql.journal_postings_export(where), params, batch)


def journal_transactions(*, membership: Membership, since=None, until=None, batch: int = 2000):
    """One row per transaction with its postings and its leaf (when sealed): (id, created_at, kind,
    idempotency key, reference type, reference id, actor user, actor organization, memo, postings as
    [[posting id, account, account kind, organization, asset code, asset id, bucket, amount, scale]],
    leaf index, leaf hash)."""
    where, params = _export_scope(membership, since, until)
    for row in _streamed("export_journal_transactions", sql.journal_transactions_export(where), params, batch):
        yield (*row[:8], memo_value(row[8]), *row[9:])
