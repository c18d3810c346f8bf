"""Ed25519 keys of the ledger's checkpoints: parsing the private key from settings, key ids, signing and
verifying. A checkpoint is signed with the operator's private key; anyone holding the published public
key (GET /api/v1/checkpoints/public-keys) verifies it, and cannot forge one (HMAC, used before, let
every verifier forge).

Key id: the first 16 hex digits of SHA-256 over the raw 32-byte public key. A checkpoint records the id
of the key that signed it, so after a rotation old checkpoints stay verifiable with their own key.

Importable without Django (`python -m ledger.keys generate` writes a new private key as PEM, used by
scripts/secrets.sh; `python -m ledger.keys public < key.pem` prints the public key and its id).
"""
from __future__ import annotations

import hashlib
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALGORITHM = "ed25519"
# Checkpoints written before Ed25519 (HMAC-SHA256 under the old LEDGER_SIGNING_KEY) carry this key id.
LEGACY_HMAC_KEY_ID = "legacy-hmac"


class BadKey(ValueError):
    """The configured key is not an Ed25519 private key."""


def load_private_key(text: str) -> Ed25519PrivateKey:
    """A PKCS#8 PEM private key, or its raw 32-byte seed as 64 hex digits."""
    text = (text or "").strip()
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(text.encode(), password=None)
        except (ValueError, TypeError) as exc:
            raise BadKey(f"not a PEM private key: {exc}") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise BadKey("the PEM key is not an Ed25519 key")
        return key
    try:
        seed = bytes.fromhex(text)
    except ValueError:
        seed = b""
    if len(seed) != 32:
        raise BadKey("expected a PEM Ed25519 private key or 64 hex digits (its 32-byte seed)")
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_raw(private: Ed25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public: bytes) -> str:
    return hashlib.sha256(public).hexdigest()[:16]


def public_pem(public: bytes) -> str:
    return Ed25519PublicKey.from_public_bytes(public).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def load_public_key(text: str) -> bytes:
    """A PEM public key (SubjectPublicKeyInfo) or 64 hex digits → the raw 32 bytes."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_public_key(text.encode())
        if not isinstance(key, Ed25519PublicKey):
            raise BadKey("the PEM key is not an Ed25519 public key")
        return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    raw = bytes.fromhex(text)
    if len(raw) != 32:
        raise BadKey("an Ed25519 public key has 32 bytes")
    return raw


def sign(body: bytes, private: Ed25519PrivateKey) -> str:
    return private.sign(body).hex()


def verify(body: bytes, signature_hex: str, public: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(bytes.fromhex(signature_hex), body)
    except (InvalidSignature, ValueError):
        return False
    return True


def generate_pem() -> str:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


def _main(argv: list[str]) -> int:
    if argv[:1] == ["generate"]:
        sys.stdout.write(generate_pem())
        return 0
    if argv[:1] == ["public"]:
        raw = public_raw(load_private_key(sys.stdin.read()))
        sys.stdout.write(f"key id: {key_id(raw)}\n{public_pem(raw)}")
        return 0
    sys.stderr.write("usage: python -m ledger.keys generate | public < private.pem\n")
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
