"""How much slower is the offline render than the Pulumi SDK alone? One run, both measured side by side.

    python scripts/bench_render.py [stack] [--runs N] [--max-ratio R]

- **SDK floor:** the registrations recorded from a render of the stack, replayed as bare
  ``pulumi.ProviderResource`` / ``CustomResource`` / ``ComponentResource`` registrations (same types,
  names, inputs with their secrets, parents, providers, ``protect`` and ``dependsOn``) under the SDK's
  own ``MockMonitor`` with the same mocks: no configuration, no pydantic, no components, no invokes,
  no recorder. That is what the SDK needs to register those resources. It runs in the render's own
  runtime context (``offline.engine.mocked_runtime`` with a counting monitor in place of the recorder),
  so the event loop, mock engine and the render's GC threshold are the same for both.
- **Render:** ``offline.engine.run_stack(stack)``, the real program under the recording monitor (what
  ``python -m offline preview`` does before it prints and writes the plan).

Imports are excluded from both, consistently: a first, untimed render imports everything the program
uses (``config``, the components, pydantic and every SDK provider module the program touches), so
both measurements then run with the same SDK modules already imported (the first render's time,
imports included, is printed for information, outside the ratio). The two are measured alternately,
``--runs`` times each (default 5), and their medians compared, so a busy machine slows both alike.

Exit code: 0, or 1 when ``--max-ratio`` is given and the median ratio is above it, or when the replay
did not register exactly the render's resources (the floor would be meaningless); 2 for bad usage.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Never

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pulumi  # noqa: E402
from google.protobuf import json_format  # noqa: E402
from pulumi.runtime.mocks import MockMonitor  # noqa: E402
from pulumi.runtime.stack import run_pulumi_func  # noqa: E402
from pulumi.runtime.sync_await import _sync_await  # noqa: E402
from rich.console import Console  # noqa: E402

from offline.engine import (  # noqa: E402
    RESOURCE_SIG,
    SECRET_SIG,
    SIG_KEY,
    STACK_TYPE,
    Plan,
    Registration,
    mocked_runtime,
    run_stack,
)
from offline.mocks import CarePlatformMocks  # noqa: E402
from offline.stackfile import StackFileError, available_stacks  # noqa: E402

EXIT_OK, EXIT_SLOW, EXIT_USAGE = 0, 1, 2


class CountingMonitor(MockMonitor):
    """The SDK's mock monitor, counting registrations by type (to prove the replay matches the render)."""

    def __init__(self, mocks: CarePlatformMocks) -> None:
        super().__init__(mocks)
        self.types: Counter[str] = Counter()

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        self.types[request.type] += 1
        return super().RegisterResource(request)


class _Secret:
    """A secret input value, wrapped in ``Output.secret`` when the replay registers it."""

    def __init__(self, value: Any) -> None:
        self.value = value


def _wire_to_python(value: Any) -> tuple[Any, bool]:
    """Wire JSON -> plain inputs (resource references by URN); returns (value, contains a secret)."""
    if isinstance(value, dict):
        sig = value.get(SIG_KEY)
        if sig == SECRET_SIG:
            inner, _ = _wire_to_python(value.get("value"))
            return _Secret(inner), True
        if sig == RESOURCE_SIG:
            return value.get("urn"), False
        secret = False
        result = {}
        for key, item in value.items():
            result[key], has = _wire_to_python(item)
            secret = secret or has
        return result, secret
    if isinstance(value, list):
        items = [_wire_to_python(item) for item in value]
        return [item for item, _ in items], any(has for _, has in items)
    return value, False


