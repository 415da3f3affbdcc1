"""``python -m offline diff BASE HEAD``: the exact Markdown for a small before/after."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from offline.__main__ import main
from offline.diff import REPLACE_ON_CHANGE, render, replacing_paths


def _res(type_: str, name: str, inputs: dict, **extra) -> dict:
    urn = f"urn:pulumi:dev::care-platform::{type_}::{name}"
    return {"urn": urn, "type": type_, "name": name, "parent": "", "custom": True, "protect": False,
            "provider": "", "dependencies": [], "inputs": inputs, **extra}


DB = "aws:rds/instance:Instance"
ROLE = "aws:iam/role:Role"
BUCKET = "aws:s3/bucket:Bucket"
CACHE = "aws:elasticache/replicationGroup:ReplicationGroup"


def _plan(resources: list[dict]) -> dict:
    return {"project": "care-platform", "stack": "dev", "resourceCount": len(resources), "counts": {},
            "outputs": {}, "resources": resources}


BEFORE = _plan([
    _res(DB, "prm-db", {"engine": "postgres", "instanceClass": "db.r6g.large", "password": "[secret]"}),
    _res(ROLE, "ci-deploy", {"assumeRolePolicy": {"@json": {"Statement": [{"Condition": {"StringEquals": {
        "token.actions.githubusercontent.com:sub": "repo:acme/care:environment:dev"}}}]}}}),
    _res(CACHE, "redis", {"replicationGroupId": "care-dev-redis", "authToken": "[secret]"}),
    _res("aws:sns/topic:Topic", "old-topic", {"name": "old"}),
])
AFTER = _plan([
    _res(DB, "prm-db", {"engine": "aurora-postgresql", "instanceClass": "db.r6g.xlarge", "password": "[secret]"}),
    _res(ROLE, "ci-deploy", {"assumeRolePolicy": {"@json": {"Statement": [{"Condition": {"StringEquals": {
        "token.actions.githubusercontent.com:sub": "repo:acme/care:environment:prod"}}}]}}}),
    _res(CACHE, "redis", {"replicationGroupId": "care-dev-redis", "authToken": "[secret]",
                          "description": "sessions"}),
    _res(BUCKET, "reports", {"bucket": "care-dev-reports"}),
])

EXPECTED = """\
## Infrastructure changes (offline plan)

### Stack `dev`

1 to add, 2 to change, 1 to replace, 1 to remove (4 resources before, 4 after)

**Stateful resources replaced or removed: their data is lost unless restored. Check `pulumi preview` below.**

#### Added

- `aws:s3/bucket:Bucket` `reports`

#### Removed

- `aws:sns/topic:Topic` `old-topic`

#### Changed

- `aws:elasticache/replicationGroup:ReplicationGroup` `redis`
  - `description`: added `"sessions"`
- `aws:iam/role:Role` `ci-deploy`
  - `assumeRolePolicy.Statement[0].Condition.StringEquals["token.actions.githubusercontent.com:sub"]`: \
`"repo:acme/care:environment:dev"` → `"repo:acme/care:environment:prod"`
- **`aws:rds/instance:Instance` `prm-db`: replaced (stateful; `engine` forces a new resource)**
  - `engine`: `"postgres"` → `"aurora-postgresql"`
  - `instanceClass`: `"db.r6g.large"` → `"db.r6g.xlarge"`
"""


@pytest.fixture
def plans(tmp_path: Path) -> tuple[Path, Path]:
    base, head = tmp_path / "base.json", tmp_path / "head.json"
    base.write_text(json.dumps(BEFORE))
    head.write_text(json.dumps(AFTER))
    return base, head


def test_exact_markdown_for_a_small_before_and_after(plans: tuple[Path, Path]) -> None:
    assert render(*plans) == EXPECTED


def test_the_cli_prints_it(plans: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", str(plans[0]), str(plans[1])]) == 0
    assert capsys.readouterr().out == EXPECTED


def test_a_secret_input_is_masked_even_when_the_plan_did_not_mask_it(tmp_path: Path) -> None:
    base, head = tmp_path / "a.json", tmp_path / "b.json"
    base.write_text(json.dumps(_plan([_res(CACHE, "redis", {"authToken": "hunter2"})])))
    head.write_text(json.dumps(_plan([_res(CACHE, "redis", {"authToken": "swordfish"})])))
    text = render(base, head)
    assert "  - `authToken`: changed (secret: value masked)\n" in text
    assert "hunter2" not in text and "swordfish" not in text


def test_removed_stateful_resource_is_bold(tmp_path: Path) -> None:
    base, head = tmp_path / "a.json", tmp_path / "b.json"
    base.write_text(json.dumps(_plan([_res(BUCKET, "phi", {"bucket": "x"})])))
    head.write_text(json.dumps(_plan([])))
    assert "- **`aws:s3/bucket:Bucket` `phi` (stateful: removed)**\n" in render(base, head)


def test_build_directories_add_policy_findings_and_the_cost_delta(tmp_path: Path) -> None:
    for side, plan, cost in (("base", BEFORE, "Total: $1,000.00 / month"), ("head", AFTER, "Total: $1,250.50")):
        stack = tmp_path / side / "dev"
        stack.mkdir(parents=True)
        (stack / "plan.json").write_text(json.dumps(plan))
        (stack / "cost.md").write_text(f"# Cost\n\n{cost}\n")
    (tmp_path / "head" / "dev" / "compliance.md").write_text(
        "# x\n- PASS `a` (t)\n- FAIL `prm-db` (aws:rds/instance:Instance): not Multi-AZ\n")
    (tmp_path / "head" / "dev" / "deploy.md").write_text("- WARN `redis` (t): old engine\n")
    text = render(tmp_path / "base", tmp_path / "head")
    assert text.endswith(
        "#### Policy findings\n\n1 mandatory (FAIL), 1 advisory (WARN).\n\n"
        "- FAIL `prm-db` (aws:rds/instance:Instance): not Multi-AZ (compliance.md)\n\n"
        "<details><summary>Advisory findings</summary>\n\n- WARN `redis` (t): old engine (deploy.md)\n\n</details>\n\n"
        "Estimated monthly cost: $1,000.00 → $1,250.50 (+$250.50)\n")


def test_identical_plans_say_so(plans: tuple[Path, Path]) -> None:
    assert render(plans[0], plans[0]).endswith("### Stack `dev`\n\nNo changes (4 resources).\n")


def test_a_missing_plan_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", str(tmp_path / "nope.json"), str(tmp_path / "nope.json")]) == 2
    assert capsys.readouterr().err.strip() == f"error: {tmp_path / 'nope.json'}: no such file or directory"


def test_replacement_paths_cover_nested_inputs() -> None:
    assert replacing_paths("aws:msk/cluster:Cluster", ["brokerNodeGroupInfo.clientSubnets[1]", "kafkaVersion"]) \
        == ["brokerNodeGroupInfo.clientSubnets"]
    assert replacing_paths("aws:rds/instance:Instance", ["allocatedStorage", "multiAz"]) == []
    assert set(REPLACE_ON_CHANGE) >= {DB, CACHE, BUCKET, "aws:kms/key:Key", "aws:eks/cluster:Cluster",
                                      "kubernetes:core/v1:PersistentVolumeClaim"}
