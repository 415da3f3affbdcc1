"""The Alertmanager configuration, generated: routing by severity, grouping, inhibitions.

* P1 and P2 go to PagerDuty through the Events API v2 (``pagerduty_configs.routing_key``), P3 and P4 to the
  ticket/chat webhook from config; an alert without a known severity falls through to the ticket receiver, so it
  is never dropped.
* Grouped by ``alertname``, ``service`` and ``namespace``. Alertmanager sends PagerDuty a ``dedup_key`` derived from
  the group key (the route and these labels), so a re-fire of the same group updates the same PagerDuty alert
  instead of opening a new incident (https://prometheus.io/docs/alerting/latest/configuration/#pagerduty_config).
* Inhibitions: a P1 of a service silences that service's P2-P4 alerts; ``ClusterOutage`` (scope ``cluster``)
  silences every per-service and per-workload alert.
* PagerDuty's ``severity`` must be critical, error, warning or info (Events API v2), so it is set per receiver.

* Each PagerDuty event carries ``custom_details.service``: the product (the alert's ``product`` label: nlfhir,
  prm; empty for cluster alerts), which the on-call orchestration (oncall/) routes on to the product's
  PagerDuty service (anything else goes to the platform service); and a link to the alert's runbook.

The routing key is never in the generated text: it holds the External Secrets template placeholder
``{{ .pagerdutyRoutingKey }}`` (ESO template engine v2, https://external-secrets.io/latest/guides/templating/),
which ESO fills from Secrets Manager into the Secret Alertmanager reads. Alertmanager's own template actions
are wrapped for ESO as Go raw-string literals (``{{ `{{ .CommonLabels.product }}` }}``, the escape ESO's
documentation gives), so ESO writes them out unchanged.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from components.alerting.config import AlertingConfig

#: The ExternalSecret's data key that the template reads.
ROUTING_KEY_FIELD = "pagerdutyRoutingKey"
ROUTING_KEY_PLACEHOLDER = "{{ ." + ROUTING_KEY_FIELD + " }}"

#: Receiver names, by severity.
RECEIVERS: dict[str, str] = {"P1": "pagerduty-p1", "P2": "pagerduty-p2", "P3": "ticket", "P4": "ticket"}
GROUP_BY: tuple[str, ...] = ("alertname", "service", "namespace")

_WRAPPED = re.compile(r"\{\{ `([^`]*)` \}\}")


def am(action: str) -> str:
    """An Alertmanager template action, escaped for ESO's template engine (printed as a raw-string literal)."""
    if "`" in action:  # pragma: no cover - a guard for the generator itself
        raise ValueError(f"an Alertmanager template action may not hold a backtick: {action}")
    return "{{ `" + action + "` }}"


def _pagerduty_details() -> dict[str, str]:
    return {
        "service": am("{{ .CommonLabels.product }}"),
        "k8s_service": am("{{ .CommonLabels.service }}"),
        "namespace": am("{{ .CommonLabels.namespace }}"),
        "firing": am('{{ template "pagerduty.default.instances" .Alerts.Firing }}'),
        "resolved": am('{{ template "pagerduty.default.instances" .Alerts.Resolved }}'),
        "num_firing": am("{{ .Alerts.Firing | len }}"),
        "num_resolved": am("{{ .Alerts.Resolved | len }}"),
    }


def alertmanager_config(config: AlertingConfig) -> dict[str, Any]:
    """The configuration as data (with the routing-key placeholder)."""
    pagerduty = [
        {"name": RECEIVERS[sev], "pagerduty_configs": [{
            "routing_key": ROUTING_KEY_PLACEHOLDER,
            "severity": pd_severity,
            "send_resolved": True,
            "details": _pagerduty_details(),
            "links": [{"href": am("{{ .CommonAnnotations.runbook_url }}"), "text": "runbook"}],
        }]}
        for sev, pd_severity in (("P1", "critical"), ("P2", "error"))
    ]
    ticket = {"name": "ticket", "webhook_configs": [{"url": config.ticket_webhook_url, "send_resolved": True}]}
    return {
        "global": {"resolve_timeout": "5m"},
        "route": {
            "receiver": "ticket",
            "group_by": list(GROUP_BY),
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": [
                {"receiver": RECEIVERS["P1"], "matchers": ['severity="P1"'], "group_wait": "10s",
                 "repeat_interval": "1h"},
                {"receiver": RECEIVERS["P2"], "matchers": ['severity="P2"'], "repeat_interval": "2h"},
                {"receiver": "ticket", "matchers": ['severity=~"P3|P4"'], "repeat_interval": "24h"},
            ],
        },
        "inhibit_rules": [
            {"source_matchers": ['severity="P1"', 'scope="service"'],
             "target_matchers": ['severity=~"P2|P3|P4"', 'scope="service"'],
             "equal": ["namespace", "service"]},
            {"source_matchers": ['alertname="ClusterOutage"', 'scope="cluster"'],
             "target_matchers": ['scope=~"service|workload"']},
        ],
        "receivers": [*pagerduty, ticket],
    }


def alertmanager_template(config: AlertingConfig) -> str:
    """``alertmanager.yaml`` as the ExternalSecret's template (the routing key left as the placeholder)."""
    return yaml.safe_dump(alertmanager_config(config), sort_keys=False, width=200)


def eso_actions(text: str) -> list[str]:
    """Every template action ESO would execute in ``text``, outermost first (``{{ ... }}`` not nested)."""
    return re.findall(r"\{\{ `[^`]*` \}\}|\{\{[^{}]*\}\}", text)


def rendered(config: AlertingConfig, routing_key: str) -> str:
    """What ESO writes into the Secret given the routing key (for amtool, in tests): the placeholder filled, the
    raw-string literals printed. Refuses any other ESO action, which this emulation would not execute."""
    text = alertmanager_template(config)
    others = [a for a in eso_actions(text) if a != ROUTING_KEY_PLACEHOLDER and not _WRAPPED.fullmatch(a)]
    if others:
        raise ValueError(f"ESO template actions other than the routing key and literals: {others}")
    return _WRAPPED.sub(lambda m: m.group(1), text.replace(ROUTING_KEY_PLACEHOLDER, routing_key))