def _with_secrets(value: Any) -> Any:
    if isinstance(value, _Secret):
        return pulumi.Output.secret(value.value)
    if isinstance(value, dict):
        return {key: _with_secrets(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_with_secrets(item) for item in value]
    return value


@dataclass
class Replayed:
    registration: Registration
    props: dict[str, Any]
    has_secret: bool
    provider_urn: str


def _replay_order(resources: list[Registration]) -> list[Registration]:
    """Parents, providers and dependencies before the resources that name them (as a program must)."""
    by_urn = {r.urn: r for r in resources}
    done: set[str] = set()
    order: list[Registration] = []

    def visit(resource: Registration) -> None:
        if resource.urn in done:
            return
        done.add(resource.urn)
        needs = [resource.parent, resource.provider.rsplit("::", 1)[0], *resource.dependencies]
        for urn in needs:
            if urn in by_urn:
                visit(by_urn[urn])
        order.append(resource)

    for resource in resources:
        visit(resource)
    return order


def replay_program(plan: Plan) -> Callable[[], None]:
    """A program that registers the plan's resources as bare SDK resources: no program logic at all."""
    prepared = []
    for registration in _replay_order(plan.resources):
        props, has_secret = _wire_to_python(json_format.MessageToDict(registration.wire_inputs))
        prepared.append(Replayed(registration, props, has_secret, registration.provider.rsplit("::", 1)[0]))

    def program() -> None:
        created: dict[str, pulumi.Resource] = {}
        for item in prepared:
            r = item.registration
            props = _with_secrets(item.props) if item.has_secret else item.props
            opts = pulumi.ResourceOptions(
                parent=created.get(r.parent), protect=r.protect or None,
                provider=created.get(item.provider_urn) if item.provider_urn else None,  # type: ignore[arg-type]
                depends_on=[created[urn] for urn in r.dependencies if urn in created] or None,
            )
            resource: pulumi.Resource
            if r.is_provider:
                resource = pulumi.ProviderResource(r.type.split(":")[-1], r.name, props, opts)
            elif r.custom:
                resource = pulumi.CustomResource(r.type, r.name, props, opts)
            else:
                component = pulumi.ComponentResource(r.type, r.name, None, opts)
                component.register_outputs({})
                resource = component
            created[r.urn] = resource

    return program


@dataclass
class Sample:
    wall: float
    cpu: float  # the process's CPU time (all threads): steadier than wall time on a busy machine


@contextmanager
def _measure(samples: list[Sample]) -> Iterator[None]:
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    samples.append(Sample(time.perf_counter() - wall, time.process_time() - cpu))


def time_floor(plan: Plan, program: Callable[[], None], samples: list[Sample]) -> Counter[str]:
    """Run the replay under the SDK's mock engine; return the types it registered (the root stack aside)."""
    with _measure(samples), mocked_runtime(plan.stack, {}, [], plan.project, monitor_class=CountingMonitor) as monitor:
        _sync_await(run_pulumi_func(program))
    monitor.types.pop(STACK_TYPE, None)
    return monitor.types


def time_render(stack: str, samples: list[Sample]) -> None:
    with _measure(samples):
        run_stack(stack)


def _seconds(samples: list[Sample]) -> str:
    wall, cpu = [s.wall for s in samples], [s.cpu for s in samples]
    return (f"{statistics.median(wall):.3f} s (min {min(wall):.3f}, max {max(wall):.3f}); "
            f"CPU {statistics.median(cpu):.3f} s")


def _ratio(renders: list[Sample], floors: list[Sample], attr: str) -> float:
    return statistics.median(getattr(s, attr) for s in renders) / statistics.median(getattr(s, attr) for s in floors)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Never:  # one line, not the usage block
        Console(stderr=True, highlight=False, soft_wrap=True).print(f"error: {message}", markup=False)
        sys.exit(EXIT_USAGE)


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="python scripts/bench_render.py",
                     description="Median time of the offline render against the Pulumi SDK alone registering "
                                 "the same resources, and their ratio.")
    parser.add_argument("stack", nargs="?", default="prod", help="the stack to render (default: prod)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each (default: 5; the median counts)")
    parser.add_argument("--max-ratio", type=float, default=None,
                        help="exit 1 when render / SDK floor is above this (the goal of issue #10 is 2.0)")
    args = parser.parse_args(argv)
    console = Console(highlight=False, soft_wrap=True)
    if args.runs < 1:
        parser.error(f"--runs must be at least 1, not {args.runs}")
    if args.stack not in available_stacks():
        parser.error(f"unknown stack {args.stack!r}; stacks here: {', '.join(available_stacks())}")

    start = time.perf_counter()
    try:
        plan = run_stack(args.stack)  # untimed: imports the program, config, components and SDK modules
    except StackFileError as exc:
        console.print(f"error: {exc}", markup=False)
        return EXIT_USAGE
    first = time.perf_counter() - start
    program = replay_program(plan)
    floors: list[Sample] = []
    renders: list[Sample] = []
    for _ in range(args.runs):
        types = time_floor(plan, program, floors)
        if dict(sorted(types.items())) != plan.counts():
            console.print(f"error: the replay registered {sum(types.values())} resources, not the render's "
                          f"{len(plan.resources)} of the same types; the floor is not comparable", markup=False)
            return EXIT_SLOW
        time_render(args.stack, renders)
    ratio = _ratio(renders, floors, "wall")

    console.print(f"[bold]bench {args.stack}[/]: {len(plan.resources)} resources, median of {args.runs} runs each; "
                  f"imports excluded from both (first render, untimed, with imports: {first:.3f} s)")
    console.print(f"  SDK floor (the same registrations replayed as bare SDK resources): {_seconds(floors)}")
    console.print(f"  offline render (offline.engine.run_stack):                        {_seconds(renders)}")
    console.print(f"  ratio render / SDK floor: [bold]{ratio:.2f}[/] (wall time; CPU time: "
                  f"{_ratio(renders, floors, 'cpu'):.2f})")
    if args.max_ratio is not None and ratio > args.max_ratio:
        console.print(f"[red]the render takes {ratio:.2f} times the SDK floor, above the maximum {args.max_ratio}[/]")
        return EXIT_SLOW
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
