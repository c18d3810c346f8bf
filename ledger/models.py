"""The registry and its double-entry ledger.

Design overview
---------------
Instruments. An `Asset` is CNY (scale 2, minor unit fen) or one rights instrument: a `RightType`
(emission, water, farmland, energy, carbon, power_generation — rows of a code table, so a new right
type is data), a subtype (SO2, COD, quantity, paddy, …), a unit, a scale (decimal places of the unit),
a vintage, an origin region, an optional basin, a validity window and an issuing authority.
Amounts everywhere are integers in the asset's minor unit (10**-scale of the unit).

Chart of accounts. One `Account` per (organization, asset, kind); each has two buckets, `available`
and `held` (escrow for open orders, bids and listings):
  participant   an organization's own holding (both buckets ≥ 0, CHECK constraint)
  earmarked     a government body's farmland-protection fund (CNY; proceeds of farmland-quota sales) (≥ 0)
  earmarked_basin       its basin eco-compensation fund (CNY; compensation transfers received) (≥ 0)
  earmarked_assistance  its paired-assistance fund (CNY; paired-assistance and support payments) (≥ 0)
  fee_income    the operator's fee income (CNY) (≥ 0), one account per settlement queue (`shard`) so
                that settlements of different markets never serialize on one row
  retirement    per asset: rights surrendered for compliance (≥ 0)
  expiry        per asset: rights expired by their authority (≥ 0)
  issuance      per asset, no organization: the source of every unit. Its balance is minus the total
                issued (for CNY: minus the cash deposited from banks), the only account that goes negative.

Earmarked funds (`ledger.earmark.FUNDS`). Each earmarked fund is an account kind of its own, not one
`earmarked` account with the purpose in each memo: the fund a receipt lands in and the fund a payout
spends are then the account (and its CHECK ≥ 0) itself, so a payout for one purpose can never spend
another fund's money, whatever its memo says. Chosen over a `fund` column on the account because the
account key (organization, asset, kind, shard) is what every posting path, the settlement statement and
the lock order use: a kind of its own adds no column to the hot path's key, the unique constraint on
that key already gives one account per (body, fund), and the rule `account_kind_known` (in the account
triggers, like `account_owner`) admits only the listed kinds. `earmarked` keeps its value and becomes
the farmland fund, so the accounts that existed before the split are the farmland fund as they are (they
held only farmland proceeds: nothing moves).
Earmarked accounts are never sharded (rule `earmarked_unsharded`, in the account triggers).

Transactions. A `LedgerTransaction` (journal header: kind, idempotency key, actor, reference, memo)
owns `Posting`s (account, asset, bucket, signed amount). The database guarantees:
  * postings of a transaction sum to zero per asset, and a transaction has postings — a DEFERRABLE
    INITIALLY DEFERRED constraint trigger on the journal row, checked once per transaction at commit;
  * postings join only a transaction written by the same database transaction, and a posting's account
    exists and holds the posting's asset (both checked by the balance trigger, at once);
  * journal, postings, Merkle leaves/nodes and checkpoints are append-only (UPDATE/DELETE refused);
  * balances are materialized by an AFTER INSERT statement trigger on postings (each account updated
    once per statement with the net of its postings, in account id order) and can change no other way
    (a trigger refuses balance updates not made from inside that trigger);
  * participant, earmarked, fee, retirement and expiry buckets never go negative (CHECK);
  * an account has an organization unless it is an issuance, retirement or expiry account (checked by
    the account triggers on insert and on any change of kind or organization: `account_owner`).
Corrections are reversing transactions, never edits.

Tamper evidence ("seal after commit", see `ledger.sealing`). Each transaction records the id of the
database transaction that wrote it (`xid`). A periodic sealer takes the snapshot horizon (every xid
below it has finished), appends the transactions below it to an RFC 6962 Merkle log in (xid, id)
order, and writes a signed checkpoint chained to the previous one. Writers never wait for each other
or for the sealer; inclusion and consistency proofs come from the log.
"""
from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext_lazy

from accounts.models import Basin, Organization, Region


