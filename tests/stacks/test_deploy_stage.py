"""Every stack passes the deploy stage: the second pack (policies/deploy) over the real rendered plans, with
zero mandatory violations. Everything `pulumi up` would reject is mandatory in every stack, so the three
config files are the same; one pack process (configured from prod's) analyzes all three plans."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from offline.policy import PolicyPackSession, open_session
from offline.stackfile import ROOT
from tests.helpers import rendered_stack

STACKS = ["dev", "staging", "prod"]
DEPLOY_DIR = ROOT / "policies" / "deploy"


def test_every_stack_configures_the_deploy_stage_the_same_way() -> None:
    configs = {s: json.loads((DEPLOY_DIR / "config" / f"{s}.json").read_text()) for s in STACKS}
    assert configs["dev"] == configs["staging"] == configs["prod"] == {
        "all": "mandatory", "version-end-of-support-soon": "advisory"}


@pytest.fixture(scope="module")
def deploy_pack() -> Iterator[PolicyPackSession]:
    with open_session(rendered_stack("prod"), "prod", pack_dir=DEPLOY_DIR) as pack:
        yield pack


@pytest.mark.parametrize("stack", STACKS)
def test_the_stack_has_no_deploy_stage_violation(stack: str, deploy_pack: PolicyPackSession) -> None:
    report = deploy_pack.analyze(rendered_stack(stack))
    assert [(v.policy, v.resource_name, v.detail) for v in report.mandatory] == []
