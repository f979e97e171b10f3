"""Password hashing with argon2id, the clock and id generation."""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

import argon2
from argon2.exceptions import InvalidHashError, VerificationError


@dataclass(frozen=True, slots=True)
class Argon2Parameters:
    # OWASP's minimum for argon2id: 19 MiB of memory, 2 iterations, 1 lane.
    memory_cost_kib: int = 19 * 1024
    time_cost: int = 2
    parallelism: int = 1


# Hashes computed at once by one worker process. Each takes its memory cost (19 MiB) and a core for
# tens of milliseconds: more at once than the machine has cores only adds memory, and eight request
# threads logging in together would add 150 MiB to the worker.
CONCURRENT_HASHES = 2


class Argon2Hasher:
    def __init__(self, parameters: Argon2Parameters = Argon2Parameters()) -> None:
        self._hasher = argon2.PasswordHasher(
            time_cost=parameters.time_cost,
            memory_cost=parameters.memory_cost_kib,
            parallelism=parameters.parallelism,
            type=argon2.Type.ID,
        )
        self._dummy = self._hasher.hash(secrets.token_urlsafe(16))
        self._turns = threading.BoundedSemaphore(CONCURRENT_HASHES)

    def hash(self, password: str) -> str:
        with self._turns:
            return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        """False for a text that is not valid Unicode (a lone surrogate): no stored hash came from one."""
        try:
            with self._turns:
                return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError, UnicodeEncodeError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True

    def verify_dummy(self, password: str) -> None:
        self.verify(self._dummy, password)


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class RandomIds:
    def new_id(self) -> str:
        return secrets.token_urlsafe(16)
