"""The deploy pack as a whole: registry, per-stack config files, README table, requirements."""

from __future__ import annotations

import json
import re

import common as hipaa_common  # the HIPAA pack's registry: the two stay apart
import deploy_common
import deploy_registry_doc
from deploy_common import REGISTRY

from tests.policies.deploy.support import DEPLOY_DIR

STACKS = ("dev", "staging", "prod")


def test_every_rule_is_named_described_sourced_and_mandatory_but_the_warning() -> None:
    assert len(REGISTRY) == 36
    for info in REGISTRY.values():
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", info.name)
        assert info.source.startswith("https://") and info.description.endswith("."), info.name
        assert info.concern in deploy_common.CONCERNS
    assert {n for n, i in REGISTRY.items() if i.level != "mandatory"} == {"version-end-of-support-soon"}
    assert {i.concern for i in REGISTRY.values()} == set(deploy_common.CONCERNS)


def test_the_hipaa_registry_does_not_see_the_deploy_rules() -> None:
    import encryption  # noqa: F401  (a HIPAA module: importing it registers HIPAA policies only)

    assert hipaa_common.REGISTRY and not set(REGISTRY) & set(hipaa_common.REGISTRY)


def test_every_stack_config_names_only_deploy_rules() -> None:
    for stack in STACKS:
        config = json.loads((DEPLOY_DIR / "config" / f"{stack}.json").read_text())
        assert config == {"all": "mandatory", "version-end-of-support-soon": "advisory"}, stack
        assert set(config) - {"all"} <= set(REGISTRY)


def test_the_readme_table_is_generated_from_the_registry() -> None:
    assert deploy_registry_doc.main(["--check"]) == 0
    assert "| `cfn-lint-cross-check` | crosscheck | stack |" in (DEPLOY_DIR / "README.md").read_text()


def test_the_pack_declares_its_runtime_and_dependencies() -> None:
    assert "virtualenv: ../../.venv" in (DEPLOY_DIR / "PulumiPolicy.yaml").read_text()
    assert (DEPLOY_DIR / "requirements.txt").read_text().splitlines() == [
        "pulumi-policy>=1.13,<2", "pulumi>=3,<4", "pyyaml>=6,<7", "cfn-lint>=1.58,<2", "botocore>=1.34,<2"]
