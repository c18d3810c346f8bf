"""The ledger API (mounted under /api/v1/): holdings, statements, transactions with inclusion proofs,
checkpoints and consistency proofs, verification, the instrument catalog, the operator's and
authorities' value-moving endpoints, and streaming journal exports.

Value-moving POSTs take a required `Idempotency-Key` header (1–128 characters of [A-Za-z0-9._:-]),
namespaced by the acting organization: the same key with the same payload returns the original
transaction again (200 instead of 201, header `Idempotent-Replayed: true`, identical body); the same key
with another payload is a 409 `idempotency_conflict` naming the first differing field. Views only
parse, authorize and render: every change is one call to a `ledger.services` function.
"""
from __future__ import annotations

import json
import re

from django.http import StreamingHttpResponse
from django.utils.translation import gettext
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.actor import Actor
from accounts.models import GOVERNMENT_KINDS, Organization
from accounts.permissions import IsOperator, acting_membership, is_operator, member_with
from core.api import ORDERED_LIST_BACKENDS, IdCursorPagination, StrictOrderingFilter, error_responses, local_time
from core.errors import ApiError
from core.money import from_minor
from core.tabular import XLSX_TYPE, Column, CsvRenderer, JsonLinesRenderer, XlsxRenderer, language, streaming

from . import movements, register, selectors, services
from .canonical import leaf_hash
from .errors import IDEMPOTENCY_KEY_REQUIRED, INVALID_PROOF_RANGE, NOTHING_TO_EXPIRE
from .filters import AssetFilter, StatementFilter
from .models import Asset, MovementRequest, VerificationRun
from .sealing import canonical_bytes, consistency_proof, inclusion_proof
from .serializers import (
    AssetInput,
    AssetSerializer,
    CashMovementInput,
    CheckpointSerializer,
    ConsistencyProofSerializer,
    ExpirationInput,
    HoldingSerializer,
    IssuanceInput,
    MovementRejectInput,
    MovementRequestSerializer,
    RetirementInput,
    SigningKeySerializer,
    StatementLineSerializer,
    TransactionDetailSerializer,
    TransactionSerializer,
    TransferInput,
    VerifyReportSerializer,
)
from .verification import verification_start

WRITER_ROLES = ("admin", "trader")
GovernmentWriter = member_with(roles=WRITER_ROLES, kinds=tuple(sorted(GOVERNMENT_KINDS)))
ParticipantWriter = member_with(roles=WRITER_ROLES)
Overseer = member_with(roles=(), kinds=(), safe_kinds=("regulator", "exchange_operator"))

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True,
    description="1–128 characters [A-Za-z0-9._:-]; same key + same payload replays the original response")
_KEY = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _membership(request):
    return acting_membership(request)


def idempotency_key(request) -> str:
    key = request.headers.get("Idempotency-Key")
    if not key:
        raise ApiError(IDEMPOTENCY_KEY_REQUIRED, fields={"Idempotency-Key": "required"})
    if not _KEY.match(key):
        raise ValidationError({"Idempotency-Key": [serializers.ErrorDetail(
            "1–128 characters of A-Z a-z 0-9 . _ : -", code="invalid")]})
    return key


def posted_response(posted) -> Response:
    txn = selectors.transaction_posted(transaction_id=posted.transaction_id)
    response = Response(TransactionSerializer(txn).data,
                        status=status.HTTP_200_OK if posted.replayed else status.HTTP_201_CREATED)
    if posted.replayed:
        response["Idempotent-Replayed"] = "true"
    return response


def _only_operator_names(request, attrs: dict, field: str):
    """`field` (issuer, organization) is the operator's to name; anyone else acts as itself."""
    m = _membership(request)
    named = attrs.get(field)
    if is_operator(m):
        if named is None:
            raise ValidationError({field: [serializers.ErrorDetail("required when the operator acts",
                                                                   code="required")]})
        return named
    if named is not None and named.pk != m.organization_id:
        raise ValidationError({field: [serializers.ErrorDetail("only the operator acts for another organization",
                                                               code="invalid")]})
    return m.organization


WRITE_ERRORS = error_responses(400, 401, 403, 409)


# --- holdings and statements -------------------------------------------------------------------------

