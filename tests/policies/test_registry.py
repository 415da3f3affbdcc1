"""The pack as a whole: the registry, the README table, the per-stack config files and their rules,
and the thresholds against the stack files the real stacks are rendered from."""

from __future__ import annotations

import json
import re
from pathlib import Path

import common  # noqa: I001  (policies/ is on sys.path via tests.policies.support)
import pytest
import registry_doc
import tags as tag_policies
import yaml

from components.app_service.analysis import ROLLOUTS_API
from tests.policies.support import POLICIES_DIR, REGISTRY

ROOT = POLICIES_DIR.parent
STACKS = ("dev", "staging", "prod")
NEVER_RELAXED = ("encryption", "transit", "exposure", "logging")


def stack_config(stack_name: str) -> dict:
    raw = yaml.safe_load((ROOT / f"Pulumi.{stack_name}.yaml").read_text())["config"]
    return {k.split(":", 1)[1]: v for k, v in raw.items() if k.startswith("care-platform:")} | {
        "regions.aws": raw.get("aws:region")}


def test_the_pack_has_at_least_thirty_kebab_case_policies_across_every_concern() -> None:
    assert len(REGISTRY) >= 30
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name) for name in REGISTRY)
    assert {info.concern for info in REGISTRY.values()} == set(common.CONCERNS)
    assert sum(info.kind == "stack" for info in REGISTRY.values()) >= 4


def test_every_policy_cites_a_hipaa_section_and_describes_itself() -> None:
    for info in REGISTRY.values():
        assert info.citation in common.HIPAA_SECTIONS, info.name
        assert info.description.endswith(".") and len(info.description) > 20, info.name
        assert info.policy.name == info.name
        assert info.policy.enforcement_level.value == "mandatory"
        framework = getattr(info.policy, "framework", None)
        if framework is not None:
            assert framework.reference == info.citation


def test_the_issue_minimum_is_covered() -> None:
    required = {
        "rds-storage-encrypted", "rds-performance-insights-kms", "elasticache-encryption-at-rest",
        "msk-encryption-at-rest", "s3-bucket-sse-kms", "ebs-volume-encrypted", "storage-class-encrypted",
        "eks-secrets-encryption", "log-group-kms", "sns-topic-kms", "backup-vault-kms", "secrets-manager-kms",
        "kms-key-rotation", "elasticache-transit-encryption", "msk-tls-client-broker", "msk-tls-in-cluster",
        "rds-force-ssl", "cloudfront-viewer-https", "cloudfront-tls12", "lb-listener-https",
        "s3-deny-insecure-transport", "rds-multi-az", "elasticache-multi-az", "msk-broker-az-spread",
        "subnet-az-spread", "eks-node-group-az-spread", "app-min-replicas", "app-pod-disruption-budget",
        "rds-backup-retention", "rds-deletion-protection", "rds-final-snapshot", "rds-cross-region-backups",
        "elasticache-snapshot-retention", "backup-plan-retention", "backup-plan-dr-copy", "s3-versioning",
        "stateful-resources-protected", "rds-not-public", "msk-not-public", "sg-no-public-ingress",
        "eks-private-endpoint", "s3-public-access-block", "imdsv2-required", "no-wildcard-principals",
        "vpc-flow-logs", "eks-control-plane-logs", "rds-log-exports", "msk-broker-logs", "cloudfront-logging",
        "waf-logging", "cloudtrail-log-validation", "k8s-resource-limits", "k8s-probes", "k8s-run-as-non-root",
        "k8s-no-privilege-escalation", "k8s-read-only-root-fs", "k8s-no-privileged", "k8s-image-pinned",
        "standard-tags", "stateful-store-backup-coverage", "cloudfront-waf", "kms-keys-in-stack",
    }
    assert required - set(REGISTRY) == set()
    stack_policies = {n for n, i in REGISTRY.items() if i.kind == "stack"}
    assert {"stateful-store-backup-coverage", "vpc-flow-logs", "cloudfront-waf", "kms-keys-in-stack"} <= stack_policies


