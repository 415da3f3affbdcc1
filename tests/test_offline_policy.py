"""The offline policy driver (offline/policy.py) against tiny throwaway packs written to tmp_path.

Each pack is started exactly as ``pulumi preview --policy-pack`` starts it (``python -u -m
pulumi.policy <engine> .``) and spoken to over gRPC; nothing here imports the pack in-process.
"""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pytest
from google.protobuf import struct_pb2

from offline.compliance import compliance_results, render_compliance_report, write_compliance_report
from offline.engine import UNKNOWN, Plan, Registration
from offline.policy import (
    PolicyConfigError,
    PolicyPackError,
    PolicyPackSession,
    load_policy_config,
    open_session,
    run_policy_pack,
)
from tests.helpers import render

TOY_PACK = '''
from pulumi_policy import (EnforcementLevel, PolicyComplianceFramework, PolicyConfigSchema, PolicyPack,
                           ResourceValidationPolicy, StackValidationPolicy)

KEY = "aws:kms/key:Key"


def _rotation(args, report_violation):
    if args.resource_type != KEY:
        args.not_applicable("not a KMS key")
    if args.props.get("enableKeyRotation") is not True:
        days = args.get_config()["rotationPeriodInDays"]
        report_violation(f"enableKeyRotation must be true (rotate every {days:g} days); "
                         "set encryption.rotation in the stack file")
    provider = args.provider.name if args.provider else "none"
    if args.props.get("description") == "report-provider":
        report_violation(f"provider={provider} protect={args.opts.protect}")
    if args.props.get("description") == "echo":
        report_violation(f"policy={args.props['policy']} target={args.props['target']} "
                         f"internal={'__defaults' in args.props}")


def _protected(args, report_violation):
    if args.resource_type == KEY and not args.opts.protect:
        report_violation("KMS keys must be protected; set encryption.protect: true")


def _flow_logs(args, report_violation):
    vpcs = [r for r in args.resources if r.resource_type == "aws:ec2/vpc:Vpc"]
    logged = {r.props.get("vpcId") for r in args.resources if r.resource_type == "aws:ec2/flowLog:FlowLog"}
    for vpc in vpcs:
        parent = vpc.parent.urn if vpc.parent else "none"
        if vpc.props.get("cidrBlock") not in logged:
            report_violation(f"VPC {vpc.name} (parent {parent.split('::')[-1]}) has no flow log", vpc.urn)


PolicyPack(
    name="toy-pack",
    enforcement_level=EnforcementLevel.ADVISORY,
    policies=[
        ResourceValidationPolicy(
            name="kms-key-rotation", description="KMS keys rotate.", validate=_rotation,
            framework=PolicyComplianceFramework(name="HIPAA Security Rule", reference="164.312(a)(2)(iv)"),
            config_schema=PolicyConfigSchema(properties={
                "rotationPeriodInDays": {"type": "integer", "minimum": 90, "default": 365}})),
        ResourceValidationPolicy(
            name="kms-key-protected", description="KMS keys are protected.", validate=_protected,
            enforcement_level=EnforcementLevel.MANDATORY),
        StackValidationPolicy(name="vpc-flow-logs", description="Every VPC has a flow log (HIPAA 164.312(b)).",
                              validate=_flow_logs),
    ],
)
'''


def write_pack(root: Path, main: str = TOY_PACK, *, yaml_text: str = "runtime: python\nversion: 1.2.3\n",
               config: dict | None = None) -> tuple[Path, Path]:
    root.mkdir(parents=True, exist_ok=True)
    (root / "PulumiPolicy.yaml").write_text(yaml_text)
    (root / "__main__.py").write_text(textwrap.dedent(main))
    config_path = root / "config" / "test.json"
    config_path.parent.mkdir(exist_ok=True)
    config_path.write_text(json.dumps(config if config is not None else {}))
    return root, config_path


def build() -> None:
    aws.kms.Key("rotating", enable_key_rotation=True, opts=pulumi.ResourceOptions(protect=True))
    aws.kms.Key("static", enable_key_rotation=False)
    aws.ec2.Vpc("main", cidr_block="10.0.0.0/16")


@pytest.fixture(scope="module")
def plan() -> Plan:
    return render(build)


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root, _ = write_pack(tmp_path_factory.mktemp("toy") / "pack")
    return root