class HoldingsView(APIView):
    @extend_schema(tags=["ledger"], summary="The acting organization's holdings",
                   responses={200: HoldingSerializer(many=True), **error_responses(401, 403)})
    def get(self, request):
        return Response(HoldingSerializer(selectors.holding_list(membership=_membership(request)), many=True).data)


class StatementsView(ListAPIView):
    """Postings of the acting organization's accounts, newest first (cursor pagination)."""

    serializer_class = StatementLineSerializer
    pagination_class = IdCursorPagination
    filterset_class = StatementFilter
    filter_backends = ORDERED_LIST_BACKENDS
    ordering_fields = ["id", "amount"]
    ordering = "-id"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no acting organization
            return selectors.statement_lines(membership=None)
        return selectors.statement_lines(membership=_membership(self.request))

    @extend_schema(tags=["ledger"], summary="Account statement (postings)", responses={
        200: StatementLineSerializer(many=True), **error_responses(400, 401, 403)})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


# --- transactions and proofs -------------------------------------------------------------------------

def _inclusion(txn_id: int, tree_size: int | None) -> dict | None:
    leaf = selectors.leaf_of(txn_id)
    if leaf is None:
        return None
    cp = selectors.checkpoint_at(tree_size) if tree_size else selectors.checkpoint_latest()
    if cp is None:
        raise NotFound()
    if leaf.index >= cp.tree_size:
        raise ApiError(INVALID_PROOF_RANGE, fields={"tree_size": "the transaction was sealed after this checkpoint"})
    return {
        "leaf_index": leaf.index, "leaf_hash": bytes(leaf.leaf_hash).hex(), "tree_size": cp.tree_size,
        "root_hash": bytes(cp.root_hash).hex(), "audit_path": [h.hex() for h in inclusion_proof(leaf.index,
                                                                                                 cp.tree_size)],
        "checkpoint": CheckpointSerializer(cp).data,
    }


class TransactionDetailView(APIView):
    @extend_schema(tags=["ledger"], summary="A ledger transaction with its inclusion proof",
                   parameters=[OpenApiParameter("tree_size", OpenApiTypes.INT, description=(
                       "prove inclusion under the checkpoint of this size (default: the latest)"))],
                   responses={200: TransactionDetailSerializer, **error_responses(400, 401, 403, 404)})
    def get(self, request, pk: int):
        txn = selectors.transaction_for(membership=_membership(request), pk=pk)
        tree_size = _int_param(request, "tree_size", required=False)
        data = dict(TransactionSerializer(txn).data)
        canonical = canonical_bytes(txn.id)
        proof = _inclusion(txn.id, tree_size)
        if proof is not None and proof["leaf_hash"] != leaf_hash(canonical).hex():
            proof["warning"] = "the transaction no longer matches its sealed leaf: run verify_ledger"
        data.update(canonical=canonical.decode(), sealed=proof is not None, proof=proof)
        return Response(data)


def _int_param(request, name: str, *, required: bool = True) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        if required:
            raise ValidationError({name: [serializers.ErrorDetail(gettext("required"), code="required")]})
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError({name: [serializers.ErrorDetail(gettext("an integer"), code="invalid")]})
    if not 0 <= value < 2**62:
        raise ValidationError({name: [serializers.ErrorDetail("out of range", code="invalid")]})
    return value


class CheckpointPagination(IdCursorPagination):
    ordering = "-tree_size"


class CheckpointListView(ListAPIView):
    """Signed tree heads, newest first."""

    serializer_class = CheckpointSerializer
    pagination_class = CheckpointPagination
    filter_backends = []

    def get_queryset(self):
        return selectors.checkpoint_list()

    @extend_schema(tags=["ledger"], summary="Checkpoints (signed tree heads)")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class SigningKeyListView(APIView):
    """The public keys that verify checkpoints: public, no login (a regulator or anyone pins them)."""

    authentication_classes = ()
    permission_classes = (AllowAny,)

    @extend_schema(tags=["ledger"], summary="Public keys that verify checkpoint signatures (Ed25519)",
                   responses={200: SigningKeySerializer(many=True)},
                   description="Each checkpoint names its `key_id`. A key's validity runs from its first "
                               "checkpoint until the next key's first one (rotation); old checkpoints stay "
                               "verifiable with their own key.")
    def get(self, request):
        return Response(SigningKeySerializer(selectors.signing_keys(), many=True).data)


