"""Checkpoints are Ed25519-signed (issue 14 item 3): a verifier needs the published PUBLIC key only.

The independent check below uses `cryptography` and the two public API responses (checkpoints, public keys)
and no project code; `verify_ledger` runs without the private key; a rotation keeps old checkpoints
verifiable under their own key id; HMAC checkpoints from before are legacy (checked only with the old secret).
"""
import hashlib
import time

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.core.exceptions import ImproperlyConfigured
from rest_framework.test import APIClient

from accounts.actor import Actor
from ledger import sealing, services
from ledger.canonical import legacy_hmac_sign
from ledger.keys import LEGACY_HMAC_KEY_ID, key_id, public_raw
from ledger.models import Checkpoint, LedgerTransaction, SigningKey
from ledger.verify import verify_ledger

pytestmark = pytest.mark.django_db(transaction=True)


def _pem(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _seal_all():
    deadline = time.monotonic() + 60
    while LedgerTransaction.objects.filter(leaf__isnull=True).exists():
        sealing.seal()
        assert time.monotonic() < deadline, "the sealing horizon did not move"
        time.sleep(0.02)


def _deposit(org, n: int):
    services.cash_deposit(actor=Actor.system(), organization=org, amount=100 + n, bank_reference=f"B{n}",
                          idempotency_key=f"dep-{n}")


@pytest.fixture
def member(make_org, make_member, client_for, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    org = make_org("enterprise", "350121")
    return org, client_for(make_member(org, "viewer"))


def _independently_verified(checkpoints: list[dict], keys: list[dict]) -> int:
    """What a regulator does with the two responses: no project code, only `cryptography` and hashlib."""
    by_id = {}
    for k in keys:
        public = serialization.load_pem_public_key(k["public_key_pem"].encode())
        assert isinstance(public, Ed25519PublicKey)
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        assert raw.hex() == k["public_key_hex"] and hashlib.sha256(raw).hexdigest()[:16] == k["key_id"]
        by_id[k["key_id"]] = public
    for cp in checkpoints:
        by_id[cp["key_id"]].verify(bytes.fromhex(cp["signature"]), cp["signed_body"].encode())  # raises if forged
        assert hashlib.sha256(cp["signed_body"].encode()).hexdigest() == cp["checkpoint_hash"]
    return len(checkpoints)


def test_checkpoints_verify_with_the_published_public_key_alone(member, settings):
    org, client = member
    for i in range(3):
        _deposit(org, i)
    _seal_all()
    keys = APIClient().get("/api/v1/checkpoints/public-keys")  # anonymous: public keys are public
    assert keys.status_code == 200, keys.content
    keys = keys.json()
    assert len(keys) == 1 and keys[0]["algorithm"] == "ed25519" and keys[0]["valid_until"] is None
    checkpoints = client.get("/api/v1/checkpoints").json()["results"]
    assert checkpoints and _independently_verified(checkpoints, keys) == len(checkpoints)
    # a forged body does not verify under the published key
    forged = dict(checkpoints[0], signed_body=checkpoints[0]["signed_body"].replace('"tree_size":', '"tree_size": '))
    with pytest.raises(InvalidSignature):
        _independently_verified([forged], keys)
    # verify_ledger needs no private key at all
    settings.LEDGER_SIGNING_KEY = None
    report = verify_ledger()
    assert report.ok and report.checkpoints == len(checkpoints), report.fault


def test_verify_ledger_with_pinned_trusted_keys(member):
    org, _client = member
    _deposit(org, 1)
    _seal_all()
    stored = SigningKey.objects.get()
    assert verify_ledger(trusted_keys={stored.key_id: bytes(stored.public_key)}).ok
    # a database whose key table was swapped is caught by the verifier's pinned key
    other = Ed25519PrivateKey.generate().public_key().public_bytes(serialization.Encoding.Raw,
                                                                     serialization.PublicFormat.Raw)
    report = verify_ledger(trusted_keys={stored.key_id: other})
    assert not report.ok and report.fault.kind == "checkpoint_signature"
    report = verify_ledger(trusted_keys={})
    assert not report.ok and report.fault.kind == "checkpoint_key"


def test_key_rotation_keeps_old_checkpoints_verifiable(member, settings):
    org, client = member
    old_key, new_key = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    settings.LEDGER_SIGNING_KEY = _pem(old_key)
    _deposit(org, 1)
    _seal_all()
    settings.LEDGER_SIGNING_KEY = old_key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                                        serialization.NoEncryption()).hex()  # the same key, as hex
    _deposit(org, 2)
    _seal_all()
    assert SigningKey.objects.count() == 1
    settings.LEDGER_SIGNING_KEY = _pem(new_key)  # rotation: the operator configures a new key
    _deposit(org, 3)
    _seal_all()
    keys = APIClient().get("/api/v1/checkpoints/public-keys").json()
    assert len(keys) == 2 and keys[0]["valid_until"] is not None and keys[1]["valid_until"] is None
    checkpoints = client.get("/api/v1/checkpoints").json()["results"]
    assert {cp["key_id"] for cp in checkpoints} == {k["key_id"] for k in keys}
    assert _independently_verified(checkpoints, keys) == 3
    settings.LEDGER_SIGNING_KEY = None
    assert verify_ledger().ok


def test_a_retired_key_cannot_sign_later_checkpoints(member, settings, monkeypatch):
    """A leaked old key must not extend the log: its signature after its validity ended is a fault."""
    org, _client = member
    old_key = Ed25519PrivateKey.generate()
    settings.LEDGER_SIGNING_KEY = _pem(old_key)
    _deposit(org, 1)
    _seal_all()
    settings.LEDGER_SIGNING_KEY = _pem(Ed25519PrivateKey.generate())
    _deposit(org, 2)
    _seal_all()
    settings.LEDGER_SIGNING_KEY = _pem(old_key)  # back to the old one: the sealer refuses...
    _deposit(org, 3)
    with pytest.raises(ImproperlyConfigured):
        sealing.seal()
    old_id = key_id(public_raw(old_key))  # ...and a forger holding the leaked key is caught by the verifier
    monkeypatch.setattr(sealing, "register_signing_key", lambda _public, _now: old_id)
    _seal_all()
    report = verify_ledger()
    assert not report.ok and report.fault.kind == "checkpoint_key"


def test_legacy_hmac_checkpoints(member, settings, monkeypatch):
    """Checkpoints written before Ed25519 carry key id legacy-hmac; checked only with the old secret."""
    org, _client = member
    monkeypatch.setattr(sealing, "sign", lambda body, _key: legacy_hmac_sign(body, "the-old-hmac-secret"))
    monkeypatch.setattr(sealing, "register_signing_key", lambda _public, _now: LEGACY_HMAC_KEY_ID)
    _deposit(org, 1)
    _seal_all()
    monkeypatch.undo()
    _deposit(org, 2)
    _seal_all()
    assert list(Checkpoint.objects.values_list("key_id", flat=True))[0] == LEGACY_HMAC_KEY_ID
    settings.LEDGER_LEGACY_HMAC_KEY = None
    report = verify_ledger()
    assert report.ok and report.legacy_unverified == 1 and report.checkpoints == 2
    settings.LEDGER_LEGACY_HMAC_KEY = "the-old-hmac-secret"
    report = verify_ledger()
    assert report.ok and report.legacy_unverified == 0
    settings.LEDGER_LEGACY_HMAC_KEY = "a-wrong-secret"
    report = verify_ledger()
    assert not report.ok and report.fault.kind == "checkpoint_signature"


def test_verify_ledger_command_with_a_trusted_keys_file(member, tmp_path):
    from django.core.management import call_command

    org, _client = member
    _deposit(org, 1)
    _seal_all()
    pem = APIClient().get("/api/v1/checkpoints/public-keys").json()[0]["public_key_pem"]
    (tmp_path / "keys.pem").write_text(pem)
    call_command("verify_ledger", "--no-progress", "--trusted-keys", str(tmp_path / "keys.pem"))  # exits 0
    other = Ed25519PrivateKey.generate().public_key().public_bytes(serialization.Encoding.PEM,
                                                                     serialization.PublicFormat.SubjectPublicKeyInfo)
    (tmp_path / "other.pem").write_bytes(other)
    with pytest.raises(SystemExit) as exit_:
        call_command("verify_ledger", "--no-progress", "--trusted-keys", str(tmp_path / "other.pem"))
    assert exit_.value.code == 1
