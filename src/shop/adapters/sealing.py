"""Webhook secrets at rest: sealed with AES-256-GCM under a key derived from WEBHOOK_SECRET_KEY.

The deliverer must read a secret to sign with it, so it can't be hashed; sealed, a copy of the
database (a backup, a replica, a leaked dump) signs nothing without the key, which lives only in the
environment of the API and the deliverer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shop.application.errors import WebhooksNotConfigured

VERSION = "v1"
PURPOSE = b"shop webhook secrets v1"  # the key derived for this use and no other
NONCE_BYTES = 12


class SealingError(RuntimeError):
    """A sealed secret can't be opened: another WEBHOOK_SECRET_KEY sealed it, or it was altered."""


def derive_key(material: str) -> bytes:
    return hmac.new(material.encode(), PURPOSE, hashlib.sha256).digest()


class AesGcmSealer:
    def __init__(self, material: str) -> None:
        self._aead = AESGCM(derive_key(material))

    def seal(self, secret: bytes) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, secret, PURPOSE)
        return f"{VERSION}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, sealed: str) -> bytes:
        version, _, payload = sealed.partition(".")
        if version != VERSION:
            raise SealingError(f"unknown sealing {version!r}")
        try:
            raw = base64.urlsafe_b64decode(payload)
            return self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], PURPOSE)
        except (InvalidTag, ValueError):
            raise SealingError("a webhook secret can't be opened: was WEBHOOK_SECRET_KEY changed?") from None


class NoSealer:
    """Where WEBHOOK_SECRET_KEY is not set (production without webhooks): nothing to seal or open."""

    def seal(self, secret: bytes) -> str:
        raise WebhooksNotConfigured("set WEBHOOK_SECRET_KEY to use webhooks")

    def open(self, sealed: str) -> bytes:
        raise WebhooksNotConfigured("set WEBHOOK_SECRET_KEY to use webhooks")


def make_sealer(material: str) -> AesGcmSealer | NoSealer:
    return AesGcmSealer(material) if material else NoSealer()