class RightType(models.Model):
    """A kind of right (code table: adding one is adding a row). Its policy is data on the row, read by
    the code that used to switch on right-type codes: a new right type is a row plus, at most, a rule.

      basin_bound          an instrument names its river basin; the basin rules apply by default (water)
      notice_period_days   public-notice days (公示) of the `public_notice` rule, which applies by
                           default to right types that have one (water: 5)
      pollutant_subtypes   the subtype names a pollutant: non-attainment flags apply (emission)
      permit_required      buyers need a discharge permit unless the eligibility rule says otherwise
      earmark_purpose      a government seller's proceeds go to its earmarked fund, for this purpose
                           (`ledger.earmark.EARMARK_PURPOSES`; farmland: farmland_protection)
      issuance_evidence    evidence fields an issuance must carry (farmland: project, area, acceptance)
      listing_provenance   provenance a listing must carry: field → what it is (farmland, emission)
    """

    code = models.SlugField(primary_key=True, max_length=30)
    name_zh = models.CharField(max_length=40)
    name_en = models.CharField(max_length=60)
    default_unit = models.CharField(max_length=10)
    basin_bound = models.BooleanField(default=False, help_text="trades bound to river basins (water)")
    notice_period_days = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="public-notice days before settlement when the rulebook has a notice rule")
    pollutant_subtypes = models.BooleanField(default=False, help_text="the subtype names a pollutant (emission)")
    permit_required = models.BooleanField(default=False, help_text="buyers need a discharge permit by default")
    earmark_purpose = models.CharField(
        max_length=40, blank=True,
        help_text="government sellers' proceeds go to their earmarked fund for this purpose (blank: free cash)")
    issuance_evidence = models.JSONField(default=list, blank=True,
                                         help_text="evidence fields an issuance must carry")
    listing_provenance = models.JSONField(default=dict, blank=True,
                                          help_text="provenance a listing must carry: field → what it is")

    def __str__(self):
        return self.code

    class Meta:
        verbose_name = gettext_lazy("right type")
        verbose_name_plural = gettext_lazy("right types")


class AssetKind(models.TextChoices):
    CASH = "cash", "Cash"
    RIGHT = "right", "Right"


class Asset(models.Model):
    code = models.SlugField(unique=True, max_length=60)
    kind = models.CharField(max_length=8, choices=AssetKind.choices)
    right_type = models.ForeignKey(RightType, null=True, blank=True, on_delete=models.PROTECT)
    subtype = models.CharField(max_length=30, blank=True)
    unit = models.CharField(max_length=10)
    scale = models.PositiveSmallIntegerField()
    vintage = models.PositiveSmallIntegerField(null=True, blank=True)
    origin_region = models.ForeignKey(Region, null=True, blank=True, on_delete=models.PROTECT)
    basin = models.ForeignKey(Basin, null=True, blank=True, on_delete=models.PROTECT)
    valid_from = models.DateField(null=True, blank=True)
    valid_to = models.DateField(null=True, blank=True)
    issuer = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.PROTECT)
    name_zh = models.CharField(max_length=120, blank=True)
    name_en = models.CharField(max_length=160, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = gettext_lazy("asset")
        verbose_name_plural = gettext_lazy("assets")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(scale__lte=6), name="asset_scale_max_6"),
            models.CheckConstraint(
                condition=Q(kind="cash", right_type__isnull=True) | Q(kind="right", right_type__isnull=False),
                name="asset_kind_right_type",
            ),
            models.CheckConstraint(
                condition=(Q(valid_from__isnull=True) | Q(valid_to__isnull=True)
                           | Q(valid_to__gte=models.F("valid_from"))),
                name="asset_validity_window",
            ),
        ]

    def __str__(self):
        return self.code

    def is_expired(self, on_date) -> bool:
        return self.valid_to is not None and on_date > self.valid_to


class AccountKind(models.TextChoices):
    PARTICIPANT = "participant", "Participant"
    EARMARKED = "earmarked", "Earmarked fund: farmland protection"
    EARMARKED_BASIN = "earmarked_basin", "Earmarked fund: basin eco-compensation"
    EARMARKED_ASSISTANCE = "earmarked_assistance", "Earmarked fund: paired assistance"
    FEE_INCOME = "fee_income", "Fee income"
    RETIREMENT = "retirement", "Retirement"
    EXPIRY = "expiry", "Expiry"
    ISSUANCE = "issuance", "Issuance"


# the earmarked funds' account kinds (ledger.earmark.FUNDS maps fund codes to them)
EARMARKED_KINDS = (AccountKind.EARMARKED, AccountKind.EARMARKED_BASIN, AccountKind.EARMARKED_ASSISTANCE)


