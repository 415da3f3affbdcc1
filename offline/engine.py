"""Run the real program (or a piece of it) under the Pulumi SDK's own mock engine and record it.

``RecordingMonitor`` is the SDK's ``MockMonitor`` plus a log of every registration exactly as the
engine would receive it: URN, type, name, parent, dependencies, protect, provider and inputs. The
inputs are kept twice: as the wire ``Struct`` (what the policy pack is sent) and as plain JSON with
secrets masked (what the plan file and the tests read).
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import json
import runpy
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, overload

import pulumi
import pulumi.runtime
import pulumi.runtime.config as runtime_config
import pulumi.runtime.settings as runtime_settings
from google.protobuf import json_format, struct_pb2
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from offline.mocks import CarePlatformMocks
from offline.stackfile import ROOT, StackFileConfig, load_stack_file

SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"

MASK = "[secret]"
COMPUTED = "<computed>"

STACK_TYPE = "pulumi:pulumi:Stack"


def plain(value: Any, *, mask: bool = True) -> Any:
    """Wire values as plain JSON: secrets masked (or unwrapped), unknowns shown as computed."""
    if isinstance(value, dict):
        sig = value.get(SIG_KEY)
        if sig == SECRET_SIG:
            return MASK if mask else plain(value.get("value"), mask=mask)
        if sig == RESOURCE_SIG:
            return value.get("urn")
        return {k: plain(v, mask=mask) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v, mask=mask) for v in value]
    if value == UNKNOWN:
        return COMPUTED
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


@dataclass
class Registration:
    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    protect: bool
    provider: str
    dependencies: list[str]
    inputs: dict[str, Any]
    wire_inputs: struct_pb2.Struct = field(repr=False)
    id: str = ""
    #: input name -> the URNs that input's value came from (what the engine gives AnalyzeStack)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)

    @property
    def is_provider(self) -> bool:
        return self.type.startswith("pulumi:providers:")

    def unmasked_inputs(self) -> dict[str, Any]:
        return plain(json_format.MessageToDict(self.wire_inputs), mask=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn, "type": self.type, "name": self.name, "parent": self.parent,
            "custom": self.custom, "protect": self.protect, "provider": self.provider,
            "dependencies": sorted(self.dependencies), "inputs": nest_json(self.inputs),
        }


#: In plan.json, a string input that holds a JSON document (an IAM, bucket or key policy) is stored as
#: ``{"@json": <the document>}`` so that a one-word change is a one-line diff. Only strings that are exactly
#: ``json.dumps(<document>)`` are wrapped (the document keeps its key order), so ``unnest_json`` gives back
#: the very string the program passed.
JSON_DOCUMENT = "@json"


def nest_json(value: Any) -> Any:
    """Plan-file form: JSON documents held in strings become nested ``{"@json": ...}``; mappings sorted."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            parsed = json.loads(value)
        except ValueError:
            return value
        if isinstance(parsed, dict | list) and json.dumps(parsed) == value:
            return {JSON_DOCUMENT: parsed}
        return value
    if isinstance(value, dict):
        return {k: nest_json(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [nest_json(v) for v in value]
    return value


def unnest_json(value: Any) -> Any:
    """The inverse of :func:`nest_json`: every ``{"@json": document}`` back to ``json.dumps(document)``."""
    if isinstance(value, dict):
        if set(value) == {JSON_DOCUMENT}:
            return json.dumps(value[JSON_DOCUMENT])
        return {k: unnest_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unnest_json(v) for v in value]
    return value


def _sorted_keys(value: Any) -> Any:
    """Every mapping's keys sorted, except inside a wrapped JSON document (its order is the program's)."""
    if isinstance(value, dict):
        if set(value) == {JSON_DOCUMENT}:
            return value
        return {k: _sorted_keys(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [_sorted_keys(v) for v in value]
    return value


class RecordingMonitor(MockMonitor):
    """The SDK's mock monitor, recording every registration (duplicates too: they are an error)."""

    def __init__(self, mocks: CarePlatformMocks) -> None:
        super().__init__(mocks)
        self.registrations: list[Registration] = []
        self._mocks = mocks

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        raw = json_format.MessageToDict(request.object)
        inputs = plain(raw)
        if request.type.startswith("pulumi:providers:"):
            self._mocks.provider_registered(f"{response.urn}::{response.id}", plain(raw, mask=False))
        self.registrations.append(Registration(
            urn=response.urn, type=request.type, name=request.name, parent=request.parent,
            custom=bool(request.custom), protect=bool(request.protect), provider=request.provider,
            dependencies=list(request.dependencies), inputs=inputs, wire_inputs=request.object,
            id=response.id,
            property_dependencies={key: sorted(deps.urns) for key, deps in request.propertyDependencies.items()
                                   if deps.urns},
        ))
        return response


class DuplicateUrnError(Exception):
    pass


@dataclass
class Plan:
    project: str
    stack: str
    resources: list[Registration]
    outputs: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_]

    def named(self, name: str) -> Registration:
        matches = [r for r in self.resources if r.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources named {name!r}")
        return matches[0]

    def by_urn(self, urn: str) -> Registration:
        return next(r for r in self.resources if r.urn == urn)

    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(r.type for r in self.resources).items()))

    def to_json(self) -> str:
        """Deterministic: resources sorted by URN, keys sorted (but inside JSON documents, which keep the
        program's order), stable separators; JSON documents in string inputs nested (see ``nest_json``)."""
        document = {
            "project": self.project,
            "stack": self.stack,
            "resourceCount": len(self.resources),
            "counts": self.counts(),
            "outputs": self.outputs,
            "resources": [r.to_json() for r in sorted(self.resources, key=lambda r: r.urn)],
        }
        return json.dumps(_sorted_keys(document), indent=2) + "\n"

    def digest(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()


class ProgramError(Exception):
    """The program (not its configuration) failed while it ran under the mock engine."""


def _resolve(value: Any) -> Any:
    output = pulumi.Output.from_input(value)
    known = _sync_await(output.is_known())
    secret = _sync_await(output.is_secret())
    if secret:
        return MASK
    if not known:
        return COMPUTED
    resolved = _sync_await(output.future())
    return _jsonable(resolved)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, pulumi.Output):
        return _resolve(value)
    return value


#: Python's cyclic garbage collector during a render: the SDK keeps thousands of Outputs, futures and asyncio
#: tasks alive at once, so with the default first threshold (700 allocations) every young collection walks
#: them all again (prod: ~200 collections, about a fifth of the render's CPU time). Everything a render creates
#: is freed when it ends, so collecting rarely costs little memory. Restored when the run ends.
RENDER_GC_THRESHOLD = (50_000, 20, 20)

AnyMonitor = TypeVar("AnyMonitor", bound=MockMonitor)


@overload
def mocked_runtime(stack: str, values: dict[str, str], secret_keys: list[str],
                   project: str = ...) -> AbstractContextManager[RecordingMonitor]: ...


@overload
def mocked_runtime(stack: str, values: dict[str, str], secret_keys: list[str], project: str = ..., *,
                   monitor_class: Callable[[CarePlatformMocks], AnyMonitor]) -> AbstractContextManager[AnyMonitor]: ...


@contextmanager
def mocked_runtime(stack: str, values: dict[str, str], secret_keys: list[str], project: str = "care-platform", *,
                   monitor_class: Callable[[CarePlatformMocks], MockMonitor] = RecordingMonitor,
                   ) -> Iterator[Any]:
    """A fresh event loop, config and mock engine (``monitor_class(mocks)``, the recorder unless told), with
    the render's GC threshold; the previous runtime state and GC threshold restored afterwards."""
    previous_loop = None
    with suppress(RuntimeError):
        previous_loop = asyncio.get_event_loop_policy().get_event_loop()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    saved_config = runtime_config.CONFIG.get()
    saved_secrets = runtime_config._SECRET_KEYS.get()
    saved_gc = gc.get_threshold()
    mocks = CarePlatformMocks()
    monitor = monitor_class(mocks)
    try:
        gc.set_threshold(*RENDER_GC_THRESHOLD)
        runtime_config.set_all_config(dict(values), list(secret_keys))
        runtime_settings.set_root_resource(None)  # type: ignore[arg-type]
        pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=True, monitor=monitor)
        yield monitor
    finally:
        runtime_settings.set_root_resource(None)  # type: ignore[arg-type]
        runtime_config.CONFIG.set(saved_config)
        runtime_config._SECRET_KEYS.set(saved_secrets)
        loop.close()
        asyncio.set_event_loop(previous_loop)
        gc.set_threshold(*saved_gc)


def run(program: Callable[[], Any], *, stack: str, values: dict[str, str], secret_keys: list[str],
        project: str = "care-platform", notes: list[str] | None = None) -> Plan:
    """Run ``program`` under mocks and return everything it registered, and its exports."""
    with mocked_runtime(stack, values, secret_keys, project) as monitor:
        _sync_await(run_pulumi_func(program))
        root = runtime_settings.get_root_resource()
        exports = getattr(root, "outputs", {}) or {}
        outputs = {name: _resolve(value) for name, value in sorted(exports.items())}
    urns = Counter(r.urn for r in monitor.registrations)
    duplicates = sorted(urn for urn, n in urns.items() if n > 1)
    if duplicates:
        raise DuplicateUrnError("the program registered these URNs more than once: " + ", ".join(duplicates))
    # Sorted by URN: the mock monitor sees registrations in whatever order the SDK's RPC threads run, and
    # everything downstream (the pack, reports, tests that pick "the first" of a type) must not depend on it.
    resources = sorted((r for r in monitor.registrations if r.type != STACK_TYPE), key=lambda r: r.urn)
    return Plan(project=project, stack=stack, resources=resources, outputs=outputs, notes=list(notes or []))


def run_stack(stack: str, root: Path = ROOT) -> Plan:
    """Run the real ``__main__.py`` with ``Pulumi.<stack>.yaml``, as ``pulumi preview`` would."""
    stack_file: StackFileConfig = load_stack_file(stack, root)
    program_path = root / "__main__.py"

    def program() -> None:
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))
        # As the Pulumi language host runs it (pulumi/pulumi sdk/python/cmd/pulumi-language-python-exec:
        # `runpy.run_path(args.PROGRAM, run_name='__main__')`); a bare exec() would save 3 stack frames per
        # resource (~2 % of the render, issue #10's profile) but would not run the program the same way.
        runpy.run_path(str(program_path), run_name="__main__")

    return run(program, stack=stack, values=stack_file.values, secret_keys=stack_file.secret_keys,
               project=stack_file.project, notes=stack_file.notes)
