"""Helpers for the ops tests: scripted clock, moto/Stubber clients, running the CLI."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.stub import Stubber
from rich.console import Console

from ops.cli import main
from ops.context import WaitPolicy

ACCOUNT = "333333333333"  # environment.accountId of Pulumi.prod.yaml
PRIMARY, DR = "us-east-2", "us-west-2"


def utc(hour: int, minute: int = 0, second: int = 0, day: int = 2, month: int = 12) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


class ScriptedClock:
    """Returns the scripted instants one per call, and fails the test if read more often than scripted."""

    def __init__(self, *instants: datetime) -> None:
        self.instants = list(instants)
        self.reads = 0

    def now(self) -> datetime:
        assert self.instants, f"the clock was read more than the {self.reads} scripted times"
        self.reads += 1
        return self.instants.pop(0)


#: One botocore session for every test: service models are parsed once, not per test (moto intercepts the
#: clients of any session: its handler is in botocore's built-in handlers once moto is imported).
SESSION = boto3.session.Session()


class Aws:
    """The clients the commands get: stubbed where registered with :meth:`stub`, moto-backed otherwise."""

    def __init__(self) -> None:
        self.clients: dict[tuple[str, str], Any] = {}
        self.stubbers: list[Stubber] = []
        self.created: list[tuple[str, str]] = []

    def raw(self, service: str, region: str = PRIMARY) -> Any:
        return SESSION.client(service, region_name=region)  # type: ignore[call-overload]

    def stub(self, service: str, region: str = PRIMARY) -> Stubber:
        client = self.raw(service, region)
        stubber = Stubber(client)
        stubber.activate()
        self.clients[(service, region)] = client
        self.stubbers.append(stubber)
        return stubber

    def factory(self, service: str, region: str) -> Any:
        self.created.append((service, region))
        return self.clients.get((service, region)) or self.raw(service, region)

    def assert_all_used(self) -> None:
        for stubber in self.stubbers:
            stubber.assert_no_pending_responses()


class Run:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err


def run(aws: Aws, *argv: str, clock: ScriptedClock | None = None, attempts: int = 3) -> Run:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), clock=clock, client_factory=aws.factory, wait=WaitPolicy(delay_seconds=0,
                max_attempts=attempts), stdout=Console(file=out, width=400), stderr=Console(file=err, width=400))
    return Run(code, out.getvalue(), err.getvalue())