class Account(models.Model):
    organization = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="ledger_accounts")
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="accounts")
    kind = models.CharField(max_length=20, choices=AccountKind.choices)
    shard = models.PositiveSmallIntegerField(
        default=0, help_text="splits a hot account (the operator's fee income) so that settlements of "
                             "different markets never wait on one row; the account's balance is the sum")
    available = models.BigIntegerField(default=0)
    held = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = gettext_lazy("account")
        verbose_name_plural = gettext_lazy("accounts")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "asset", "kind", "shard"],
                                    name="one_account_per_org_asset_kind_shard", nulls_distinct=False),
            models.CheckConstraint(
                condition=Q(kind="issuance") | (Q(available__gte=0) & Q(held__gte=0)), name="account_non_negative"
            ),
            # "account_owner" — an account has an organization unless it is an issuance, retirement or
            # expiry account — is enforced by the account triggers (migration 0013), on insert and on
            # any update of kind or organization, with the same name and SQLSTATE as the CHECK it
            # replaced: PostgreSQL re-checks every CHECK of a row on every UPDATE, and this one cost ~8%
            # of a posting's server instructions on the balance updates, where it can never fail.
            # "account_kind_known" (only listed kinds) and "earmarked_unsharded" (a fund account is never
            # sharded) are enforced by the same triggers (migration 0014_earmark4eyes_fund_kinds), for the
            # same reason: they are about kind and shard, which a balance update never changes.
        ]

    def __str__(self):
        return f"{self.kind}:{self.organization_id}:{self.asset_id}"


class LedgerTransaction(models.Model):
    kind = models.CharField(max_length=24)
    idempotency_key = models.CharField(max_length=200)
    request = models.JSONField(default=dict, help_text="the request that produced it (idempotency conflicts)")
    actor_user_id = models.BigIntegerField(null=True, blank=True)
    actor_organization_id = models.BigIntegerField(null=True, blank=True)
    reference_type = models.CharField(max_length=30, blank=True)
    reference_id = models.CharField(max_length=64, blank=True)
    memo = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(db_default=RawSQL("statement_timestamp()", []), db_index=True)
    xid = models.BigIntegerField(db_default=RawSQL("pg_current_xact_id()::text::bigint", []), db_index=True,
                                 editable=False)
    hash_version = models.PositiveSmallIntegerField(default=1)

    class Meta:
        verbose_name = gettext_lazy("ledger transaction")
        verbose_name_plural = gettext_lazy("ledger transactions")
        ordering = ["id"]
        # plain b-tree indexes: the `…_like` pattern indexes Django adds for `unique`/`db_index` text
        # columns cost an insertion per journal row and serve no query here
        constraints = [models.UniqueConstraint(fields=["idempotency_key"], name="ledger_txn_idempotency_key")]
        indexes = [models.Index(fields=["reference_type", "reference_id"]),
                   models.Index(fields=["kind"], name="ledger_txn_kind")]


class Bucket(models.TextChoices):
    AVAILABLE = "A", "available"
    HELD = "H", "held"


class Posting(models.Model):
    # No foreign-key constraints: the balance trigger (`ledger_apply_postings`) refuses a posting unless
    # its journal row exists *and was written by the same database transaction* (so postings can never
    # be added to a committed transaction) and an account with that id *and* that asset exists — both
    # stricter than the FKs; journal rows and accounts are never deleted. The FK checks only cost commit
    # time. No single-column indexes on account and asset: (account, id) serves the account's statement,
    # nothing filters postings by asset.
    transaction = models.ForeignKey(LedgerTransaction, on_delete=models.PROTECT, related_name="postings",
                                    db_constraint=False)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="postings", db_constraint=False,
                                db_index=False)
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, db_constraint=False, db_index=False)
    bucket = models.CharField(max_length=1, choices=Bucket.choices)
    amount = models.BigIntegerField()

    class Meta:
        verbose_name = gettext_lazy("posting")
        verbose_name_plural = gettext_lazy("postings")
        ordering = ["id"]
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="posting_nonzero")]
        indexes = [models.Index(fields=["account", "id"])]


class MerkleLeaf(models.Model):
    """Leaf `index` of the log: H(0x00 ‖ canonical bytes of the transaction)."""

    index = models.BigIntegerField(primary_key=True)
    transaction = models.OneToOneField(LedgerTransaction, on_delete=models.PROTECT, related_name="leaf",
                                       db_constraint=False)
    leaf_hash = models.BinaryField()

    class Meta:
        verbose_name = gettext_lazy("Merkle leaf")
        verbose_name_plural = gettext_lazy("Merkle leaves")


class MerkleNode(models.Model):
    """Root of the perfect subtree of height `level` ≥ 1 covering leaves [index·2^level, (index+1)·2^level)."""

    level = models.PositiveSmallIntegerField()
    index = models.BigIntegerField()
    hash = models.BinaryField()

    class Meta:
        verbose_name = gettext_lazy("Merkle node")
        verbose_name_plural = gettext_lazy("Merkle nodes")
        constraints = [models.UniqueConstraint(fields=["level", "index"], name="merkle_node_position")]