class ConsistencyView(APIView):
    @extend_schema(tags=["ledger"], summary="Proof that a later checkpoint extends an earlier one",
                   parameters=[OpenApiParameter("from", OpenApiTypes.INT, required=True,
                                                description="tree size of the earlier checkpoint"),
                               OpenApiParameter("to", OpenApiTypes.INT, required=True,
                                                description="tree size of the later checkpoint")],
                   responses={200: ConsistencyProofSerializer, **error_responses(400, 401, 404)})
    def get(self, request):
        first, second = _int_param(request, "from"), _int_param(request, "to")
        if not 0 < first <= second:
            raise ApiError(INVALID_PROOF_RANGE)
        old, new = selectors.checkpoint_at(first), selectors.checkpoint_at(second)
        if old is None or new is None:
            raise ApiError(INVALID_PROOF_RANGE, fields={"from" if old is None else "to": "no checkpoint of this size"})
        return Response({"from_tree_size": first, "from_root_hash": bytes(old.root_hash).hex(),
                         "to_tree_size": second, "to_root_hash": bytes(new.root_hash).hex(),
                         "proof": [h.hex() for h in consistency_proof(first, second)]})


class VerificationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    report = VerifyReportSerializer(allow_null=True)
    error = serializers.CharField()


# the whole ledger is recomputed in a worker, for admins of a regulator or of the operator, one run at a time
VerificationAdmin = member_with(roles=("admin",), kinds=("regulator", "exchange_operator"), safe_roles=("admin",),
                                safe_kinds=("regulator", "exchange_operator"))


class VerificationStartView(APIView):
    permission_classes = [VerificationAdmin]

    @extend_schema(tags=["ledger"], summary="Start a full ledger verification (a background job; admins of a "
                   "regulator or of the operator). While one is queued or running, that one is returned.",
                   request=None, responses={202: VerificationSerializer,
                                            200: OpenApiResponse(VerificationSerializer,
                                                                 description="the run already under way"),
                                            **error_responses(401, 403)})
    def post(self, request):
        run, created = verification_start(actor=Actor.from_request(request))
        return Response(VerificationSerializer(run).data,
                        status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK)


class VerificationDetailView(APIView):
    permission_classes = [VerificationAdmin]

    @extend_schema(tags=["ledger"], summary="A ledger verification run: its status and, once done, the report",
                   responses={200: VerificationSerializer, **error_responses(401, 403, 404)})
    def get(self, request, pk: int):
        run = VerificationRun.objects.filter(pk=pk).first()
        if run is None:
            raise NotFound()
        return Response(VerificationSerializer(run).data)


# --- instrument catalog ------------------------------------------------------------------------------

class AssetListCreateView(GenericAPIView):
    serializer_class = AssetSerializer
    filterset_class = AssetFilter
    permission_classes = [GovernmentWriter | IsOperator]

    def get_queryset(self):
        return selectors.asset_list()

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "today": services.today()}

    @extend_schema(tags=["ledger"], summary="The instrument catalog", responses={
        200: AssetSerializer(many=True), **error_responses(400, 401)})
    def get(self, request):
        qs = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(tags=["ledger"], summary="Add a rights instrument (a government body within its "
                   "jurisdiction, or the operator naming the issuer)",
                   request=AssetInput, responses={201: AssetSerializer, **WRITE_ERRORS})
    def post(self, request):
        data = AssetInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        issuer = _only_operator_names(request, v, "issuer")
        asset = services.asset_create(
            actor=Actor.from_request(request), code=v["code"], right_type_id=v["right_type"], subtype=v["subtype"],
            unit=v["unit"], scale=v["scale"], vintage=v.get("vintage"), origin_region_id=v["origin_region"],
            issuer=issuer, valid_from=v.get("valid_from"), valid_to=v.get("valid_to"), basin_id=v.get("basin"),
            name_zh=v["name_zh"], name_en=v["name_en"])
        return Response(self.get_serializer(asset).data, status=status.HTTP_201_CREATED)


# --- value-moving endpoints --------------------------------------------------------------------------

class _PostingView(APIView):
    input_serializer = None

    def valid(self, request) -> tuple[str, dict, Actor]:
        key = idempotency_key(request)
        data = self.input_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        return key, data.validated_data, Actor.from_request(request)


