"""The on-call program (oncall/), rendered offline through its real program and stack file."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pulumi
import pytest
import yaml

from offline.engine import Plan, run, run_stack
from offline.program import main
from offline.stackfile import ROOT
from oncall.model import RosterError, load

ONCALL = ROOT / "oncall"


@pytest.fixture(scope="module")
def plan() -> Plan:
    return run_stack("org", ONCALL)


def roster() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((ONCALL / "Pulumi.org.yaml").read_text())["config"]["care-oncall:roster"]


def ids(plan: Plan, type_: str) -> dict[str, dict]:  # type: ignore[type-arg]
    return {r.name: r.inputs for r in plan.of_type(type_)}


def test_one_service_per_product_and_the_platform_with_severity_based_urgency(plan: Plan) -> None:
    services = ids(plan, "pagerduty:index/service:Service")
    assert sorted(services) == ["service-nlfhir", "service-platform", "service-prm"]
    for inputs in services.values():
        assert inputs["alertCreation"] == "create_alerts_and_incidents"
        assert inputs["incidentUrgencyRule"] == {"type": "constant", "urgency": "severity_based"}
        assert inputs["autoResolveTimeout"] == "null"
        assert inputs["acknowledgementTimeout"] == "1800"
    assert services["service-nlfhir"]["escalationPolicy"] == "escalation-nlfhir"
    assert services["service-platform"]["escalationPolicy"] == "escalation-platform"


def test_escalation_goes_primary_then_secondary_then_managers(plan: Plan) -> None:
    policy = plan.named("escalation-platform").inputs
    assert policy["numLoops"] == 2
    assert policy["rules"] == [
        {"escalationDelayInMinutes": 10,
         "targets": [{"type": "schedule_reference", "id": "schedule-platform-primary"}]},
        {"escalationDelayInMinutes": 10,
         "targets": [{"type": "schedule_reference", "id": "schedule-platform-secondary"}]},
        {"escalationDelayInMinutes": 10, "targets": [{"type": "user_reference", "id": "user-grace.obi"}]},
    ]


def test_secondary_is_the_same_rotation_one_shift_behind(plan: Plan) -> None:
    primary = plan.named("schedule-platform-primary").inputs["layers"][0]
    secondary = plan.named("schedule-platform-secondary").inputs["layers"][0]
    assert primary["users"] == ["user-dana.whitfield", "user-marcus.ilunga", "user-priya.raman"]
    assert secondary["users"] == ["user-priya.raman", "user-dana.whitfield", "user-marcus.ilunga"]
    assert primary["rotationTurnLengthSeconds"] == 168 * 3600
    assert primary["start"] == primary["rotationVirtualStart"] == "2027-01-04T09:00:00-05:00"
    assert plan.named("schedule-platform-primary").inputs["timeZone"] == "America/New_York"


def test_alerts_route_to_the_service_their_label_names_and_default_to_the_platform(plan: Plan) -> None:
    router = plan.named("orchestration-router").inputs
    assert router["set"] == {"id": "start", "rules": [
        {"label": "service=nlfhir", "conditions": [{"expression": "event.custom_details.service matches 'nlfhir'"}],
         "actions": {"routeTo": "service-nlfhir"}},
        {"label": "service=prm", "conditions": [{"expression": "event.custom_details.service matches 'prm'"}],
         "actions": {"routeTo": "service-prm"}},
    ]}
    assert router["catchAll"] == {"actions": {"routeTo": "service-platform"}}


def test_cloudwatch_alarms_reach_the_platform_service_and_keys_are_exported_as_secrets(plan: Plan) -> None:
    integration = plan.named("integration-platform-cloudwatch").inputs
    assert integration == {"name": "Amazon CloudWatch (SNS)", "service": "service-platform",
                           "type": "aws_cloudwatch_inbound_integration"}
    assert plan.outputs["pagerdutyIntegrationKey"] == "[secret]"
    assert plan.outputs["pagerdutyCloudwatchUrl"] == "[secret]"


def test_managers_join_their_team_as_managers_and_the_rotation_as_responders(plan: Plan) -> None:
    memberships = ids(plan, "pagerduty:index/teamMembership:TeamMembership")
    assert memberships["team-nlfhir-grace.obi"] == {"teamId": "team-nlfhir", "userId": "user-grace.obi",
                                                    "role": "manager"}
    assert memberships["team-nlfhir-tomas.keller"]["role"] == "responder"
    assert len(memberships) == 10


@pytest.mark.parametrize(("change", "expected"), [
    (lambda r: r["teams"]["prm"]["rotation"].append("nobody@example.org"),
     "care-oncall:roster: teams.prm.rotation: nobody@example.org is not in people"),
    (lambda r: r["rotation"].update(timeZone="Mars/Olympus"),
     "care-oncall:roster.rotation.timeZone: 'Mars/Olympus' is not an IANA time zone (e.g. America/New_York)"),
    (lambda r: r["rotation"].update(start="2027-01-04T09:00:00"),
     "care-oncall:roster.rotation.start: needs a UTC offset, e.g. 2027-01-04T09:00:00-05:00"),
    (lambda r: r["escalation"].update(loops=10),
     "care-oncall:roster.escalation.loops: Input should be less than or equal to 9"),
    (lambda r: r["services"].pop("prm"),
     "care-oncall:roster: services: missing prm (the platform's alerts are labelled service=nlfhir|prm|platform)"),
    (lambda r: r["people"].append({"name": "Dup", "email": "grace.obi@example.com"}),
     "care-oncall:roster: people: two addresses share the name 'grace.obi' before the @ "
     "(it names their PagerDuty resources)"),
])
def test_a_bad_roster_is_one_line_per_problem(change, expected: str) -> None:  # type: ignore[no-untyped-def]
    raw = roster()
    change(raw)
    with pytest.raises(RosterError) as caught:
        load(json.dumps(raw))
    assert caught.value.lines == [expected]


def test_the_program_refuses_a_bad_roster_before_creating_anything() -> None:
    raw = roster()
    raw["teams"]["prm"]["managers"] = ["nobody@example.org"]
    values = {"care-oncall:roster": json.dumps(raw)}
    with pytest.raises(pulumi.RunError) as caught:
        run(lambda: runpy.run_path(str(ONCALL / "__main__.py"), run_name="__main__"),
            stack="org", values=values, secret_keys=[], project="care-oncall")
    assert str(caught.value) == ("invalid on-call roster:\n"
                                 "  care-oncall:roster: teams.prm.managers: nobody@example.org is not in people")


def test_the_cli_renders_the_org_stack_and_writes_its_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["oncall", "--no-tree", "--out", str(tmp_path / "build")]) == 0
    written = json.loads((tmp_path / "build" / "oncall-org" / "plan.json").read_text())
    assert written["project"] == "care-oncall"
    assert "ok  oncall org: 35 resources" in capsys.readouterr().out
