"""The trade dossier's proof, as JSON for the browser to re-check: the inclusion proof of the trade's
settlement transaction (from the dossier the API builds) plus the signed checkpoint it is proved against.

The page's script (`proof.js`) fetches this, re-hashes the canonical bytes (SHA-256, RFC 6962), walks the
audit path to the root, rebuilds the checkpoint's signed body from the root it just proved and the
checkpoint's other fields, and verifies the Ed25519 signature with the exchange's published key (the
public `GET /api/v1/checkpoints/public-keys`, matched by key id, the id itself recomputed). Nothing here
says "verified": the server only hands over data, the browser decides.
"""
from __future__ import annotations

import json

from django.http import Http404, JsonResponse

from ledger.models import Checkpoint
from ledger.sealing import canonical_bytes, checkpoint_signed_body

from . import api
from .views import OVERSIGHT_KINDS, member_required


def checkpoint_fields(cp: Checkpoint) -> dict:
    """The fields of the checkpoint's signed body (ledger.canonical.checkpoint_body), in its own formats, and
    the signature; the browser re-serializes the body itself (sorted keys, no spaces) before verifying."""
    return {"body": json.loads(checkpoint_signed_body(cp)), "signature": cp.signature, "key_id": cp.key_id}


@member_required(OVERSIGHT_KINDS)
def dossier_proof(request, pk: int):
    result = api.call(request, "GET", f"/api/v1/oversight/trades/{pk}")  # the API's scope and 404
    if result.status == 404:
        raise Http404
    if not result.ok:
        return JsonResponse({"proof": None, "error": result.message}, status=result.status)
    dossier = result.data
    txn_id = (dossier.get("trade") or {}).get("ledger_transaction")
    proof = None
    for entry in dossier.get("ledger", []):
        if entry.get("proof") and (txn_id is None or entry["id"] == txn_id):
            proof = entry["proof"]
            tid = entry["id"]
    if proof is None:
        return JsonResponse({"proof": None})
    cp = Checkpoint.objects.filter(tree_size=proof["tree_size"]).first()
    return JsonResponse({"proof": {
        "transaction": tid, "leaf_data": canonical_bytes(tid).hex(), "leaf_index": proof["leaf_index"],
        "leaf_hash": proof["leaf_hash"], "tree_size": proof["tree_size"], "root_hash": proof["root_hash"],
        "path": proof["audit_path"]},
        "checkpoint": checkpoint_fields(cp) if cp else None,
        "public_keys_url": "/api/v1/checkpoints/public-keys"})
