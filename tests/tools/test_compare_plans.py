"""scripts/compare_plans.py: identical when only URNs and parents moved; every other change reported exactly."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from scripts.compare_plans import main

PREFIX = "urn:pulumi:prod::care-platform::"
PROVIDER = f"{PREFIX}pulumi:providers:aws::aws-primary::aws-primary-provider-id"
DR_PROVIDER = f"{PREFIX}pulumi:providers:aws::aws-dr::aws-dr-provider-id"
POLICY: dict[str, Any] = {"Version": "2012-10-17",
          "Statement": [{"Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def _resource(urn: str, parent: str, *, custom: bool = True, provider: str = "", protect: bool = False,
              dependencies: list[str] | None = None, inputs: dict[str, Any] | None = None) -> dict[str, Any]:
    qualified, name = urn[len(PREFIX):].split("::")
    return {"urn": urn, "type": qualified.split("$")[-1], "name": name, "parent": parent, "custom": custom,
            "protect": protect, "provider": provider, "dependencies": dependencies or [], "inputs": inputs or {}}


def _plan(security_parent: str = "care:eks:EksCluster") -> dict[str, Any]:
    """A small prod plan: two components, a role, a key and a cluster that depends on both."""
    root = f"{PREFIX}pulumi:pulumi:Stack::care-platform-prod"
    eks = f"{PREFIX}care:eks:EksCluster::care-prod-eks"
    sec = f"{PREFIX}care:security:Security::care-prod-security"
    role_parent = eks if security_parent == "care:eks:EksCluster" else sec
    role = f"{PREFIX}{security_parent}$aws:iam/role:Role::care-prod-eks-cluster-role"
    key = f"{PREFIX}care:eks:EksCluster$aws:kms/key:Key::care-prod-eks-key"
    cluster = f"{PREFIX}care:eks:EksCluster$aws:eks/cluster:Cluster::care-prod-eks"
    resources = [
        _resource(eks, root, custom=False),
        _resource(sec, root, custom=False),
        _resource(role, role_parent, provider=PROVIDER,
                  inputs={"name": "care-prod-eks-cluster-role", "assumeRolePolicy": json.dumps(POLICY)}),
        _resource(key, eks, provider=PROVIDER, protect=True, inputs={"enableKeyRotation": True}),
        _resource(cluster, eks, provider=PROVIDER, dependencies=[role, key],
                  inputs={"name": "care-prod-eks",
                          "roleArn": "arn:aws:iam::333333333333:role/care-prod-eks-cluster-role", "version": "1.31",
                          "tags": {"Name": "care-prod-eks", "kubernetes.io/cluster": "owned"}}),
    ]
    resources.sort(key=lambda r: r["urn"])
    return {"project": "care-platform", "stack": "prod", "resourceCount": len(resources),
            "counts": {}, "outputs": {"clusterName": "care-prod-eks"}, "resources": resources}


def _find(plan: dict[str, Any], name: str) -> dict[str, Any]:
    return next(r for r in plan["resources"] if r["name"] == name)


def _write(tmp_path: Path, label: str, plan: dict[str, Any], stack: str = "prod") -> Path:
    path = tmp_path / label / stack / "plan.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(plan, indent=2, sort_keys=True))
    return path


def _compare(tmp_path: Path, before: dict[str, Any], after: dict[str, Any],
             capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    _write(tmp_path, "before", before)
    _write(tmp_path, "after", after)
    code = main([str(tmp_path / "before"), str(tmp_path / "after")])
    return code, capsys.readouterr().out.splitlines()


@pytest.fixture(autouse=True)
def _no_colour(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("FORCE_COLOR", raising=False)


def test_a_resource_moved_under_another_component_is_identical(tmp_path: Path, capsys) -> None:
    before, after = _plan(), _plan(security_parent="care:security:Security")
    role = _find(after, "care-prod-eks-cluster-role")
    assert role["urn"] != _find(before, "care-prod-eks-cluster-role")["urn"]  # the URN and parent really moved
    assert role["urn"] in _find(after, "care-prod-eks")["dependencies"]
    assert main([str(_write(tmp_path, "a", before)), str(_write(tmp_path, "b", after))]) == 0
    assert capsys.readouterr().out.splitlines() == ["prod: identical (5 resources)"]


def test_a_json_document_held_as_a_string_equals_the_same_document_nested(tmp_path: Path, capsys) -> None:
    after = _plan()
    _find(after, "care-prod-eks-cluster-role")["inputs"]["assumeRolePolicy"] = copy.deepcopy(POLICY)
    assert _compare(tmp_path, _plan(), after, capsys) == (0, ["prod: identical (5 resources)"])


def test_a_changed_input_is_reported_by_path(tmp_path: Path, capsys) -> None:
    after = _plan()
    cluster = _find(after, "care-prod-eks")
    cluster["inputs"]["version"] = "1.32"
    cluster["inputs"]["tags"]["kubernetes.io/cluster"] = "shared"
    policy = copy.deepcopy(POLICY)
    policy["Statement"][0]["Action"] = "sts:TagSession"
    _find(after, "care-prod-eks-cluster-role")["inputs"]["assumeRolePolicy"] = policy  # nested after, string before
    assert _compare(tmp_path, _plan(), after, capsys) == (1, [
        "prod: 2 difference(s) (5 resources before, 5 after)",
        "  changed  aws:eks/cluster:Cluster care-prod-eks",
        '      inputs.tags["kubernetes.io/cluster"]: "owned" -> "shared"',
        '      inputs.version: "1.31" -> "1.32"',
        "  changed  aws:iam/role:Role care-prod-eks-cluster-role",
        '      inputs.assumeRolePolicy.Statement[0].Action: "sts:AssumeRole" -> "sts:TagSession"',
    ])


def test_an_added_resource_and_a_renamed_one_are_reported(tmp_path: Path, capsys) -> None:
    after = _plan()
    extra = copy.deepcopy(_find(after, "care-prod-eks-key"))
    extra["urn"] = extra["urn"].replace("care-prod-eks-key", "care-prod-eks-logs-key")
    extra["name"] = "care-prod-eks-logs-key"
    after["resources"].append(extra)
    _find(after, "care-prod-eks")["name"] = "care-prod-cluster"
    assert _compare(tmp_path, _plan(), after, capsys) == (1, [
        "prod: 3 difference(s) (5 resources before, 6 after)",
        "  added    aws:eks/cluster:Cluster care-prod-cluster",
        "  removed  aws:eks/cluster:Cluster care-prod-eks",
        "  added    aws:kms/key:Key care-prod-eks-logs-key",
    ])


def test_protect_provider_and_custom_changes_are_reported(tmp_path: Path, capsys) -> None:
    after = _plan()
    _find(after, "care-prod-eks-key")["protect"] = False
    _find(after, "care-prod-eks-key")["provider"] = DR_PROVIDER
    _find(after, "care-prod-security")["custom"] = True
    assert _compare(tmp_path, _plan(), after, capsys) == (1, [
        "prod: 2 difference(s) (5 resources before, 5 after)",
        "  changed  aws:kms/key:Key care-prod-eks-key",
        '      protect: true -> false',
        '      provider: "pulumi:providers:aws aws-primary" -> "pulumi:providers:aws aws-dr"',
        "  changed  care:security:Security care-prod-security",
        "      custom: false -> true",
    ])


def test_a_retargeted_dependency_and_property_dependency_are_reported(tmp_path: Path, capsys) -> None:
    before, after = _plan(), _plan()
    key_urn = _find(before, "care-prod-eks-key")["urn"]
    role_urn = _find(before, "care-prod-eks-cluster-role")["urn"]
    other = f"{PREFIX}care:security:Security$aws:kms/key:Key::care-prod-audit-key"
    before_cluster, after_cluster = _find(before, "care-prod-eks"), _find(after, "care-prod-eks")
    after_cluster["dependencies"] = [role_urn, other]
    before_cluster["propertyDependencies"] = {"roleArn": [role_urn], "encryptionConfig": [key_urn]}
    moved_role = role_urn.replace("care:eks:EksCluster$", "care:security:Security$")  # a move alone is no change
    after_cluster["propertyDependencies"] = {"roleArn": [moved_role], "encryptionConfig": [other]}
    assert _compare(tmp_path, before, after, capsys) == (1, [
        "prod: 1 difference(s) (5 resources before, 5 after)",
        "  changed  aws:eks/cluster:Cluster care-prod-eks",
        "      dependencies: - aws:kms/key:Key care-prod-eks-key",
        "      dependencies: + aws:kms/key:Key care-prod-audit-key",
        "      propertyDependencies.encryptionConfig: - aws:kms/key:Key care-prod-eks-key",
        "      propertyDependencies.encryptionConfig: + aws:kms/key:Key care-prod-audit-key",
    ])


def test_changed_outputs_and_a_stack_missing_on_one_side_are_differences(tmp_path: Path, capsys) -> None:
    after = _plan()
    after["outputs"]["clusterName"] = "care-prod-cluster"
    _write(tmp_path, "before", _plan(), stack="dev")
    assert _compare(tmp_path, _plan(), after, capsys) == (1, [
        f"dev: no plan in {tmp_path / 'after'}",
        "prod: 1 difference(s) (5 resources before, 5 after)",
        "  changed  outputs",
        '      outputs.clusterName: "care-prod-eks" -> "care-prod-cluster"',
    ])


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "not JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
    ('{"stack": "prod"}', 'not an offline plan (no "resources" list)'),
    ('{"resources": [{"type": "aws:kms/key:Key"}]}', 'resources[0] has no string "type" and "name"'),
])
def test_an_unreadable_plan_is_one_line_and_exit_2(tmp_path: Path, capsys, content: str, message: str) -> None:
    good = _write(tmp_path, "good", _plan())
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    assert main([str(good), str(bad)]) == 2
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", f"error: {bad}: {message}\n")


def test_bad_usage_is_one_line_and_exit_2(tmp_path: Path, capsys) -> None:
    plan = _write(tmp_path, "a", _plan())
    with pytest.raises(SystemExit) as exited:
        main([str(plan)])
    assert exited.value.code == 2
    assert capsys.readouterr().err == "error: the following arguments are required: after\n"
    assert main([str(plan), str(tmp_path)]) == 2
    assert capsys.readouterr().err == (f"error: {plan} and {tmp_path}: give two plan.json files or two "
                                       "directories of <stack>/plan.json\n")