_REPORTS: dict[tuple[int, Path, str], object] = {}


def run(plan: Plan, pack: Path, config: dict) -> object:
    """The pack's report on ``plan`` with ``config``: one pack process per distinct (plan, pack, config) in this
    module, since tests that read the same run differently need not start the pack again (reports are read-only)."""
    text = json.dumps(config, sort_keys=True)
    key = (id(plan), pack, text)
    if key not in _REPORTS:
        path = pack / "config" / f"cfg-{abs(hash(text))}.json"
        path.write_text(json.dumps(config))
        _REPORTS[key] = run_policy_pack(plan, "test", pack_dir=pack, config_path=path)
    return _REPORTS[key]


def test_levels_come_from_all_then_named_entries(plan: Plan, toy: Path) -> None:
    report = run(plan, toy, {"all": "mandatory", "vpc-flow-logs": {"enforcementLevel": "advisory"}})
    assert report.pack_name == "toy-pack"
    assert report.pack_version == "1.2.3"  # PulumiPolicy.yaml wins over the pack's 0.0.1, as in the engine
    assert [(p.name, p.kind, p.default_level, p.level) for p in report.policies] == [
        ("kms-key-protected", "resource", "mandatory", "mandatory"),
        ("kms-key-rotation", "resource", "advisory", "mandatory"),
        ("vpc-flow-logs", "stack", "advisory", "advisory"),
    ]
    assert report.policy("kms-key-rotation").config == {"rotationPeriodInDays": 365}  # schema default


def test_resource_violation_has_urn_type_name_and_message(plan: Plan, toy: Path) -> None:
    report = run(plan, toy, {"all": "mandatory", "vpc-flow-logs": "advisory"})
    static = plan.named("static")
    rotation = [v for v in report.violations if v.policy == "kms-key-rotation"]
    assert len(rotation) == 1
    v = rotation[0]
    assert (v.urn, v.resource_type, v.resource_name, v.level, v.pack, v.stack_policy) == (
        static.urn, "aws:kms/key:Key", "static", "mandatory", "toy-pack", False)
    assert v.message == ("KMS keys rotate.\nenableKeyRotation must be true (rotate every 365 days); "
                         "set encryption.rotation in the stack file")
    assert v.detail.startswith("enableKeyRotation must be true")
    # protect flows through AnalyzerResourceOptions: only the unprotected key violates.
    protected = [v for v in report.violations if v.policy == "kms-key-protected"]
    assert [(v.resource_name, v.level) for v in protected] == [("static", "mandatory")]
    assert [v.policy for v in report.mandatory] == ["kms-key-protected", "kms-key-rotation"]
    # not_applicable tells exactly what the rotation policy checked: the two keys.
    assert report.checked("kms-key-rotation") == 2
    assert report.checked("kms-key-protected") is None  # the policy does not say what it skipped


def test_stack_violation_and_advisory_level(plan: Plan, toy: Path) -> None:
    report = run(plan, toy, {"vpc-flow-logs": "advisory"})
    stack_violations = [v for v in report.violations if v.stack_policy]
    vpc = plan.named("main")
    assert [(v.policy, v.level, v.urn, v.resource_type) for v in stack_violations] == [
        ("vpc-flow-logs", "advisory", vpc.urn, "aws:ec2/vpc:Vpc")]
    # The parent chain is filled in for AnalyzeStack: a top-level resource's parent is the stack.
    assert stack_violations[0].detail == "VPC main (parent care-platform-test) has no flow log"
    assert all(v.urn != vpc.urn for v in report.mandatory)
    # Defaults without `all`: the rotation policy stays advisory, the protect policy mandatory.
    assert {(v.policy, v.level) for v in report.violations} == {
        ("kms-key-rotation", "advisory"), ("kms-key-protected", "mandatory"), ("vpc-flow-logs", "advisory")}


def test_disabled_policies_are_not_reported(plan: Plan, toy: Path) -> None:
    report = run(plan, toy, {"all": "disabled", "kms-key-rotation": "mandatory"})
    assert {v.policy for v in report.violations} == {"kms-key-rotation"}
    assert report.policy("kms-key-protected").level == "disabled"
    assert report.checked("kms-key-protected") == 0


