"""Feature flags in AWS AppConfig: the resources of one app, its role's read-only access, the flag files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import config
from components.app_service import AppService
from components.app_service.flags import ROOT, load_flags
from tests.components.test_app_service import _wiring
from tests.helpers import PROD_TAGS, render, stack_config, stack_raw, with_overrides

ALARMS = ["arn:aws:cloudwatch:us-east-2:333333333333:alarm:nlfhir-slo-fast-burn",
          "arn:aws:cloudwatch:us-east-2:333333333333:alarm:nlfhir-5xx"]


@pytest.fixture(scope="module")
def flagged():  # type: ignore[no-untyped-def]
    cfg = stack_config("prod")
    return render(lambda: AppService("care-prod-nlfhir", cfg.apps.nlfhir, app_name="nlfhir", flag_alarm_arns=ALARMS,
                                     **_wiring()))


def _inputs(plan, suffix):  # type: ignore[no-untyped-def]
    return plan.named(f"care-prod-nlfhir-{suffix}").inputs


def test_appconfig_application_environment_profile_and_version(flagged) -> None:  # type: ignore[no-untyped-def]
    assert _inputs(flagged, "flags") == {"name": "care-prod-nlfhir", "description": "Feature flags of care-prod-nlfhir",
                                         "tags": {"Name": "care-prod-nlfhir", **PROD_TAGS}}
    environment = _inputs(flagged, "flags-env")
    app_id = flagged.named("care-prod-nlfhir-flags").id
    assert (environment["applicationId"], environment["name"]) == (app_id, "prod")  # one environment per stack
    monitor_role = "arn:aws:iam::123456789012:role/care-prod-nlfhir-flags-monitor"
    assert environment["monitors"] == [{"alarmArn": arn, "alarmRoleArn": monitor_role} for arn in ALARMS]
    profile = _inputs(flagged, "flags-profile")
    assert (profile["type"], profile["locationUri"], profile["name"]) == (
        "AWS.AppConfig.FeatureFlags", "hosted", "feature-flags")
    version = flagged.named("care-prod-nlfhir-flags-version")
    assert version.inputs["contentType"] == "application/json"
    assert flagged.named("care-prod-nlfhir-flags-profile").urn in version.dependencies


def test_gradual_strategy_and_the_deployment_of_the_version(flagged) -> None:  # type: ignore[no-untyped-def]
    # Linear 20 % every 6 minutes: 5 steps over 30 minutes, then 10 minutes in which the alarms roll back.
    assert _inputs(flagged, "flags-strategy") == {
        "name": "care-prod-nlfhir-linear-20pct-30m",
        "description": "LINEAR 20 % steps over 30 minutes, then 10 minutes of bake time",
        "growthType": "LINEAR", "growthFactor": 20, "deploymentDurationInMinutes": 30, "finalBakeTimeInMinutes": 10,
        "replicateTo": "NONE", "tags": {"Name": "care-prod-nlfhir-flags-strategy", **PROD_TAGS}}
    deployment = _inputs(flagged, "flags-deployment")
    ids = {name: flagged.named(f"care-prod-nlfhir-{name}") for name in ("flags-strategy", "flags")}
    assert (deployment["deploymentStrategyId"], deployment["applicationId"], deployment["configurationVersion"]) == (
        ids["flags-strategy"].id, ids["flags"].id, "1")


def test_the_apps_role_reads_only_its_own_flags(flagged) -> None:  # type: ignore[no-untyped-def]
    policy = json.loads(_inputs(flagged, "irsa-appconfig")["policy"])
    environment = flagged.named("care-prod-nlfhir-flags-env")
    profile_id = flagged.named("care-prod-nlfhir-flags-profile").id.split(":")[0]
    app_id = flagged.named("care-prod-nlfhir-flags").id
    assert policy == {"Version": "2012-10-17", "Statement": [{
        "Sid": "ReadOwnFeatureFlags", "Effect": "Allow",
        "Action": ["appconfig:StartConfigurationSession", "appconfig:GetLatestConfiguration"],
        "Resource": f"arn:aws:appconfig:us-east-2:123456789012:application/{app_id}/environment/"
                    f"{environment.id.split(':')[0]}/configuration/{profile_id}"}]}
    monitor = json.loads(_inputs(flagged, "flags-monitor-alarms")["policy"])
    assert monitor["Statement"] == [{"Sid": "DescribeOwnAlarms", "Effect": "Allow",
                                     "Action": "cloudwatch:DescribeAlarms", "Resource": sorted(ALARMS)}]
    trust = json.loads(_inputs(flagged, "flags-monitor")["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "appconfig.amazonaws.com"}
    assert trust["Statement"][0]["Condition"] == {"StringEquals": {"aws:SourceAccount": "333333333333"}}
    container = flagged.named("care-prod-nlfhir-rollout").inputs["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["APPCONFIG_APPLICATION_ID"] == app_id
    rollout = flagged.named("care-prod-nlfhir-rollout")
    assert flagged.named("care-prod-nlfhir-irsa-appconfig-attachment").urn in rollout.dependencies


def test_no_alarms_no_monitor_role() -> None:
    cfg = stack_config("dev")
    plan = render(lambda: AppService("care-dev-nlfhir", cfg.apps.nlfhir, app_name="nlfhir", **_wiring()))
    assert "monitors" not in plan.named("care-dev-nlfhir-flags-env").inputs
    assert not [r for r in plan.resources if r.name.endswith("flags-monitor")]


def test_more_than_five_alarms_is_refused() -> None:
    cfg = stack_config("prod")
    six = [f"arn:aws:cloudwatch:us-east-2:333333333333:alarm:a{i}" for i in range(6)]
    with pytest.raises(Exception, match=r"care-prod-nlfhir: 6 alarms given; an AppConfig environment accepts at "
                                        r"most 5 monitors \(combine them in a composite alarm\)"):
        render(lambda: AppService("care-prod-nlfhir", cfg.apps.nlfhir, app_name="nlfhir", flag_alarm_arns=six,
                                  **_wiring()))


# -- the flag files ------------------------------------------------------------------------------

@pytest.mark.parametrize("path", sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "flags").glob("*.json")))
def test_every_flag_file_in_the_repository_is_valid(path: str) -> None:
    assert json.loads(load_flags(path))["version"] == "1"


def _write(tmp: Path, document: object) -> str:
    target = ROOT / "flags" / f"_test-{tmp.name}.json"
    target.write_text(json.dumps(document))
    return target.relative_to(ROOT).as_posix()


@pytest.fixture
def scratch(tmp_path: Path):  # type: ignore[no-untyped-def]
    yield tmp_path
    for leftover in (ROOT / "flags").glob(f"_test-{tmp_path.name}.json"):
        leftover.unlink()


def test_invalid_flag_documents_are_refused_with_one_line(scratch: Path) -> None:
    cases = [
        ({"version": "2"}, "version: Input should be '1'"),
        ({"version": "1", "flags": {"a": {}}, "values": {"a": {"enabled": "yes"}}},
         "values.a.enabled: Input should be a valid boolean"),
        ({"version": "1",
          "flags": {"a": {"attributes": {"mode": {"constraints": {"type": "string", "required": True}}}}},
          "values": {"a": {"enabled": True, "colour": "red"}, "b": {"enabled": False}}},
         "(top): values.b: no flag of that name is defined; values.a.colour: not an attribute of flag a; "
         "values.a.mode: the attribute is required"),
    ]
    for document, problem in cases:
        path = _write(scratch, document)
        with pytest.raises(ValueError) as info:
            load_flags(path)
        assert str(info.value) == f"{path}: not a valid AWS.AppConfig.FeatureFlags document: {problem}"
    with pytest.raises(ValueError, match=r"^flags/missing\.json: no such file \(the feature-flag definitions live "
                                         r"in the repository\)$"):
        load_flags("flags/missing.json")


def test_config_errors_name_the_stack_key_and_file() -> None:
    raw = with_overrides(stack_raw("prod"), {"apps.nlfhir.featureFlags": {
        "file": "flags/missing.json", "strategy": {"growthFactor": 0.5, "deploymentDurationMinutes": 2000}}})
    with pytest.raises(config.ConfigError) as info:
        config.validate("prod", raw)
    assert info.value.lines == [
        "prod: apps.nlfhir.featureFlags.file: 'flags/missing.json': flags/missing.json: no such file (the "
        "feature-flag definitions live in the repository)",
        "prod: apps.nlfhir.featureFlags.strategy.growthFactor: 0.5: Input should be greater than or equal to 1",
        "prod: apps.nlfhir.featureFlags.strategy.deploymentDurationMinutes: 2000: Input should be less than or equal "
        "to 1440",
    ]
