"""The ledger's fixed business checks (numbered in the family of `core.checks`):

  A-AMOUNT-001    invalid_amount        an amount moved is a positive integer of minor units
  A-VALID-001     asset_expired         an instrument moves (issue, hold, transfer, trade) only while
                                        valid; retirement and expiry are allowed after
  A-EVIDENCE-001  evidence_required     an issuance carries the evidence its right type requires
                                        (`RightType.issuance_evidence`: farmland's project, area,
                                        acceptance document)
  A-FUNDS-001     insufficient_balance  a participant cannot spend or escrow more than it has (checked
                                        by `posting.post` under the account locks, with the CHECK
                                        constraints behind it; listings refuse an escrow no balance can
                                        cover before trying)
"""
from __future__ import annotations

from core.checks import BusinessCheck, business_check

from .errors import ASSET_EXPIRED, EVIDENCE_REQUIRED, INSUFFICIENT_BALANCE, INVALID_AMOUNT

MAX_AMOUNT = 2**62  # any minor-unit amount at or above this is more than anyone holds (and near bigint's end)


@business_check
class PositiveAmount(BusinessCheck):
    """An amount moved is a positive integer number of minor units."""

    number, code, subject = "A-AMOUNT-001", INVALID_AMOUNT, "asset"

    @classmethod
    def check(cls, *, amount, **_):
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            return cls.refuse(fields={"amount": "must be a positive amount"})
        return None


@business_check
class AssetValid(BusinessCheck):
    """An instrument is tradable (issued, held, transferred, traded) only up to its `valid_to` date
    (Asia/Shanghai); an expired right can only be retired or expired by its authority."""

    number, code, subject = "A-VALID-001", ASSET_EXPIRED, "asset"

    @classmethod
    def check(cls, *, asset, on, **_):
        """`on`: the date of the action in Asia/Shanghai."""
        if asset.is_expired(on):
            return cls.refuse(fields={"asset": asset.code})
        return None


@business_check
class IssuanceEvidence(BusinessCheck):
    """An issuance carries every evidence field its right type requires (`RightType.issuance_evidence`),
    e.g. a farmland quota's reclamation project, area and acceptance document."""

    number, code, subject = "A-EVIDENCE-001", EVIDENCE_REQUIRED, "asset"

    @classmethod
    def check(cls, *, asset, evidence, **_):
        missing = [f for f in asset.right_type.issuance_evidence or () if not evidence.get(f)]
        if missing:
            return cls.refuse(fields={f: f"required for {asset.right_type_id} issuance" for f in missing})
        return None


@business_check
class SufficientBalance(BusinessCheck):
    """Nobody spends or escrows more than its available balance. `posting.post` checks it under the
    account locks; here, for an amount no balance can cover (at or above `MAX_AMOUNT`)."""

    number, code, subject = "A-FUNDS-001", INSUFFICIENT_BALANCE, "asset"

    @classmethod
    def check(cls, *, amount, available=MAX_AMOUNT - 1, **_):
        return cls.refuse() if amount > available else None
