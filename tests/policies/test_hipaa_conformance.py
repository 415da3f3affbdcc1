"""policies/hipaa-conformance.md: every rule of AWS's HIPAA conformance pack mapped, current, and honest."""

from __future__ import annotations

import hashlib

import conformance_map  # noqa: I001  (policies/ is on sys.path via tests.policies.support)
import pytest

from tests.helpers import rendered_stack


def test_template_is_the_one_recorded_in_source_md() -> None:
    digest = hashlib.sha256(conformance_map.TEMPLATE.read_bytes()).hexdigest()
    source = (conformance_map.TEMPLATE.parent / "SOURCE.md").read_text()
    assert f"sha256: {digest}" in source
    assert len(conformance_map.template_rules()) == 130


def test_mapping_is_complete_consistent_and_covers_ninety_percent() -> None:
    assert conformance_map.problems() == []
    assert conformance_map.coverage() == (59, 65)


def test_document_is_current(capsys: pytest.CaptureFixture[str]) -> None:
    assert conformance_map.main(["--check"]) == 0
    assert capsys.readouterr().out == ""
    assert "Coverage: **59 of 65** rules" in conformance_map.OUTPUT.read_text()


def test_problems_name_what_is_wrong(monkeypatch: pytest.MonkeyPatch) -> None:
    rules = dict(conformance_map.RULES)
    del rules["securityhub-enabled"]
    rules["rds-multi-az-support"] = conformance_map.enforced("no-such-policy")
    rules["efs-in-backup-plan"] = conformance_map.exception("")
    monkeypatch.setattr(conformance_map, "RULES", rules)
    assert conformance_map.problems() == [
        "rule securityhub-enabled of the template is not mapped",
        "rule efs-in-backup-plan (accepted exception) gives no reason",
        "rule rds-multi-az-support names unknown policy no-such-policy",
    ]


def test_coverage_under_the_minimum_is_a_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    rules = dict(conformance_map.RULES)
    for name in ("rds-multi-az-support", "rds-logging-enabled", "restricted-ssh"):
        rules[name] = conformance_map.exception("demoted for the test")
    monkeypatch.setattr(conformance_map, "RULES", rules)
    assert conformance_map.problems() == ["coverage 56/65 is under 90%"]
    assert conformance_map.main(["--check"]) == 1


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_not_applicable_rules_concern_types_no_stack_creates(stack: str) -> None:
    created = {r.type for r in rendered_stack(stack).resources}
    wrongly = {name: sorted(set(rule.types) & created) for name, rule in conformance_map.RULES.items()
               if rule.status == "not applicable" and set(rule.types) & created}
    assert wrongly == {}
