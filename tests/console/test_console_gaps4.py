"""Browser tests of the console's fourth round: the checkpoint's Ed25519 signature re-checked by the
browser (next to the inclusion proof), the invitee's accept/decline page, role change and deactivation
on the members page, session windows / settlement mode / lot size in the market forms, and the history
of decided maker-checker requests, market proposals and approvals."""
from __future__ import annotations

import json

import pytest

from trading.models import Trade


@pytest.fixture
def sealed_trade():
    from ledger.sealing import seal

    trade = Trade.objects.filter(status="settled").order_by("-id").first()
    seal()
    return trade


def _verdicts(page) -> tuple[str, str]:
    page.wait_for_selector("#proof-result[data-verified]")
    page.wait_for_selector("#signature-result[data-verified]")
    return (page.get_attribute("#proof-result", "data-verified"),
            page.get_attribute("#signature-result", "data-verified"))


def _tampering(page, trade_id: int, change):
    """Route the dossier's proof JSON through `change(data)` (the page itself is untouched)."""
    def alter(route):
        response = route.fetch()
        data = response.json()
        change(data)
        route.fulfill(response=response, body=json.dumps(data))

    page.route(f"**/regulator/trades/{trade_id}/proof.json", alter)


def _flip(hex_text: str, at: int = 0) -> str:
    digit = hex_text[at]
    return hex_text[:at] + ("0" if digit != "0" else "1") + hex_text[at + 1:]


def test_genuine_dossier_shows_proof_and_signature_verified(page_for, ui, sealed_trade):
    from ledger.keys import verify
    from ledger.models import Checkpoint
    from ledger.sealing import checkpoint_signed_body

    page = page_for("regulator_fj_approver")
    page.goto(f"{page.base}/regulator/trades/{sealed_trade.id}/")
    assert _verdicts(page) == ("true", "true"), (page.inner_text("#proof-result"), page.inner_text("#signature-result"))
    cp = Checkpoint.objects.order_by("-tree_size").first()
    assert cp.key_id in page.inner_text("#signature-result")
    from ledger.models import SigningKey

    # the server-side verifier agrees with the browser on the same checkpoint
    assert verify(checkpoint_signed_body(cp), cp.signature, bytes(SigningKey.objects.get(key_id=cp.key_id).public_key))
    ui.shot(page, "dossier-signature")
    ui.check_clean(page)


def test_tampered_signature_is_not_verified_but_the_proof_still_is(page_for, ui, sealed_trade):
    page = page_for("regulator_fj_approver")
    _tampering(page, sealed_trade.id, lambda d: d["checkpoint"].update(signature=_flip(d["checkpoint"]["signature"], 5)))
    page.goto(f"{page.base}/regulator/trades/{sealed_trade.id}/")
    assert _verdicts(page) == ("true", "false")
    assert "✘" in page.inner_text("#signature-result")
    ui.check_clean(page)


def test_tampered_signed_field_is_not_verified(page_for, sealed_trade):
    # a changed timestamp is not covered by the inclusion proof, only by the signature
    page = page_for("regulator_fj_approver")
    _tampering(page, sealed_trade.id,
               lambda d: d["checkpoint"]["body"].update(created_at=d["checkpoint"]["body"]["created_at"].replace(
                   d["checkpoint"]["body"]["created_at"][:4], "1999")))
    page.goto(f"{page.base}/regulator/trades/{sealed_trade.id}/")
    assert _verdicts(page) == ("true", "false")


def test_tampered_leaf_is_not_verified_but_the_signature_still_is(page_for, ui, sealed_trade):
    page = page_for("regulator_fj_approver")
    _tampering(page, sealed_trade.id, lambda d: d["proof"].update(leaf_data=_flip(d["proof"]["leaf_data"], 40),
                                                                  leaf_hash=_flip(d["proof"]["leaf_hash"])))
    page.goto(f"{page.base}/regulator/trades/{sealed_trade.id}/")
    assert _verdicts(page) == ("false", "true")
    ui.check_clean(page)


def test_unknown_key_id_is_not_verified(page_for, sealed_trade):
    page = page_for("regulator_fj_approver")
    _tampering(page, sealed_trade.id, lambda d: d["checkpoint"].update(key_id="0123456789abcdef"))
    page.goto(f"{page.base}/regulator/trades/{sealed_trade.id}/")
    assert _verdicts(page)[1] == "false"