def test_each_module_exports_its_policies_and_only_main_builds_the_pack() -> None:
    exported = [p.name for m in ("encryption", "transit", "availability", "backup", "exposure", "network_access",
                                 "audit_logging", "k8s_workloads", "tags", "stack", "cost_controls", "baseline",
                                 "conformance_rules")
                for p in __import__(m).POLICIES]
    assert sorted(exported) == sorted(REGISTRY)
    builders = [p.name for p in POLICIES_DIR.glob("*.py") if "PolicyPack(" in p.read_text()]
    assert builders == ["__main__.py"]
    main = (POLICIES_DIR / "__main__.py").read_text()
    assert all(f"*{m}.POLICIES" in main for m in ("encryption", "transit", "availability", "backup", "exposure",
                                                  "network_access", "audit_logging", "k8s_workloads", "tags",
                                                  "stack", "cost_controls", "baseline", "conformance_rules"))


def test_readme_table_is_current_and_has_a_row_per_policy() -> None:
    readme = (POLICIES_DIR / "README.md").read_text()
    assert registry_doc.render(readme) == readme, "run python policies/registry_doc.py"
    generated = readme.split(registry_doc.BEGIN)[1].split(registry_doc.END)[0]
    for info in REGISTRY.values():
        rows = [line for line in generated.splitlines() if line.startswith(f"| `{info.name}` |")]
        assert len(rows) == 1, info.name
        assert info.citation in rows[0]
    command = "pulumi preview --policy-pack policies --policy-pack-config policies/config/<stack>.json -s <stack>"
    assert command in readme


@pytest.mark.parametrize("stack_name", STACKS)
def test_config_file_names_only_policies_with_valid_levels_and_properties(stack_name: str) -> None:
    import jsonschema  # a [project] dependency: its absence is a failure, not a skip
    config = json.loads((POLICIES_DIR / "config" / f"{stack_name}.json").read_text())
    assert config["all"] == "mandatory"
    for name, entry in config.items():
        if name == "all":
            continue
        assert name in REGISTRY, f"{stack_name}.json: unknown policy {name}"
        level = entry if isinstance(entry, str) else entry.get("enforcementLevel", "mandatory")
        assert level in ("advisory", "mandatory", "disabled")
        properties = registry_doc.settings(config, name)
        schema = {"type": "object", "properties": dict(REGISTRY[name].config), "additionalProperties": False}
        jsonschema.validate(properties, schema)


def levels(stack_name: str) -> dict[str, str]:
    config = registry_doc.load_config(stack_name)
    return {name: registry_doc.level(config, name) for name in REGISTRY}


def test_prod_is_all_mandatory() -> None:
    assert set(levels("prod").values()) == {"mandatory"}


@pytest.mark.parametrize("stack_name", ("dev", "staging"))
def test_encryption_transit_exposure_and_logging_are_never_relaxed(stack_name: str) -> None:
    relaxed = {n for n, lvl in levels(stack_name).items()
               if lvl != "mandatory" and REGISTRY[n].concern in NEVER_RELAXED}
    assert relaxed == set()


def test_dev_relaxes_only_availability_and_backup() -> None:
    relaxed = {n for n, lvl in levels("dev").items() if lvl != "mandatory"}
    assert {REGISTRY[n].concern for n in relaxed} == {"availability", "backup"}
    assert {"rds-multi-az", "rds-backup-retention", "stateful-resources-protected"} <= relaxed


def test_staging_is_all_mandatory() -> None:
    assert set(levels("staging").values()) == {"mandatory"}


def _threshold(stack_name: str, policy: str, key: str):
    config = registry_doc.load_config(stack_name)
    return {**REGISTRY[policy].defaults, **registry_doc.settings(config, policy)}[key]