def _write_schema(summary: str, request_serializer):
    return extend_schema(tags=["ledger"], summary=summary, request=request_serializer,
                         parameters=[IDEMPOTENCY_HEADER],
                         responses={201: TransactionSerializer,
                                    200: OpenApiResponse(TransactionSerializer, description="replay"),
                                    **WRITE_ERRORS})


def _movement(request, kind: str, payload: dict) -> Response:
    """Propose a maker–checker movement: 202 and the pending request (200 on a replay), or — below the
    single-person amount — 201 and the posted transaction, as before."""
    key = idempotency_key(request)
    movement, posted, replayed = movements.movement_propose(
        membership=_membership(request), kind=kind, request=payload, idempotency_key=key,
        request_id=getattr(request, "request_id", ""))
    if posted is not None:
        return posted_response(posted)
    response = Response(MovementRequestSerializer(movement).data,
                        status=status.HTTP_200_OK if replayed else status.HTTP_202_ACCEPTED)
    if replayed:
        response["Idempotent-Replayed"] = "true"
    return response


def _propose_schema(summary: str, request_serializer):
    return extend_schema(tags=["ledger"], summary=summary, request=request_serializer,
                         parameters=[IDEMPOTENCY_HEADER],
                         responses={202: OpenApiResponse(MovementRequestSerializer,
                                                         description="proposed: waits for a second person"),
                                    201: OpenApiResponse(TransactionSerializer,
                                                         description="posted at once (below the single-person "
                                                                     "amount)"),
                                    200: OpenApiResponse(MovementRequestSerializer, description="replay"),
                                    **WRITE_ERRORS})


class DepositView(_PostingView):
    permission_classes = [IsOperator]
    input_serializer = CashMovementInput

    @_propose_schema("Propose a bank deposit (operator; another person confirms)", CashMovementInput)
    def post(self, request):
        _key, v, _actor = self.valid(request)
        return _movement(request, "deposit", {"asset": "CNY", "organization": v["organization"].id,
                                              "amount": v["amount"], "bank_reference": v["bank_reference"]})


class WithdrawalView(_PostingView):
    permission_classes = [IsOperator]
    input_serializer = CashMovementInput

    @_propose_schema("Propose a bank withdrawal (operator; another person confirms)", CashMovementInput)
    def post(self, request):
        _key, v, _actor = self.valid(request)
        return _movement(request, "withdraw", {"asset": "CNY", "organization": v["organization"].id,
                                               "amount": v["amount"], "bank_reference": v["bank_reference"]})


class IssuanceView(_PostingView):
    permission_classes = [GovernmentWriter | IsOperator]
    input_serializer = IssuanceInput

    @_propose_schema("Propose an issuance (the asset's registered issuer, or the operator on its behalf; "
                     "another person confirms)", IssuanceInput)
    def post(self, request):
        _key, v, _actor = self.valid(request)
        issuer = _only_operator_names(request, v, "issuer")
        return _movement(request, "issue", {"asset": v["asset"].code, "issuer": issuer.id,
                                            "recipient": v["recipient"].id, "amount": v["amount"],
                                            "evidence": v.get("evidence") or {}})


class TransferView(_PostingView):
    permission_classes = [IsOperator]
    input_serializer = TransferInput

    @_propose_schema("Propose a transfer between organizations (operator; another person confirms)", TransferInput)
    def post(self, request):
        _key, v, _actor = self.valid(request)
        return _movement(request, "transfer", {"asset": v["asset"].code, "sender": v["sender"].id,
                                               "recipient": v["recipient"].id, "amount": v["amount"],
                                               "reason": v["reason"]})


class MovementListView(ListAPIView):
    """Maker–checker requests the acting organization may see (the operator: all)."""

    serializer_class = MovementRequestSerializer
    pagination_class = IdCursorPagination
    filter_backends = [StrictOrderingFilter]  # `status` is read by get_queryset
    ordering_fields = ["id", "created_at", "status", "kind"]
    ordering = "-id"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return MovementRequest.objects.none()
        qs = movements.movement_list(membership=_membership(self.request))
        wanted = self.request.query_params.get("status")
        return qs.filter(status=wanted) if wanted else qs

    @extend_schema(tags=["ledger"], summary="Maker–checker requests (deposits, withdrawals, transfers, issuance)",
                   parameters=[OpenApiParameter("status", OpenApiTypes.STR, enum=["pending", "confirmed",
                                                                                   "rejected"])])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