def test_an_analysis_can_run_only_named_policies_and_the_stack_config_comes_back(plan: Plan, toy: Path) -> None:
    config = toy / "config" / "only.json"
    config.write_text(json.dumps({"all": "mandatory"}))
    with open_session(plan, "test", pack_dir=toy, config_path=config) as session:
        only_stack = session.analyze(plan, policies=["vpc-flow-logs"])
        assert [(v.policy, v.resource_name) for v in only_stack.violations] == [("vpc-flow-logs", "main")]
        only_rotation = session.analyze(plan, stack_policies=False, policies=["kms-key-rotation"])
        assert [(v.policy, v.resource_name) for v in only_rotation.violations] == [("kms-key-rotation", "static")]
        with pytest.raises(PolicyPackError, match="toy-pack has no policy 'no-such-policy'"):
            session.analyze(plan, policies=["no-such-policy"])
        # Afterwards every policy runs again, at the stack's levels.
        everything = session.analyze(plan)
    assert sorted((v.policy, v.resource_name, v.level) for v in everything.violations) == [
        ("kms-key-protected", "static", "mandatory"), ("kms-key-rotation", "static", "mandatory"),
        ("vpc-flow-logs", "main", "mandatory")]


def test_config_properties_override_schema_defaults_and_are_validated(plan: Plan, toy: Path) -> None:
    report = run(plan, toy, {"kms-key-rotation": {"enforcementLevel": "mandatory", "rotationPeriodInDays": 180}})
    [v] = [v for v in report.violations if v.policy == "kms-key-rotation"]
    assert "rotate every 180 days" in v.message and v.level == "mandatory"
    with pytest.raises(PolicyConfigError, match=r"kms-key-rotation: rotationPeriodInDays: 30 is less than "
                                                r"the minimum of 90"):
        run(plan, toy, {"kms-key-rotation": {"rotationPeriodInDays": 30}})


def test_unknown_policy_name_in_config_is_an_error(plan: Plan, toy: Path) -> None:
    with pytest.raises(PolicyConfigError, match=r"kms-key-rotaton: not a policy of this pack; did you mean "
                                                r"kms-key-rotation\?$"):
        run(plan, toy, {"all": "mandatory", "kms-key-rotaton": "advisory"})
    with pytest.raises(PolicyConfigError, match=r"no-such-policy: not a policy of this pack; the pack's "
                                                r"policies are: kms-key-protected, kms-key-rotation, vpc-flow-logs"):
        run(plan, toy, {"no-such-policy": "advisory"})


def test_invalid_levels_in_config_file_are_errors(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"all": "strict"}))
    with pytest.raises(PolicyConfigError, match=r"all: 'strict' is not a valid enforcement level"):
        load_policy_config(path)
    path.write_text(json.dumps({"x": 3}))
    with pytest.raises(PolicyConfigError, match=r"x: 3 is not a valid value; must be a string or object"):
        load_policy_config(path)
    path.write_text(json.dumps({"x": {"enforcementLevel": "mandatory", "n": 1}, "y": {}}))
    assert load_policy_config(path) == {"x": {"enforcementLevel": "mandatory", "properties": {"n": 1}}}


def test_missing_config_file_is_an_error(plan: Plan, toy: Path) -> None:
    with pytest.raises(PolicyConfigError, match="does not exist"):
        run_policy_pack(plan, "test", pack_dir=toy, config_path=toy / "config" / "nope.json")


def test_pack_that_fails_to_import_is_an_error(plan: Plan, tmp_path: Path) -> None:
    pack, config = write_pack(tmp_path / "broken", "import policies_that_do_not_exist\n")
    with pytest.raises(PolicyPackError, match=r"(?s)failed to start.*No module named 'policies_that_do_not_exist'"):
        run_policy_pack(plan, "test", pack_dir=pack, config_path=config)


def test_bad_pulumipolicy_yaml_is_an_error(plan: Plan, tmp_path: Path) -> None:
    pack, config = write_pack(tmp_path / "nodejs", yaml_text="runtime: nodejs\n")
    with pytest.raises(PolicyPackError, match="runtime must be `python`"):
        run_policy_pack(plan, "test", pack_dir=pack, config_path=config)
    (pack / "PulumiPolicy.yaml").unlink()
    with pytest.raises(PolicyPackError, match="failed to load Pulumi policy project"):
        run_policy_pack(plan, "test", pack_dir=pack, config_path=config)