@pytest.mark.parametrize("stack_name", STACKS)
def test_thresholds_are_met_by_the_stack_files(stack_name: str) -> None:
    """Every stack passes its own guardrails once built: the thresholds never exceed the stack's values."""
    cfg = stack_config(stack_name)
    assert min(db["backupRetentionDays"] for db in cfg["database"].values()) >= _threshold(
        stack_name, "rds-backup-retention", "minRetentionDays")
    assert cfg["cache"]["snapshotRetentionDays"] >= _threshold(stack_name, "elasticache-snapshot-retention",
                                                               "minRetentionDays")
    assert cfg["backup"]["retentionDays"] >= _threshold(stack_name, "backup-plan-retention", "minRetentionDays")
    log_days = [cfg["observability"]["logRetentionDays"], cfg["network"]["flowLogs"]["retentionDays"]]
    assert min(log_days) >= _threshold(stack_name, "log-group-retention", "minRetentionDays")
    for policy in ("msk-broker-az-spread", "eks-node-group-az-spread", "subnet-az-spread"):
        assert cfg["network"]["azCount"] >= _threshold(stack_name, policy, "minAzCount"), policy
    assert min(a["minReplicas"] for a in cfg["apps"].values()) >= _threshold(stack_name, "app-min-replicas",
                                                                              "minReplicas")
    for policy in ("backup-plan-dr-copy", "rds-cross-region-backups"):
        assert _threshold(stack_name, policy, "drRegion") == cfg["regions"]["dr"]
    assert _threshold(stack_name, "eks-private-endpoint", "requirePrivateEndpoint") == cfg["eks"].get(
        "requirePrivateEndpoint", True)
    if not cfg["backup"]["vaultLock"]:
        assert _threshold(stack_name, "backup-vault-lock", "required") is False


#: Every stack's thresholds, pinned (policy, property, dev, staging, prod): regenerating the README cannot
#: launder a weaker one.
PINNED: list[tuple[str, str, object, object, object]] = [
    ("rds-backup-retention", "minRetentionDays", 7, 14, 30),
    ("rds-backup-replication-retention", "minRetentionDays", 7, 14, 30),
    ("elasticache-snapshot-retention", "minRetentionDays", 1, 7, 7),
    ("backup-plan-retention", "minRetentionDays", 7, 14, 30),
    ("log-group-retention", "minRetentionDays", 30, 90, 365),
    ("subnet-az-spread", "minAzCount", 2, 3, 3),
    ("msk-broker-az-spread", "minAzCount", 2, 3, 3),
    ("eks-node-group-az-spread", "minAzCount", 2, 3, 3),
    ("app-min-replicas", "minReplicas", 1, 2, 2),
    ("eks-private-endpoint", "requirePrivateEndpoint", False, False, True),
    ("backup-vault-lock", "required", False, False, True),
    ("app-pod-disruption-budget", "required", False, True, True),
    ("storage-class-retain", "required", False, True, True),
    ("backup-plan-dr-copy", "drRegion", "us-west-2", "us-west-2", "us-west-2"),
    ("rds-cross-region-backups", "drRegion", "us-west-2", "us-west-2", "us-west-2"),
]


@pytest.mark.parametrize("stack_name", STACKS)
def test_thresholds_are_pinned_per_stack(stack_name: str) -> None:
    column = 2 + STACKS.index(stack_name)
    wanted = {(row[0], row[1]): row[column] for row in PINNED}
    assert {(policy, key): _threshold(stack_name, policy, key) for policy, key in wanted} == wanted


@pytest.mark.parametrize("stack_name", STACKS)
def test_retention_thresholds_equal_the_stack_files_values(stack_name: str) -> None:
    """The stack file is the source of truth: a threshold below what the stack keeps is a laundered one."""
    cfg = stack_config(stack_name)
    assert _threshold(stack_name, "rds-backup-retention", "minRetentionDays") == min(
        db["backupRetentionDays"] for db in cfg["database"].values())
    assert _threshold(stack_name, "rds-backup-replication-retention", "minRetentionDays") == min(
        db["backupRetentionDays"] for db in cfg["database"].values())
    assert _threshold(stack_name, "elasticache-snapshot-retention", "minRetentionDays") == cfg["cache"][
        "snapshotRetentionDays"]
    assert _threshold(stack_name, "backup-plan-retention", "minRetentionDays") == cfg["backup"]["retentionDays"]
    assert _threshold(stack_name, "log-group-retention", "minRetentionDays") == min(
        cfg["observability"]["logRetentionDays"], cfg["network"]["flowLogs"]["retentionDays"])
    for policy in ("msk-broker-az-spread", "eks-node-group-az-spread", "subnet-az-spread"):
        assert _threshold(stack_name, policy, "minAzCount") == cfg["network"]["azCount"], policy
    assert _threshold(stack_name, "backup-vault-lock", "required") is cfg["backup"]["vaultLock"]