def _visible_movement(request, pk: int) -> MovementRequest:
    movement = movements.movement_list(membership=_membership(request)).filter(pk=pk).first()
    if movement is None:
        raise NotFound()
    return movement


class MovementDetailView(APIView):
    @extend_schema(tags=["ledger"], summary="One maker–checker request",
                   responses={200: MovementRequestSerializer, **error_responses(401, 404)})
    def get(self, request, pk: int):
        return Response(MovementRequestSerializer(_visible_movement(request, pk)).data)


class MovementConfirmView(APIView):
    @extend_schema(tags=["ledger"], summary="Confirm a request (another person than the proposer: an approver or "
                   "admin of the operator, or of the issuer for issuance); posts it", request=None,
                   responses={201: TransactionSerializer,
                              200: OpenApiResponse(TransactionSerializer, description="already confirmed"),
                              **error_responses(400, 401, 403, 404, 409)})
    def post(self, request, pk: int):
        _visible_or_checkable(request, pk)
        posted = movements.movement_confirm(membership=_membership(request), movement_id=pk,
                                            request_id=getattr(request, "request_id", ""))
        return posted_response(posted)


class MovementRejectView(APIView):
    @extend_schema(tags=["ledger"], summary="Reject a pending request (whoever may confirm it)",
                   request=MovementRejectInput,
                   responses={200: MovementRequestSerializer, **error_responses(400, 401, 403, 404, 409)})
    def post(self, request, pk: int):
        _visible_or_checkable(request, pk)
        data = MovementRejectInput(data=request.data)
        data.is_valid(raise_exception=True)
        movement = movements.movement_reject(membership=_membership(request), movement_id=pk,
                                             reason=data.validated_data["reason"],
                                             request_id=getattr(request, "request_id", ""))
        return Response(MovementRequestSerializer(movement).data)


def _visible_or_checkable(request, pk: int) -> None:
    """Another organization's request is a 404, never a 403 that confirms it exists."""
    _visible_movement(request, pk)


class RetirementView(_PostingView):
    permission_classes = [ParticipantWriter | IsOperator]
    input_serializer = RetirementInput

    @_write_schema("Retire (surrender) rights for compliance", RetirementInput)
    def post(self, request):
        key, v, actor = self.valid(request)
        holder = _only_operator_names(request, v, "organization")
        return posted_response(services.rights_retire(actor=actor, asset=v["asset"], organization=holder,
                                                      amount=v["amount"], reason=v["reason"],
                                                      compliance_period=v["compliance_period"],
                                                      idempotency_key=key))


class ExpirationView(_PostingView):
    permission_classes = [GovernmentWriter | IsOperator]
    input_serializer = ExpirationInput

    @_write_schema("Expire a holder's remaining balance of an expired right (issuing authority)", ExpirationInput)
    def post(self, request):
        key, v, actor = self.valid(request)
        m = _membership(request)
        asset = v["asset"]
        if is_operator(m):
            issuer = asset.issuer
            if issuer is None:
                raise ApiError("not_an_issuer")
        else:
            issuer = m.organization
        posted = services.rights_expire(actor=actor, issuer=issuer, asset=asset, organization=v["organization"],
                                        idempotency_key=key)
        if posted is None:
            raise ApiError(NOTHING_TO_EXPIRE)
        return posted_response(posted)


# --- journal exports ---------------------------------------------------------------------------------

def _time_range(request):
    """`since`/`until` (the API's one range convention); `from`/`to` are deprecated aliases for one release."""
    field = serializers.DateTimeField()
    out = []
    for name, alias in (("since", "from"), ("until", "to")):
        raw = request.query_params.get(name)
        if raw is None:
            raw = request.query_params.get(name := alias)
        if raw in (None, ""):
            out.append(None)
            continue
        try:
            out.append(field.to_internal_value(raw))
        except ValidationError as exc:
            raise ValidationError({name: exc.detail})
    return out


_RANGE_PARAMS = [OpenApiParameter("since", OpenApiTypes.DATETIME, description="inclusive, ISO 8601"),
                 OpenApiParameter("until", OpenApiTypes.DATETIME, description="exclusive, ISO 8601"),
                 OpenApiParameter("from", OpenApiTypes.DATETIME, deprecated=True, description="old name of since"),
                 OpenApiParameter("to", OpenApiTypes.DATETIME, deprecated=True, description="old name of until")]


