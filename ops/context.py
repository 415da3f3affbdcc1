"""What every command runs with: the stack, AWS clients per region, a clock, the wait policy and the console.

Time comes from an injected :class:`Clock`, so RTO and RPO arithmetic is exact in tests; polling goes
through boto3 waiters whose delay and attempts come from :class:`WaitPolicy`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console

from ops.stack import Stack


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class OpsError(Exception):
    """A command could not do what it was asked: one line, reported without a traceback (exit 1)."""


class WrongAccount(OpsError):
    """The credentials belong to another account than the stack's ``environment.accountId``."""


@dataclass(frozen=True)
class WaitPolicy:
    """How boto3 waiters poll: a delay between attempts, attempts derived from a timeout."""

    delay_seconds: int = 30
    #: When set, overrides the attempts computed from a timeout (tests use a delay of 0).
    max_attempts: int | None = None

    def config(self, timeout_seconds: float) -> dict[str, int]:
        if self.max_attempts is not None:
            attempts = self.max_attempts
        else:
            attempts = max(1, math.ceil(timeout_seconds / max(self.delay_seconds, 1)))
        return {"Delay": self.delay_seconds, "MaxAttempts": attempts}


ClientFactory = Callable[[str, str], Any]


@dataclass
class Context:
    stack: Stack
    clock: Clock = field(default_factory=SystemClock)
    wait: WaitPolicy = field(default_factory=WaitPolicy)
    console: Console = field(default_factory=lambda: Console(stderr=True))
    client_factory: ClientFactory | None = None
    clients: dict[tuple[str, str], Any] = field(default_factory=dict)
    account_verified: bool = False

    def client(self, service: str, region: str | None = None) -> Any:
        """A boto3 client for a service in a region (the primary region by default), created once."""
        key = (service, region or self.stack.primary_region)
        if key not in self.clients:
            if service != "sts" and not self.account_verified:
                raise OpsError(f"internal: {service} called before the account check")
            factory = self.client_factory or (lambda s, r: boto3.client(s, region_name=r))  # type: ignore[call-overload]
            self.clients[key] = factory(*key)
        return self.clients[key]

    def verify_account(self) -> str:
        """Refuse unless the credentials are for the stack's account; the first AWS call of every command."""
        try:
            identity = self.client("sts").get_caller_identity()
        except (ClientError, BotoCoreError) as exc:
            raise OpsError(f"cannot verify the AWS account with STS: {exc}") from None
        account = identity["Account"]
        if account != self.stack.account_id:
            raise WrongAccount(
                f"refusing to run: the credentials are for account {account} ({identity.get('Arn', '?')}), "
                f"stack '{self.stack.name}' is account {self.stack.account_id} (environment.accountId)")
        self.account_verified = True
        return account

    def waiter(self, client: Any, name: str, timeout_seconds: float) -> tuple[Any, dict[str, int]]:
        return client.get_waiter(name), self.wait.config(timeout_seconds)

    @contextmanager
    def progress(self, message: str) -> Iterator[None]:
        """A spinner with the elapsed time while a long wait runs."""
        with self.console.status(message, spinner="dots"):
            yield
