"""Organizer ticket-signing keys, made where organizers are made: Ed25519, private half sealed with AES-256-GCM
under the app secret. The tickets service opens them to sign and verify."""

from __future__ import annotations

import base64
import hashlib
import os

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _kek(app_secret: str) -> bytes:
    return hashlib.sha256(b"piaowu-ticket-key-v1:" + app_secret.encode()).digest()


def new_keypair(app_secret: str) -> tuple[str, str]:
    """→ (sealed private key, public key), both text for storage."""
    private = Ed25519PrivateKey.generate()
    raw = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    nonce = os.urandom(12)
    sealed = nonce + AESGCM(_kek(app_secret)).encrypt(nonce, raw, b"ed25519")
    return b64e(sealed), b64e(public)


def open_private_key(sealed: str, app_secret: str) -> Ed25519PrivateKey:
    blob = b64d(sealed)
    raw = AESGCM(_kek(app_secret)).decrypt(blob[:12], blob[12:], b"ed25519")
    return Ed25519PrivateKey.from_private_bytes(raw)


def load_public_key(public: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(b64d(public))