def _iso(ts) -> str:
    # presentation (the API's one time format); the leaf hash covers ledger.canonical's UTC form, not this
    return local_time(ts)


JOURNAL_COLUMNS = [
    Column("transaction_id", "交易编号", "int"), Column("created_at", "记账时间", "time"), Column("kind", "类型"),
    Column("reference_type", "业务类型"), Column("reference_id", "业务编号"),
    Column("actor_organization_id", "发起机构编号", "int"), Column("actor_organization_name", "发起机构"),
    Column("posting_id", "分录编号", "int"), Column("account_id", "账户编号", "int"),
    Column("account_kind", "账户类型"), Column("organization_id", "机构编号", "int"),
    Column("organization_name", "机构名称"), Column("asset", "资产代码"), Column("asset_name", "资产名称"),
    Column("unit", "计量单位"), Column("bucket", "余额类别"), Column("amount", "金额", "amount"),
]


def _journal_rows(rows, lang: str):
    def name(zh, en):
        return zh if lang == "zh" or not en else en

    organizations = {pk: name(zh, en) for pk, zh, en in Organization.objects.values_list("id", "name_zh", "name_en")}
    assets = {code: (name(zh, en) or code, unit) for code, zh, en, unit in
              Asset.objects.values_list("code", "name_zh", "name_en", "unit")}
    buckets = {"A": "可用" if lang == "zh" else "available", "H": "冻结" if lang == "zh" else "held"}
    for (tid, created_at, kind, ref_type, ref_id, actor_org, pid, account, account_kind, org, code, scale, bucket,
         amount) in rows:
        asset_name, unit = assets.get(code, (code, ""))
        yield {"transaction_id": tid, "created_at": created_at, "kind": kind, "reference_type": ref_type,
               "reference_id": ref_id, "actor_organization_id": actor_org,
               "actor_organization_name": organizations.get(actor_org, ""), "posting_id": pid, "account_id": account,
               "account_kind": account_kind, "organization_id": org, "organization_name": organizations.get(org, ""),
               "asset": code, "asset_name": asset_name, "unit": unit, "bucket": buckets.get(bucket, bucket),
               "amount": from_minor(amount, scale)}


class JournalCsvView(APIView):
    """The journal, one row per posting (CSV or .xlsx by the path's extension)."""

    permission_classes = [Overseer]
    renderer_classes = [JSONRenderer, CsvRenderer, XlsxRenderer]
    fmt = "csv"

    @extend_schema(tags=["ledger"], summary="Journal export, one row per posting (streamed)",
                   parameters=[*_RANGE_PARAMS, OpenApiParameter("lang", OpenApiTypes.STR, enum=["zh", "en"])],
                   responses={(200, "text/csv"): OpenApiTypes.STR, (200, XLSX_TYPE): OpenApiTypes.BINARY,
                              **error_responses(400, 401, 403)})
    def get(self, request):
        since, until = _time_range(request)
        lang = language(request)
        rows = selectors.journal_postings(membership=_membership(request), since=since, until=until)
        return streaming(_journal_rows(rows, lang), JOURNAL_COLUMNS, self.fmt, "journal", lang=lang)


