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

import csv
import io
import json
import re

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.actor import Actor
from accounts.models import GOVERNMENT_KINDS
from accounts.permissions import IsOperator, acting_membership, is_operator, member_with
from core.api import IdCursorPagination, error_responses
from core.errors import ApiError
from core.money import from_minor

from . import selectors, services
from .canonical import leaf_hash
from .errors import IDEMPOTENCY_KEY_REQUIRED, INVALID_PROOF_RANGE, NOTHING_TO_EXPIRE
from .filters import AssetFilter, StatementFilter
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
    RetirementInput,
    SigningKeySerializer,
    StatementLineSerializer,
    TransactionDetailSerializer,
    TransactionSerializer,
    TransferInput,
    VerifyReportSerializer,
)
from .verify import verify_ledger

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
            raise ValidationError({name: [serializers.ErrorDetail("required", code="required")]})
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError({name: [serializers.ErrorDetail("an integer", code="invalid")]})
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


class VerifyView(APIView):
    permission_classes = [Overseer]

    @extend_schema(tags=["ledger"], summary="Verify the whole ledger (regulators and the operator)",
                   responses={200: VerifyReportSerializer, **error_responses(401, 403)})
    def get(self, request):
        return Response(verify_ledger().as_dict())


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


class DepositView(_PostingView):
    permission_classes = [IsOperator]
    input_serializer = CashMovementInput

    @_write_schema("Confirm a bank deposit (operator)", CashMovementInput)
    def post(self, request):
        key, v, actor = self.valid(request)
        return posted_response(services.cash_deposit(actor=actor, organization=v["organization"], amount=v["amount"],
                                                     bank_reference=v["bank_reference"], idempotency_key=key))


class WithdrawalView(_PostingView):
    permission_classes = [IsOperator]
    input_serializer = CashMovementInput

    @_write_schema("Confirm a bank withdrawal (operator)", CashMovementInput)
    def post(self, request):
        key, v, actor = self.valid(request)
        return posted_response(services.cash_withdraw(actor=actor, organization=v["organization"],
                                                      amount=v["amount"], bank_reference=v["bank_reference"],
                                                      idempotency_key=key))


class IssuanceView(_PostingView):
    permission_classes = [GovernmentWriter | IsOperator]
    input_serializer = IssuanceInput

    @_write_schema("Issue (allocate) rights within the issuer's jurisdiction", IssuanceInput)
    def post(self, request):
        key, v, actor = self.valid(request)
        issuer = _only_operator_names(request, v, "issuer")
        return posted_response(services.rights_issue(actor=actor, issuer=issuer, asset=v["asset"],
                                                     recipient=v["recipient"], amount=v["amount"],
                                                     evidence=v.get("evidence") or {}, idempotency_key=key))


class TransferView(_PostingView):
    permission_classes = [IsOperator]
    input_serializer = TransferInput

    @_write_schema("Transfer between organizations (operator)", TransferInput)
    def post(self, request):
        key, v, actor = self.valid(request)
        return posted_response(services.rights_transfer(actor=actor, asset=v["asset"], sender=v["sender"],
                                                        recipient=v["recipient"], amount=v["amount"],
                                                        reason=v["reason"], idempotency_key=key))


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

class _PassthroughRenderer(BaseRenderer):
    """Lets content negotiation accept the export's media type; errors still render as JSON."""

    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return json.dumps(data).encode() if data is not None else b""


class CsvRenderer(_PassthroughRenderer):
    media_type, format = "text/csv", "csv"


class JsonLinesRenderer(_PassthroughRenderer):
    media_type, format = "application/x-ndjson", "jsonl"


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


CHUNK = 64 * 1024


def _iso(ts) -> str:
    return ts.isoformat()


class JournalCsvView(APIView):
    permission_classes = [Overseer]
    renderer_classes = [JSONRenderer, CsvRenderer]
    HEADER = ["transaction_id", "created_at", "kind", "reference_type", "reference_id", "actor_organization_id",
              "posting_id", "account_id", "account_kind", "organization_id", "asset", "bucket", "amount"]

    @extend_schema(tags=["ledger"], summary="Journal export, one CSV row per posting (streamed)",
                   parameters=_RANGE_PARAMS, responses={(200, "text/csv"): OpenApiTypes.STR,
                                                        **error_responses(400, 401, 403)})
    def get(self, request):
        since, until = _time_range(request)
        rows = selectors.journal_postings(membership=_membership(request), since=since, until=until)

        def lines():
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            writer.writerow(self.HEADER)
            for (tid, created_at, kind, ref_type, ref_id, actor_org, pid, account, account_kind, org, code, scale,
                 bucket, amount) in rows:
                writer.writerow([tid, _iso(created_at), kind, ref_type, ref_id, actor_org or "", pid, account,
                                 account_kind, org or "", code, "available" if bucket == "A" else "held",
                                 from_minor(amount, scale)])
                if buffer.tell() >= CHUNK:  # a few hundred rows per chunk: constant memory, few writes
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
            if buffer.tell():
                yield buffer.getvalue()

        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="journal.csv"'
        return response


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