def test_policy_that_raises_is_an_error_not_a_pass(plan: Plan, tmp_path: Path) -> None:
    pack, config = write_pack(tmp_path / "raises", TOY_PACK.replace(
        "def _protected(args, report_violation):\n",
        "def _protected(args, report_violation):\n    raise RuntimeError('policy bug')\n"))
    with pytest.raises(PolicyPackError, match=r"(?s)returned an error in Analyze: UNKNOWN.*policy bug"):
        run_policy_pack(plan, "test", pack_dir=pack, config_path=config)


def test_pack_that_dies_mid_run_is_an_error(plan: Plan, tmp_path: Path) -> None:
    pack, config = write_pack(tmp_path / "dies", "import os\n" + TOY_PACK.replace(
        "def _flow_logs(args, report_violation):\n",
        "def _flow_logs(args, report_violation):\n    os._exit(3)\n"))
    with pytest.raises(PolicyPackError, match=r"crashed \(exit code 3\) in AnalyzeStack: UNAVAILABLE"):
        run_policy_pack(plan, "test", pack_dir=pack, config_path=config)


def test_pack_that_never_serves_is_an_error(plan: Plan, tmp_path: Path) -> None:
    pack, config = write_pack(tmp_path / "silent", "print('hello')\n")
    with pytest.raises(PolicyPackError, match=r"expected its port on the first line of stdout, got 'hello'"):
        run_policy_pack(plan, "test", pack_dir=pack, config_path=config)
    pack, config = write_pack(tmp_path / "exits", "pass\n")
    with pytest.raises(PolicyPackError, match=r"exited with code 0 before printing its port"):
        run_policy_pack(plan, "test", pack_dir=pack, config_path=config)


def test_unknown_values_are_reported_not_crashed_on(toy: Path) -> None:
    key = _registration("aws:kms/key:Key", "pending", {"enableKeyRotation": UNKNOWN, "description": "x"})
    plan = Plan(project="care-platform", stack="test", resources=[key], outputs={})
    path = toy / "config" / "unknown.json"
    path.write_text(json.dumps({"all": "mandatory"}))
    report = run_policy_pack(plan, "test", pack_dir=toy, config_path=path)
    [v] = [v for v in report.violations if v.policy == "kms-key-rotation"]
    assert v.level == "advisory" and v.urn == key.urn
    assert "can't run policy 'kms-key-rotation' from policy pack 'toy-pack@v0.0.1' during preview" in v.message
    assert list(report.unknown) == ["kms-key-rotation"]


def test_provider_and_protect_reach_the_pack(toy: Path) -> None:
    explicit = _registration("pulumi:providers:aws", "aws-dr", {"region": "us-west-2"}, custom=True)
    keyed = _registration("aws:kms/key:Key", "k1", {"enableKeyRotation": True, "description": "report-provider"},
                          provider=f"{explicit.urn}::provider-id", protect=True)
    default = _registration("aws:kms/key:Key", "k2", {"enableKeyRotation": True, "description": "report-provider"})
    plan = Plan(project="care-platform", stack="test", resources=[explicit, keyed, default], outputs={})
    path = toy / "config" / "prov.json"
    path.write_text("{}")
    report = run_policy_pack(plan, "test", pack_dir=toy, config_path=path)
    details = sorted((v.resource_name, v.detail) for v in report.violations if v.policy == "kms-key-rotation")
    assert details == [("k1", "provider=aws-dr protect=True"), ("k2", "provider=default protect=False")]


def test_one_process_handles_500_resources_and_is_reaped(toy: Path) -> None:
    """(How fast is measured by tests/benchmarks/bench_policy_pack.py, not asserted in the suite.)"""
    resources = [_registration("aws:kms/key:Key", f"k{i}", {"enableKeyRotation": i % 50 != 0})
                 for i in range(500)]
    plan = Plan(project="care-platform", stack="test", resources=resources, outputs={})
    path = toy / "config" / "big.json"
    path.write_text(json.dumps({"all": "mandatory"}))
    with PolicyPackSession("test", pack_dir=toy, config_path=path) as session:
        pid = session.pid
        report = session.analyze(plan)
        again = session.analyze(plan, only=[resources[0].urn], stack_policies=False)
    assert len(report.analyzed) == 501  # + the root stack
    assert len([v for v in report.mandatory if v.policy == "kms-key-rotation"]) == 10
    assert len([v for v in report.mandatory if v.policy == "kms-key-protected"]) == 500
    assert [v.resource_name for v in again.violations if v.policy == "kms-key-rotation"] == ["k0"]
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # already reaped: no zombie left behind
    assert not Path(f"/proc/{pid}").exists()


