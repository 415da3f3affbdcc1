"""scripts/bench_render.py: its SDK floor registers exactly what the render registers (else the ratio means nothing).

Not a timed test: it checks the replay and the usage errors, never a duration.
"""

from __future__ import annotations

import pytest

from offline.engine import run
from scripts.bench_render import main, replay_program
from tests.helpers import rendered_stack


def test_the_replay_registers_the_renders_resources_with_the_same_inputs() -> None:
    plan = rendered_stack("prod")
    replayed = run(replay_program(plan), stack=plan.stack, values={}, secret_keys=[], project=plan.project)
    assert len(replayed.resources) == len(plan.resources) == 711
    # URN (so type, name and parent chain), custom, protect, provider, dependencies and (masked) inputs
    assert [r.to_json() for r in replayed.resources] == [r.to_json() for r in plan.resources]
    # plain values, not Outputs: the floor carries no per-input dependencies (the data flow is program logic)
    assert [r.property_dependencies for r in replayed.resources if r.property_dependencies] == []


@pytest.mark.parametrize(("argv", "message"), [
    (["qa"], "unknown stack 'qa'; stacks here: dev, staging, prod"),
    (["prod", "--runs", "0"], "--runs must be at least 1, not 0"),
    (["prod", "--max-ratio", "two"], "argument --max-ratio: invalid float value: 'two'"),
])
def test_bad_usage_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert capsys.readouterr().err == f"error: {message}\n"
