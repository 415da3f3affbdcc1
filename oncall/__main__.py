"""care-oncall: the platform's on-call in PagerDuty, as code (EPIC-024: rotations, escalation, channels).

What a page goes through, end to end:
  Alertmanager (P1..P4, `service` label)  --Events API v2-->  the event orchestration's routing key
      (the environment stacks' `pagerdutyIntegrationKey` secret)
      --router: custom_details.service--> the NL-FHIR, PRM or platform service (default: platform)
  CloudWatch alarms --SNS--> the platform service's CloudWatch integration
      (the environment stacks' `pagerdutyCloudwatchUrl` secret)
Each service's urgency follows the event's severity (P1 critical and P2 error: high urgency, escalating
through the team's policy; P3 warning and P4 info: low urgency, notify without escalating).
Escalation per team: the primary schedule, then the secondary (the next person in the same rotation),
then the team's managers, repeated `escalation.loops` times.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import pulumi
import pulumi_pagerduty as pagerduty

# The Pulumi CLI runs this file with oncall/ as the working directory; the model is imported from the
# repository's package so that the tests and the program read the same code.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from oncall.model import SERVICE_KEYS, Roster, RosterError, load  # noqa: E402

try:
    roster: Roster = load(pulumi.Config("care-oncall").get("roster"))
except RosterError as error:
    raise pulumi.RunError("invalid on-call roster:\n  " + "\n  ".join(error.lines)) from None

# --- People and teams ------------------------------------------------------------------------------------
users = {
    person.email: pagerduty.User(
        f"user-{person.email.split('@')[0]}",
        pagerduty.UserArgs(name=person.name, email=person.email, role=person.role,
                           time_zone=roster.rotation.time_zone),
    )
    for person in roster.people
}
teams: dict[str, pagerduty.Team] = {}
for key, team in roster.teams.items():
    teams[key] = pagerduty.Team(f"team-{key}", pagerduty.TeamArgs(name=team.name,
                                                                  description=f"care-platform: {team.name}"))
    members = dict.fromkeys([*team.rotation, *team.managers])
    for email in members:
        pagerduty.TeamMembership(
            f"team-{key}-{email.split('@')[0]}",
            pagerduty.TeamMembershipArgs(team_id=teams[key].id, user_id=users[email].id,
                                         role="manager" if email in team.managers else "responder"),
        )

# --- Schedules: primary and secondary from one rotation, the secondary one shift behind ----------------
shift = timedelta(hours=roster.rotation.shift_hours)
start = roster.rotation.start


def schedule(key: str, level: str, order: tuple[str, ...]) -> pagerduty.Schedule:
    return pagerduty.Schedule(
        f"schedule-{key}-{level}",
        pagerduty.ScheduleArgs(
            name=f"{roster.teams[key].name} - {level}",
            time_zone=roster.rotation.time_zone,
            teams=[teams[key].id],
            layers=[pagerduty.ScheduleLayerArgs(
                name=f"{level} rotation",
                start=start.isoformat(),
                rotation_virtual_start=start.isoformat(),
                rotation_turn_length_seconds=int(shift.total_seconds()),
                users=[users[email].id for email in order],
            )],
        ),
    )


policies: dict[str, pagerduty.EscalationPolicy] = {}
for key, team in roster.teams.items():
    primary = schedule(key, "primary", team.rotation)
    # The same people, rotated by one: whoever was primary last shift is secondary this shift.
    secondary = schedule(key, "secondary", (*team.rotation[-1:], *team.rotation[:-1]))
    esc = roster.escalation
    policies[key] = pagerduty.EscalationPolicy(
        f"escalation-{key}",
        pagerduty.EscalationPolicyArgs(
            name=f"{team.name} - escalation",
            description="High urgency (P1, P2): primary, then secondary, then the managers.",
            teams=teams[key].id,
            num_loops=esc.loops,
            rules=[
                pagerduty.EscalationPolicyRuleArgs(
                    escalation_delay_in_minutes=esc.primary_minutes,
                    targets=[pagerduty.EscalationPolicyRuleTargetArgs(type="schedule_reference", id=primary.id)]),
                pagerduty.EscalationPolicyRuleArgs(
                    escalation_delay_in_minutes=esc.secondary_minutes,
                    targets=[pagerduty.EscalationPolicyRuleTargetArgs(type="schedule_reference", id=secondary.id)]),
                pagerduty.EscalationPolicyRuleArgs(
                    escalation_delay_in_minutes=esc.secondary_minutes,
                    targets=[pagerduty.EscalationPolicyRuleTargetArgs(type="user_reference", id=users[email].id)
                             for email in team.managers]),
            ],
        ),
    )

# --- Services, their integrations, and the router that picks the service from the alert's label ---------
services: dict[str, pagerduty.Service] = {}
for key in SERVICE_KEYS:
    spec = roster.services[key]
    services[key] = pagerduty.Service(
        f"service-{key}",
        pagerduty.ServiceArgs(
            name=spec.name,
            description=spec.description,
            escalation_policy=policies[spec.team].id,
            # Alerts, not bare incidents: Alertmanager's dedup keys then update one alert per group.
            alert_creation="create_alerts_and_incidents",
            # The event's severity sets the urgency (critical/error: high; warning/info: low).
            incident_urgency_rule=pagerduty.ServiceIncidentUrgencyRuleArgs(type="constant", urgency="severity_based"),
            # Alertmanager and CloudWatch send resolves; an incident never closes on a timer.
            auto_resolve_timeout="null",
            acknowledgement_timeout="1800",
        ),
    )

cloudwatch = pagerduty.ServiceIntegration(
    "integration-platform-cloudwatch",
    pagerduty.ServiceIntegrationArgs(name="Amazon CloudWatch (SNS)", service=services["platform"].id,
                                     type="aws_cloudwatch_inbound_integration"),
)

orchestration = pagerduty.EventOrchestration(
    "orchestration",
    pagerduty.EventOrchestrationArgs(name="care-platform alerts", team=teams["platform"].id,
                                     description="Alertmanager's Events API v2 entry point for every environment"),
)
pagerduty.EventOrchestrationRouter(
    "orchestration-router",
    pagerduty.EventOrchestrationRouterArgs(
        event_orchestration=orchestration.id,
        set=pagerduty.EventOrchestrationRouterSetArgs(id="start", rules=[
            pagerduty.EventOrchestrationRouterSetRuleArgs(
                label=f"service={key}",
                conditions=[pagerduty.EventOrchestrationRouterSetRuleConditionArgs(
                    expression=f"event.custom_details.service matches '{key}'")],
                actions=pagerduty.EventOrchestrationRouterSetRuleActionsArgs(route_to=services[key].id),
            )
            for key in SERVICE_KEYS if key != "platform"
        ]),
        # Anything unlabelled reaches the platform team rather than PagerDuty's "unrouted" limbo.
        catch_all=pagerduty.EventOrchestrationRouterCatchAllArgs(
            actions=pagerduty.EventOrchestrationRouterCatchAllActionsArgs(route_to=services["platform"].id)),
    ),
)

# --- Exports: what the environment stacks need (secrets) -------------------------------------------------
def routing_key(integrations: Sequence[pagerduty.outputs.EventOrchestrationIntegration]) -> str | None:
    """The orchestration's Events API v2 routing key (PagerDuty creates one integration with it)."""
    for integration in integrations or []:
        for parameter in integration.parameters or []:
            if parameter.routing_key:
                return parameter.routing_key
    return None


pulumi.export("pagerdutyIntegrationKey", pulumi.Output.secret(orchestration.integrations.apply(routing_key)))
pulumi.export("pagerdutyCloudwatchUrl", pulumi.Output.secret(cloudwatch.integration_key.apply(
    lambda key: f"https://events.pagerduty.com/integration/{key}/enqueue")))
pulumi.export("services", {key: service.id for key, service in services.items()})
pulumi.export("escalationPolicies", {key: policy.id for key, policy in policies.items()})