class Checkpoint(models.Model):
    """A signed tree head: the log's first `tree_size` leaves have root `root_hash`; chained by
    `previous_hash` (the `checkpoint_hash` of the checkpoint before)."""

    tree_size = models.BigIntegerField(unique=True)
    root_hash = models.BinaryField()
    previous_hash = models.BinaryField()
    xid_horizon = models.BigIntegerField()
    created_at = models.DateTimeField()
    checkpoint_hash = models.BinaryField()
    signature = models.CharField(max_length=128)  # hex Ed25519 signature of the body (HMAC-SHA256 if legacy)
    key_id = models.CharField(max_length=32)  # the SigningKey that signed it; "legacy-hmac" before Ed25519

    class Meta:
        verbose_name = gettext_lazy("checkpoint")
        verbose_name_plural = gettext_lazy("checkpoints")
        ordering = ["tree_size"]


class SigningKey(models.Model):
    """A public key that has signed checkpoints (ledger.keys). Registered by the sealer the first time
    it signs with a key; a rotation closes the previous key's validity at that instant. Public: served at
    GET /api/v1/checkpoints/public-keys so that anyone can verify checkpoints without the private key."""

    key_id = models.CharField(max_length=32, unique=True)
    algorithm = models.CharField(max_length=16, default="ed25519")
    public_key = models.BinaryField()  # raw 32 bytes
    valid_from = models.DateTimeField()
    valid_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = gettext_lazy("signing key")
        verbose_name_plural = gettext_lazy("signing keys")
        ordering = ["valid_from"]

class MovementKind(models.TextChoices):
    DEPOSIT = "deposit", "Cash deposit"
    WITHDRAW = "withdraw", "Cash withdrawal"
    TRANSFER = "transfer", "Transfer between organizations"
    ISSUE = "issue", "Issuance"


class MovementStatus(models.TextChoices):
    PENDING = "pending", "Pending confirmation"
    CONFIRMED = "confirmed", "Confirmed and posted"
    REJECTED = "rejected", "Rejected"


class MovementRequest(models.Model):
    """Maker–checker: money in and out, operator transfers and issuance are proposed by one person and
    posted only when another person confirms (`ledger.movements`). The database refuses a request decided
    by its own proposer and a confirmed request without its ledger transaction."""

    kind = models.CharField(max_length=10, choices=MovementKind.choices)
    status = models.CharField(max_length=10, choices=MovementStatus.choices, default=MovementStatus.PENDING)
    idempotency_key = models.CharField(max_length=200, unique=True, help_text="<organization>:<kind>:<client key>")
    request = models.JSONField(help_text="the proposal, in the API's field names (amount in minor units)")
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="+")
    amount = models.BigIntegerField()
    issuer = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    subject_organization_ids = models.JSONField(default=list, help_text="the organizations whose accounts move")
    proposed_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    proposer_organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    proposer_role = models.CharField(max_length=10)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decided_by_organization = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.PROTECT,
                                                related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=200, blank=True)
    transaction = models.OneToOneField(LedgerTransaction, null=True, blank=True, on_delete=models.PROTECT,
                                       related_name="movement_request")

    class Meta:
        verbose_name = gettext_lazy("movement request")
        verbose_name_plural = gettext_lazy("movement requests")
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "kind"], name="movement_status_kind")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="movement_amount_positive"),
            models.CheckConstraint(condition=Q(decided_by__isnull=True) | ~Q(decided_by=models.F("proposed_by")),
                                   name="movement_checker_is_not_maker"),
            models.CheckConstraint(
                condition=(Q(status="pending", decided_by__isnull=True, transaction__isnull=True)
                           | Q(status="confirmed", decided_by__isnull=False, transaction__isnull=False)
                           | Q(status="rejected", decided_by__isnull=False, transaction__isnull=True)),
                name="movement_status_consistent"),
        ]


class VerificationStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    OK = "ok", "Verified"
    FAILED = "failed", "Verification found a fault"
    ERROR = "error", "Did not complete"


class VerificationRun(models.Model):
    """A full ledger verification (`ledger.verify.verify_ledger`) run as a Celery job. One at a time: `active`
    is TRUE while queued or running and NULL afterwards, and it is unique."""

    status = models.CharField(max_length=8, choices=VerificationStatus.choices, default=VerificationStatus.QUEUED)
    active = models.BooleanField(null=True, default=True, unique=True)
    requested_by = models.ForeignKey("accounts.User", null=True, on_delete=models.PROTECT, related_name="+")
    requester_organization = models.ForeignKey(Organization, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    report = models.JSONField(null=True, blank=True)
    error = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = gettext_lazy("verification run")
        verbose_name_plural = gettext_lazy("verification runs")
        ordering = ["-id"]
        constraints = [models.CheckConstraint(condition=Q(active=True, status__in=["queued", "running"])
                                              | Q(active__isnull=True, status__in=["ok", "failed", "error"]),
                                              name="verification_active_while_unfinished")]
