"""Issue #9: reports fit for their readers (compliance.md provenance and columns, diff-friendly plan.json,
aligned violations naming the real stack file) and a policy that raises is named with its resource."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

from google.protobuf import struct_pb2

from offline.compliance import Provenance, render_compliance_report
from offline.engine import Plan, Registration, unnest_json
from offline.output import violation_rows
from offline.policy import PolicyInfo, PolicyPackError, PolicyReport, Violation, run_policy_pack
from tests.test_offline_policy import TOY_PACK, write_pack

KEY, DIST = "aws:kms/key:Key", "aws:cloudfront/distribution:Distribution"


def _registration(name: str, type_: str = KEY, **inputs: object) -> Registration:
    return Registration(urn=f"urn:pulumi:prod::care-platform::{type_}::{name}", type=type_, name=name, parent="",
                        custom=True, protect=False, provider="", dependencies=[], inputs=dict(inputs),
                        wire_inputs=struct_pb2.Struct())


def _policy(name: str, level: str = "mandatory") -> PolicyInfo:
    return PolicyInfo(name=name, description=f"{name} holds.", level=level, default_level="mandatory",
                      kind="resource")


def _violation(policy: str, reg: Registration, detail: str, level: str = "mandatory") -> Violation:
    return Violation(policy=policy, level=level, urn=reg.urn, resource_type=reg.type, resource_name=reg.name,
                     message=f"{policy} holds.\n{detail}", description=f"{policy} holds.")


def test_compliance_report_states_what_it_is_evidence_of() -> None:
    good, bad = _registration("key-a"), _registration("key-b")
    plan = Plan(project="care-platform", stack="prod", resources=[good, bad], outputs={})
    report = PolicyReport(
        stack="prod", pack_name="care-platform-hipaa", pack_version="1.0.0",
        policies=[_policy("kms-rotation"), _policy("kms-protected", "advisory"), _policy("cdn-tls")],
        violations=[_violation("kms-rotation", bad, "enableKeyRotation is false; set it in Pulumi.<stack>.yaml"),
                    _violation("kms-protected", bad, "not protected", "advisory")],
        analyzed=[good.urn, bad.urn])
    registry = {"sections": {}, "errors": [], "policies": {
        "kms-rotation": {"citation": "164.312(a)(2)(iv)", "concern": "encryption", "kind": "resource", "types": [KEY]},
        "kms-protected": {"citation": "164.312(a)(2)(iv)", "concern": "backup", "kind": "resource", "types": [KEY]},
        "cdn-tls": {"citation": "164.312(e)(1)", "concern": "transit", "kind": "resource", "types": [DIST]}}}
    provenance = Provenance(commit="0123abc plus uncommitted changes", time="2026-12-02 17:00:00",
                            plan_sha256=plan.digest())
    text = render_compliance_report(report, plan, registry, provenance=provenance)
    lines = text.splitlines()
    assert lines[4:10] == [
        "| Evidence of | |", "|---|---|", "| Commit | `0123abc plus uncommitted changes` |",
        "| Time (UTC) | 2026-12-02 17:00:00 |", f"| Plan | `plan.json` sha256 `{plan.digest()}` |",
        "| Policy pack | `care-platform-hipaa` version 1.0.0, 3 policies (`policies/`) |"]
    assert "| Safeguard | Section | Policies | Resources checked | Passing | Failing | Advisory | Result |" in lines
    assert ("| Technical safeguards | 164.312(a)(2)(iv) Access control: encryption and decryption | 2 | 2 | 2 | 1 | "
            "1 | FAIL |") in lines
    assert ("| Technical safeguards | 164.312(e)(1) Transmission security | 1 | 0 | 0 | 0 | 0 | "
            "N/A: no CloudFront Distribution in this stack |") in lines
    assert "| `cdn-tls` | mandatory | cdn-tls holds. | 0 | N/A: no CloudFront Distribution in this stack |" in lines


def test_violations_print_aligned_and_name_the_real_stack_file() -> None:
    db, bucket = _registration("prm-db", "aws:rds/instance:Instance"), _registration("logs", "aws:s3/bucket:Bucket")
    rows = violation_rows([
        _violation("rds-multi-az", db, "multiAz is false.\nSet database.<name>.multiAz: true in Pulumi.<stack>.yaml."),
        _violation("s3-no-force-destroy", bucket, "forceDestroy is true", "advisory"),
    ], "prod")
    assert rows == [
        "LEVEL      RESOURCE                 POLICY               FINDING",
        "mandatory  aws:rds:Instance prm-db  rds-multi-az         multiAz is false. Set database.<name>.multiAz: "
        "true in Pulumi.prod.yaml.",
        "advisory   aws:s3:Bucket logs       s3-no-force-destroy  forceDestroy is true",
    ]


def test_plan_json_nests_json_documents_so_a_one_word_change_is_a_one_line_diff() -> None:
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}

    def plan_with(document: dict) -> Plan:
        role = _registration("role", "aws:iam/role:Role", assumeRolePolicy=json.dumps(document),
                             description="{not json", path="/")
        return Plan(project="care-platform", stack="prod", resources=[role], outputs={})

    before = plan_with(policy)
    changed = json.loads(json.dumps(policy))
    changed["Statement"][0]["Effect"] = "Deny"
    after = plan_with(changed)
    resource = json.loads(before.to_json())["resources"][0]
    assert resource["inputs"]["assumeRolePolicy"] == {"@json": policy}
    assert resource["inputs"]["description"] == "{not json"
    assert unnest_json(resource["inputs"]) == before.resources[0].inputs  # the exact strings come back
    diff = [line for line in difflib.unified_diff(before.to_json().splitlines(), after.to_json().splitlines(),
                                                  lineterm="", n=0) if line[:1] in "+-" and line[:3] not in "+++---"]
    assert diff == ['-                "Effect": "Allow",', '+                "Effect": "Deny",']
    assert before.to_json() == plan_with(policy).to_json()  # deterministic


def test_a_policy_that_raises_is_named_with_the_resource(tmp_path: Path) -> None:
    from tests.helpers import render
    from tests.test_offline_policy import build

    plan = render(build)
    pack, config = write_pack(tmp_path / "raises", TOY_PACK.replace(
        "def _protected(args, report_violation):\n",
        "def _protected(args, report_violation):\n"
        "    if args.resource_type == KEY:\n        args.props['noSuchProp']\n"))
    try:
        run_policy_pack(plan, "test", pack_dir=pack, config_path=config)
    except PolicyPackError as exc:
        first = str(exc).splitlines()[0]
    key = next(r for r in plan.resources if r.type == KEY)
    assert first == (f"policy 'kms-key-protected' of pack toy-pack raised an exception ('noSuchProp') on {KEY} "
                     f"{key.name} ({key.urn}): the policy has a bug; this is not a pass")
