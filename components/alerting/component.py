"""The in-cluster alerting: PrometheusRules generated from the SLO spec, the Alertmanager configuration as a
Secret written by External Secrets (the PagerDuty routing key from Secrets Manager, never in a ConfigMap or in
Pulumi's Kubernetes objects), and the SLO dashboard.

* The PagerDuty Events API v2 routing key (the stack secret ``pagerdutyIntegrationKey``) is stored in a Secrets
  Manager secret encrypted with the secrets key; an ExternalSecret, through a SecretStore that authenticates as
  its own service account (IRSA, read access to that one secret only), renders ``alertmanager.yaml`` from the
  generated template into the Secret ``alertmanager-care-config``, which kube-prometheus-stack's Alertmanager
  reads (``alertmanager.alertmanagerSpec.configSecret``).
* One ``PrometheusRule`` (``monitoring.coreos.com/v1``) per service (``slo-<service>``) and one for the
  infrastructure alerts, in the monitoring namespace; Prometheus selects every PrometheusRule of the cluster.
* The SLO dashboard as a ConfigMap labelled ``grafana_dashboard: "1"``.

The CRDs (PrometheusRule: kube-prometheus-stack; ExternalSecret: External Secrets) must exist first: the
objects wait for ``wait_for``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.alerting.alertmanager import ROUTING_KEY_FIELD, alertmanager_template
from components.alerting.config import AlertingConfig
from components.alerting.dashboard import slo_dashboard_json
from components.alerting.rules import rule_groups
from components.app_service import EXTERNAL_SECRETS_API, secrets_manager_store_spec, secrets_read_policy
from components.common import child_opts, managed_role_policy, tags_for
from components.eks import irsa_trust_policy

#: The Secret kube-prometheus-stack's Alertmanager reads its whole configuration from.
ALERTMANAGER_SECRET = "alertmanager-care-config"
ALERTMANAGER_SECRET_KEY = "alertmanager.yaml"
#: The service account the SecretStore authenticates as.
SECRET_READER = "alertmanager-config-reader"
PROMETHEUS_RULE_API = "monitoring.coreos.com/v1"


class Alerting(pulumi.ComponentResource):
    """PrometheusRules, the Alertmanager configuration Secret (through External Secrets) and the SLO dashboard."""

    def __init__(
        self,
        name: str,
        config: AlertingConfig,
        *,
        namespaces: Mapping[str, str],
        pagerduty_routing_key: pulumi.Input[str],
        secret_kms_key_arn: pulumi.Input[str],
        region: str,
        oidc_provider_arn: pulumi.Input[str],
        oidc_issuer: pulumi.Input[str],
        protect: bool,
        wait_for: Sequence[pulumi.Resource],
        tags: Mapping[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("care:observability:Alerting", name, None, opts)
        ns = config.namespace
        labels = {"app.kubernetes.io/name": "care-alerting", "app.kubernetes.io/part-of": "care-platform",
                  "app.kubernetes.io/managed-by": "pulumi"}

        self.pagerduty_secret = aws.secretsmanager.Secret(
            f"{name}-pagerduty",
            aws.secretsmanager.SecretArgs(
                name=f"{name}/pagerduty",
                description="PagerDuty Events API v2 routing key of Alertmanager (P1 and P2 pages)",
                kms_key_id=secret_kms_key_arn,
                recovery_window_in_days=30 if protect else 0,
                tags=tags_for(tags, f"{name}-pagerduty"),
            ),
            child_opts(self),
        )
        version = aws.secretsmanager.SecretVersion(
            f"{name}-pagerduty-version",
            aws.secretsmanager.SecretVersionArgs(
                secret_id=self.pagerduty_secret.id,
                secret_string=pulumi.Output.json_dumps({"routingKey": pagerduty_routing_key}),
            ),
            child_opts(self),
        )
        role = aws.iam.Role(
            f"{name}-irsa",
            aws.iam.RoleArgs(description=f"IRSA: {ns}/{SECRET_READER} (reads the PagerDuty routing key only)",
                             assume_role_policy=irsa_trust_policy(oidc_provider_arn, oidc_issuer, ns, SECRET_READER),
                             tags=tags_for(tags, f"{name}-irsa")),
            child_opts(self),
        )
        role_policy = managed_role_policy(
            f"{name}-irsa-secret",
            aws.iam.RolePolicyArgs(role=role.name, policy=pulumi.Output.all(
                self.pagerduty_secret.arn, secret_kms_key_arn).apply(
                lambda a: secrets_read_policy([a[0]], [a[1]], region))),
            child_opts(self), tags=tags,
        )
        service_account = k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=SECRET_READER, namespace=ns, labels=labels,
                                                annotations={"eks.amazonaws.com/role-arn": role.arn}),
            automount_service_account_token=False,
            opts=child_opts(self, depends_on=list(wait_for)),
        )
        store = k8s.apiextensions.CustomResource(
            f"{name}-secret-store",
            api_version=EXTERNAL_SECRETS_API,
            kind="SecretStore",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=SECRET_READER, namespace=ns, labels=labels),
            spec=secrets_manager_store_spec(region, SECRET_READER),
            opts=child_opts(self, depends_on=[*wait_for, service_account, role_policy]),
        )
        self.external_secret = k8s.apiextensions.CustomResource(
            f"{name}-alertmanager-config",
            api_version=EXTERNAL_SECRETS_API,
            kind="ExternalSecret",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=ALERTMANAGER_SECRET, namespace=ns, labels=labels),
            spec={
                "refreshInterval": "1h",
                "secretStoreRef": {"name": SECRET_READER, "kind": "SecretStore"},
                "target": {
                    "name": ALERTMANAGER_SECRET,
                    "creationPolicy": "Owner",
                    # https://external-secrets.io/latest/guides/templating/: each data value is a Go template.
                    "template": {"engineVersion": "v2", "mergePolicy": "Replace",
                                 "data": {ALERTMANAGER_SECRET_KEY: alertmanager_template(config)}},
                },
                "data": [{"secretKey": ROUTING_KEY_FIELD,
                          "remoteRef": {"key": self.pagerduty_secret.arn, "property": "routingKey"}}],
            },
            opts=child_opts(self, depends_on=[*wait_for, store, version]),
        )
        self.rules = [
            k8s.apiextensions.CustomResource(
                f"{name}-rules-{object_name}",
                api_version=PROMETHEUS_RULE_API,
                kind="PrometheusRule",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=object_name, namespace=ns, labels=labels),
                spec={"groups": groups},
                opts=child_opts(self, depends_on=list(wait_for)),
            )
            for object_name, groups in rule_groups(config, namespaces).items()
        ]
        self.dashboard = k8s.core.v1.ConfigMap(
            f"{name}-slo-dashboard",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="care-slo-dashboard", namespace=ns,
                                                labels={**labels, "grafana_dashboard": "1"}),
            data={"care-slo.json": slo_dashboard_json(config)},
            opts=child_opts(self, depends_on=list(wait_for)),
        )
        self.pagerduty_secret_arn = self.pagerduty_secret.arn
        self.register_outputs({"pagerdutySecretArn": self.pagerduty_secret_arn,
                               "prometheusRules": json.dumps(sorted(rule_groups(config, namespaces)))})
