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

The routing key is never in the generated text: it holds the External Secrets template placeholder
``{{ .pagerdutyRoutingKey }}`` (ESO template engine v2, https://external-secrets.io/latest/guides/templating/),
which ESO fills from Secrets Manager into the Secret Alertmanager reads. It is the only template action in the
document, so ESO's Go template leaves everything else as written.
"""

from __future__ import annotations

from typing import Any

import yaml

from components.alerting.config import AlertingConfig

#: The ExternalSecret's data key that the template reads.
ROUTING_KEY_FIELD = "pagerdutyRoutingKey"
ROUTING_KEY_PLACEHOLDER = "{{ ." + ROUTING_KEY_FIELD + " }}"

#: Receiver names, by severity.
RECEIVERS: dict[str, str] = {"P1": "pagerduty-p1", "P2": "pagerduty-p2", "P3": "ticket", "P4": "ticket"}
GROUP_BY: tuple[str, ...] = ("alertname", "service", "namespace")


def alertmanager_config(config: AlertingConfig) -> dict[str, Any]:
    """The configuration as data (with the routing-key placeholder)."""
    pagerduty = [
        {"name": RECEIVERS[sev], "pagerduty_configs": [{
            "routing_key": ROUTING_KEY_PLACEHOLDER,
            "severity": pd_severity,
            "send_resolved": True,
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
    text = yaml.safe_dump(alertmanager_config(config), sort_keys=False, width=120)
    if text.count("{{") != 2 or text.count(ROUTING_KEY_PLACEHOLDER) != 2:  # pragma: no cover - a guard
        raise ValueError("the Alertmanager template must hold no template action but the routing key")
    return text


def rendered(config: AlertingConfig, routing_key: str) -> str:
    """What ESO writes into the Secret, given the routing key (for amtool, in tests)."""
    return alertmanager_template(config).replace(ROUTING_KEY_PLACEHOLDER, routing_key)
