"""The whole register, for the operator and regulators: every organization's holdings per asset (paged),
and a conservation view per asset — what was issued, less what was retired and expired, equals what is
held — read from the accounts' balance columns (each the running sum of its postings, kept by the
ledger's triggers).

* issued  = −(the asset's issuance account): issuances (rights) or deposits less withdrawals (cash);
* retired = the retirement account; expired = the expiry account;
* held    = Σ available + held over every other account of the asset (participants, earmarked funds,
  fee income).
`balanced` is issued − retired − expired = held. It can only be false if the ledger's zero-sum broke."""
from __future__ import annotations

from django.db import connection
from django.db.models import F, QuerySet

from .models import Account, AccountKind

SINKS = (AccountKind.ISSUANCE, AccountKind.RETIREMENT, AccountKind.EXPIRY)


def register_holdings(*, asset_code: str | None = None, organization_id: int | None = None) -> QuerySet:
    """Non-zero holdings of organizations (participant and earmarked accounts), by asset then organization."""
    qs = (Account.objects.filter(organization__isnull=False)
          .exclude(kind__in=SINKS)
          .annotate(total=F("available") + F("held"))
          .exclude(available=0, held=0)
          .select_related("asset", "organization")
          .order_by("asset_id", "organization_id", "kind", "id"))
    if asset_code:
        qs = qs.filter(asset__code=asset_code)
    if organization_id:
        qs = qs.filter(organization_id=organization_id)
    return qs


def conservation(*, asset_code: str | None = None) -> list[dict]:
    """Per asset: issued, retired, expired, held (minor units) and whether they balance."""
    where, params = "", []
    if asset_code:
        where, params = "WHERE s.code = %s", [asset_code]
    with connection.cursor() as cur:
        cur.execute(f"""
            SELECT s.id, s.code, s.kind, s.unit, s.scale,
                   coalesce(-sum(a.available + a.held) FILTER (WHERE a.kind = 'issuance'), 0),
                   coalesce(sum(a.available + a.held) FILTER (WHERE a.kind = 'retirement'), 0),
                   coalesce(sum(a.available + a.held) FILTER (WHERE a.kind = 'expiry'), 0),
                   coalesce(sum(a.available + a.held)
                            FILTER (WHERE a.kind NOT IN ('issuance', 'retirement', 'expiry')), 0),
                   count(DISTINCT a.organization_id)
                            FILTER (WHERE a.kind NOT IN ('issuance', 'retirement', 'expiry')
                                    AND a.available + a.held <> 0)
              FROM ledger_asset s LEFT JOIN ledger_account a ON a.asset_id = s.id
              {where}
             GROUP BY s.id ORDER BY s.code""", params)
        rows = cur.fetchall()
    return [{"asset_id": aid, "asset": code, "kind": kind, "unit": unit, "scale": scale,
             "issued": int(issued), "retired": int(retired), "expired": int(expired), "held": int(held),
             "holders": int(holders), "balanced": int(issued) - int(retired) - int(expired) == int(held)}
            for aid, code, kind, unit, scale, issued, retired, expired, held, holders in rows]