def _registration(type_: str, name: str, inputs: dict, *, custom: bool = True, protect: bool = False,
                  provider: str = "") -> Registration:
    struct = struct_pb2.Struct()
    struct.update(inputs)
    stack = "urn:pulumi:test::care-platform::pulumi:pulumi:Stack::care-platform-test"
    return Registration(
        urn=f"urn:pulumi:test::care-platform::{type_}::{name}", type=type_, name=name, parent=stack,
        custom=custom, protect=protect, provider=provider, dependencies=[], inputs=inputs, wire_inputs=struct)


def test_compliance_report_groups_policies_by_hipaa_section(plan: Plan, toy: Path, tmp_path: Path) -> None:
    report = run(plan, toy, {"all": "mandatory", "vpc-flow-logs": "advisory"})
    results = {r.policy.name: r for r in compliance_results(report, plan)}
    # Citations: the framework reference the pack sends, else one found in the description.
    assert {name: (r.citation, r.citation_source) for name, r in results.items()} == {
        "kms-key-rotation": ("164.312(a)(2)(iv)", "pack"),
        "vpc-flow-logs": ("164.312(b)", "description"),
        "kms-key-protected": ("uncited", "none"),
    }
    # Resources checked: known for the policy that marks the rest not_applicable, unknown otherwise.
    assert [name for _, name, _ in results["kms-key-rotation"].checked] == ["rotating", "static"]
    assert results["kms-key-protected"].checked is None
    assert [r.result for r in results.values()] == ["FAIL", "FAIL", "WARN"]

    path = write_compliance_report(report, plan, tmp_path / "build" / "test" / "compliance.md")
    text = path.read_text()
    assert text == render_compliance_report(report, plan)  # deterministic
    assert text.startswith("# HIPAA Security Rule compliance: stack `test`\n")
    assert "**Result: FAIL**: 2 mandatory and 1 advisory violation(s)." in text
    assert ("| Technical safeguards | 164.312(a)(2)(iv) Access control: encryption and decryption | 1 | 2 | 1 | 1 | 0 "
            "| FAIL |" in text)  # policies, resources checked, passing, failing, advisory
    assert "| Technical safeguards | 164.312(b) Audit controls | 1 | 0+ | 0+ | 0 | 1 | WARN |" in text
    assert ("| `kms-key-rotation` | mandatory | KMS keys rotate. | 2 (Key ×2) | FAIL |") in text
    assert "- PASS `rotating` (aws:kms/key:Key)" in text
    assert ("- FAIL `static` (aws:kms/key:Key): enableKeyRotation must be true (rotate every 365 days); "
            "set encryption.rotation in the stack file") in text
    assert "- WARN `main` (aws:ec2/vpc:Vpc): VPC main (parent care-platform-test) has no flow log" in text
    assert "uncited policies: kms-key-protected" in text


def test_inputs_are_marshalled_as_the_engine_marshals_them(toy: Path) -> None:
    """Resource references become the ID (custom) or URN (component); internal keys are dropped."""
    ref = "urn:pulumi:test::care-platform::aws:kms/key:Key::other"
    key = _registration("aws:kms/key:Key", "k", {
        "enableKeyRotation": True, "description": "echo", "__defaults": ["description"],
        "policy": {"4dabf18193072939515e22adb298388d": "5cf8f73096256a8f31e491e813e4eb8e", "urn": ref,
                   "id": "key-1234"},
        "target": {"4dabf18193072939515e22adb298388d": "5cf8f73096256a8f31e491e813e4eb8e",
                   "urn": "urn:pulumi:test::care-platform::care:security:KeyRing::ring"},
    })
    plan = Plan(project="care-platform", stack="test", resources=[key], outputs={})
    path = toy / "config" / "echo.json"
    path.write_text("{}")
    report = run_policy_pack(plan, "test", pack_dir=toy, config_path=path)
    [v] = [v for v in report.violations if v.policy == "kms-key-rotation"]
    assert v.detail == ("policy=key-1234 target=urn:pulumi:test::care-platform::care:security:KeyRing::ring "
                        "internal=False")