def test_prod_thresholds_are_the_seeds_numbers() -> None:
    assert _threshold("prod", "rds-backup-retention", "minRetentionDays") == 30
    assert _threshold("prod", "backup-plan-retention", "minRetentionDays") == 30
    assert _threshold("prod", "subnet-az-spread", "minAzCount") == 3
    assert _threshold("prod", "log-group-retention", "minRetentionDays") == 365
    assert _threshold("prod", "eks-private-endpoint", "requirePrivateEndpoint") is True
    assert _threshold("prod", "backup-vault-lock", "required") is True


def test_standard_tag_keys_match_the_program() -> None:
    from components.common import STANDARD_TAG_KEYS

    assert common.STANDARD_TAG_KEYS == STANDARD_TAG_KEYS
    assert REGISTRY["standard-tags"].defaults["requiredTags"] == list(STANDARD_TAG_KEYS)


def test_taggable_types_accept_tags_in_pulumi_aws() -> None:
    import importlib
    import inspect

    for token in tag_policies.TAGGABLE_TYPES:
        module, cls = token.split(":")[1].split("/")[0], token.split(":")[2]
        args = getattr(importlib.import_module(f"pulumi_aws.{module}"), f"{cls}Args")
        assert "tags" in inspect.signature(args.__init__).parameters, token


def test_resource_type_tokens_exist_in_the_sdks() -> None:
    """Every type a policy checks is a real pulumi-aws 7 / pulumi-kubernetes 4 token."""
    import importlib

    k8s_kinds = {"apps/v1": "apps.v1", "batch/v1": "batch.v1", "core/v1": "core.v1", "policy/v1": "policy.v1",
                 "autoscaling/v2": "autoscaling.v2", "storage.k8s.io/v1": "storage.v1",
                 "networking.k8s.io/v1": "networking.v1", "helm.sh/v3": "helm.v3",
                 "admissionregistration.k8s.io/v1": "admissionregistration.v1"}
    custom_resources = {"monitoring.coreos.com/v1": {"PrometheusRule"},  # kube-prometheus-stack's CRDs
                        "security.istio.io/v1": {"AuthorizationPolicy"}}  # istio-base's CRDs
    for info in REGISTRY.values():
        for token in info.resource_types:
            provider, module, cls = token.split(":")
            if provider == "aws":
                package = importlib.import_module(f"pulumi_aws.{module.split('/')[0]}")
                assert hasattr(package, cls), token
                source = Path(package.__file__).parent
                assert any(f"'{token}'" in p.read_text() for p in source.glob("*.py")), token
            elif module == ROLLOUTS_API:  # a custom resource: the CRDs of the argo-rollouts chart
                assert cls in ("Rollout", "AnalysisTemplate"), token
            elif module in custom_resources:
                # A CRD kind: CustomResource registers as kubernetes:<apiVersion>:<kind>.
                assert cls in custom_resources[module], token
            else:
                assert hasattr(importlib.import_module(f"pulumi_kubernetes.{k8s_kinds[module]}"), cls), token


def test_stack_policy_tests_cover_every_stack_policy() -> None:
    source = (Path(__file__).parent / "test_stack_policies.py").read_text()
    missing = [n for n, i in REGISTRY.items() if i.kind == "stack" and f'check_stack("{n}"' not in source]
    assert missing == []