class JournalJsonLinesView(APIView):
    permission_classes = [Overseer]
    renderer_classes = [JSONRenderer, JsonLinesRenderer]

    @extend_schema(tags=["ledger"], summary="Journal export, one JSON object per transaction per line (streamed)",
                   parameters=_RANGE_PARAMS, responses={(200, "application/x-ndjson"): OpenApiTypes.STR,
                                                        **error_responses(400, 401, 403)})
    def get(self, request):
        since, until = _time_range(request)
        rows = selectors.journal_transactions(membership=_membership(request), since=since, until=until)

        def lines():
            chunk = []
            for (tid, created_at, kind, key, ref_type, ref_id, actor_user, actor_org, memo, postings, leaf_index,
                 leaf) in rows:
                doc = {
                    "id": tid, "created_at": _iso(created_at), "kind": kind, "idempotency_key": key,
                    "reference": [ref_type, ref_id], "actor": [actor_user, actor_org], "memo": memo,
                    "postings": [{"id": pid, "account": account, "account_kind": account_kind, "organization": org,
                                  "asset": code, "asset_id": asset_id, "bucket": bucket,
                                  "amount": from_minor(amount, scale), "amount_minor": amount}
                                 for pid, account, account_kind, org, code, asset_id, bucket, amount, scale
                                 in postings or []],
                    "leaf_index": leaf_index, "leaf_hash": bytes(leaf).hex() if leaf is not None else None,
                }
                chunk.append(json.dumps(doc, ensure_ascii=False, separators=(",", ":")))
                if len(chunk) >= 200:
                    yield "\n".join(chunk) + "\n"
                    chunk = []
            if chunk:
                yield "\n".join(chunk) + "\n"

        response = StreamingHttpResponse(lines(), content_type="application/x-ndjson; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="journal.jsonl"'
        return response



# --- the register (operator and regulators) ----------------------------------------------------------

_RegisterSeat = member_with(safe_kinds=("exchange_operator", "regulator"), kinds=())


class RegisterReader(_RegisterSeat):
    """The operator and the regulators of the exchange's province (the operator's). A regulator of another
    province — Guangdong's, a party to cross-provincial compensation — oversees its own province, not the
    exchange's register: 403."""

    def has_permission(self, request, view):
        if not super().has_permission(request, view):
            return False
        org = acting_membership(request).organization
        if org.kind != "regulator":
            return True
        seat = Organization.objects.filter(kind="exchange_operator").values_list("region_id", flat=True).first()
        return bool(seat) and bool(org.jurisdiction_id) and org.jurisdiction_id[:2] == seat[:2]


class RegisterHoldingSerializer(serializers.Serializer):
    organization = serializers.IntegerField(source="organization_id")
    organization_name = serializers.CharField(source="organization.name_zh")
    asset = serializers.CharField(source="asset.code")
    unit = serializers.CharField(source="asset.unit")
    account_kind = serializers.CharField(source="kind")
    available = serializers.SerializerMethodField()
    held = serializers.SerializerMethodField()
    total = serializers.SerializerMethodField()

    def get_available(self, a) -> str:
        return from_minor(a.available, a.asset.scale)

    def get_held(self, a) -> str:
        return from_minor(a.held, a.asset.scale)

    def get_total(self, a) -> str:
        return from_minor(a.available + a.held, a.asset.scale)


class ConservationSerializer(serializers.Serializer):
    asset = serializers.CharField()
    kind = serializers.CharField()
    unit = serializers.CharField()
    issued = serializers.CharField()
    retired = serializers.CharField()
    expired = serializers.CharField()
    held = serializers.CharField()
    holders = serializers.IntegerField()
    balanced = serializers.BooleanField()


class ConservationReportSerializer(serializers.Serializer):
    balanced = serializers.BooleanField(help_text="every asset balances")
    assets = ConservationSerializer(many=True)


class RegisterHoldingsView(ListAPIView):
    """Every organization's holdings per asset (paged; `?asset=` code, `?organization=` id)."""

    serializer_class = RegisterHoldingSerializer
    permission_classes = (RegisterReader,)

    def get_queryset(self):
        org = self.request.query_params.get("organization")
        return register.register_holdings(asset_code=self.request.query_params.get("asset") or None,
                                          organization_id=int(org) if org and org.isdigit() else None)

    @extend_schema(tags=["ledger"], summary="The whole register: holdings of every organization (operator, "
                   "regulators)", parameters=[OpenApiParameter("asset", str), OpenApiParameter("organization", int)],
                   responses={200: RegisterHoldingSerializer(many=True), **error_responses(401, 403)})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ConservationView(APIView):
    permission_classes = (RegisterReader,)

    @extend_schema(tags=["ledger"], summary="Conservation per asset: issued − retired − expired = held",
                   parameters=[OpenApiParameter("asset", str)],
                   responses={200: ConservationReportSerializer, **error_responses(401, 403)})
    def get(self, request):
        rows = register.conservation(asset_code=request.query_params.get("asset") or None)
        out = [{**r, **{k: from_minor(r[k], r["scale"]) for k in ("issued", "retired", "expired", "held")}}
               for r in rows]
        return Response({"balanced": all(r["balanced"] for r in rows),
                         "assets": ConservationSerializer(out, many=True).data})
