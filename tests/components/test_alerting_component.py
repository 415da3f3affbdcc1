"""The in-cluster alerting as the prod program renders it: the PrometheusRules, the Alertmanager configuration
Secret written by External Secrets (the routing key from Secrets Manager only), and the SLO dashboard."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from components.alerting.alertmanager import alertmanager_template
from components.alerting.dashboard import slo_dashboard
from components.alerting.rules import recorded_names, rule_groups
from tests.helpers import PROD_TAGS, rendered_stack, stack_config

NAME = "care-prod-alerting"
ESO = "kubernetes:external-secrets.io/v1"
RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"


@pytest.fixture(scope="module")
def plan():  # type: ignore[no-untyped-def]
    return rendered_stack("prod")


def _children(plan, name=NAME):  # type: ignore[no-untyped-def]
    component = plan.named(name)
    assert component.type == "care:observability:Alerting"
    return [r for r in plan.resources if r.parent == component.urn]


def test_children(plan) -> None:  # type: ignore[no-untyped-def]
    assert sorted((r.type, r.name) for r in _children(plan)) == sorted([
        ("aws:secretsmanager/secret:Secret", f"{NAME}-pagerduty"),
        ("aws:secretsmanager/secretVersion:SecretVersion", f"{NAME}-pagerduty-version"),
        ("aws:iam/role:Role", f"{NAME}-irsa"),
        ("aws:iam/policy:Policy", f"{NAME}-irsa-secret"),  # customer-managed, never inline
        ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", f"{NAME}-irsa-secret-attachment"),
        ("kubernetes:core/v1:ServiceAccount", f"{NAME}-sa"),
        (f"{ESO}:SecretStore", f"{NAME}-secret-store"),
        (f"{ESO}:ExternalSecret", f"{NAME}-alertmanager-config"),
        (RULE, f"{NAME}-rules-slo-nlfhir"),
        (RULE, f"{NAME}-rules-slo-prm-api"),
        (RULE, f"{NAME}-rules-slo-prm-worker"),
        (RULE, f"{NAME}-rules-platform-infrastructure"),
        ("kubernetes:core/v1:ConfigMap", f"{NAME}-slo-dashboard"),
    ])


def test_routing_key_in_secrets_manager_encrypted_and_readable_by_one_role(plan) -> None:  # type: ignore[no-untyped-def]
    secret = plan.named(f"{NAME}-pagerduty").inputs
    secrets_key = plan.named("care-prod-chromadb-token-secret").inputs["kmsKeyId"]  # the stack's secrets key
    assert secrets_key == "arn:aws:kms:us-east-2:333333333333:key/" + plan.named(
        "care-prod-kms-secrets-alias").inputs["targetKeyId"]
    assert (secret["name"], secret["kmsKeyId"], secret["recoveryWindowInDays"]) == (
        f"{NAME}/pagerduty", secrets_key, 30)
    assert secret["tags"] == {"Name": f"{NAME}-pagerduty", **PROD_TAGS}
    assert plan.named(f"{NAME}-pagerduty-version").inputs["secretString"] == "[secret]"
    trust = json.loads(plan.named(f"{NAME}-irsa").inputs["assumeRolePolicy"])
    (condition,) = [s["Condition"]["StringEquals"] for s in trust["Statement"]]
    assert "system:serviceaccount:monitoring:alertmanager-config-reader" in condition.values()
    policy = json.loads(plan.named(f"{NAME}-irsa-secret").inputs["policy"])
    routing_key_arn = plan.named(f"{NAME}-alertmanager-config").inputs["spec"]["data"][0]["remoteRef"]["key"]
    assert policy["Statement"][0]["Resource"] == [routing_key_arn]
    assert policy["Statement"][1]["Resource"] == [secrets_key]


def test_external_secret_renders_the_alertmanager_config(plan) -> None:  # type: ignore[no-untyped-def]
    es = plan.named(f"{NAME}-alertmanager-config").inputs
    assert (es["apiVersion"], es["kind"], es["metadata"]["name"], es["metadata"]["namespace"]) == (
        "external-secrets.io/v1", "ExternalSecret", "alertmanager-care-config", "monitoring")
    target = es["spec"]["target"]
    assert target["name"] == "alertmanager-care-config"
    assert target["template"]["engineVersion"] == "v2"
    assert target["template"]["data"] == {"alertmanager.yaml": alertmanager_template(stack_config("prod").alerting)}
    (data,) = es["spec"]["data"]
    assert data["secretKey"] == "pagerdutyRoutingKey" and data["remoteRef"]["property"] == "routingKey"
    assert re.fullmatch(r"arn:aws:secretsmanager:us-east-2:333333333333:secret:.+", data["remoteRef"]["key"])
    store = plan.named(f"{NAME}-secret-store")
    assert store.urn in plan.named(f"{NAME}-alertmanager-config").dependencies
    assert plan.named(f"{NAME}-irsa-secret-attachment").urn in store.dependencies


def test_no_configmap_holds_alertmanager_config_or_a_key(plan) -> None:  # type: ignore[no-untyped-def]
    for cm in plan.of_type("kubernetes:core/v1:ConfigMap"):
        text = json.dumps(cm.inputs)
        assert "routing_key" not in text and "pagerduty" not in text.lower(), cm.name


def test_prometheus_rules_are_the_generated_groups(plan) -> None:  # type: ignore[no-untyped-def]
    cfg = stack_config("prod")
    expected = rule_groups(cfg.alerting, {"nlfhir": "nlfhir", "prm-api": "prm", "prm-worker": "prm"})
    for object_name, groups in expected.items():
        rule = plan.named(f"{NAME}-rules-{object_name}").inputs
        assert (rule["apiVersion"], rule["kind"], rule["metadata"]["name"], rule["metadata"]["namespace"]) == (
            "monitoring.coreos.com/v1", "PrometheusRule", object_name, "monitoring")
        assert rule["spec"]["groups"] == json.loads(json.dumps(groups))
        assert plan.named("care-prod-eks-external-secrets").urn in plan.named(
            f"{NAME}-rules-{object_name}").dependencies


def test_dashboard_queries_only_recording_rules_that_exist(plan) -> None:  # type: ignore[no-untyped-def]
    cm = plan.named(f"{NAME}-slo-dashboard").inputs
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1" and cm["metadata"]["namespace"] == "monitoring"
    dashboard = json.loads(cm["data"]["care-slo.json"])
    recorded = recorded_names(rule_groups(stack_config("prod").alerting,
                                          {"nlfhir": "nlfhir", "prm-api": "prm", "prm-worker": "prm"}))
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert len(exprs) == 44
    for expr in exprs:
        names = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*(?=\{)", expr))
        assert names and names <= recorded, expr
    titles = [p["title"] for p in dashboard["panels"]]
    assert "prm-api: error budget remaining (30 d)" in titles
    assert "nlfhir: fhir-validation burn rate (x budget)" in titles


def test_dashboard_check_catches_an_unknown_name() -> None:
    config = stack_config("prod").alerting
    dashboard = slo_dashboard(config)
    recorded = recorded_names(rule_groups(config, {"nlfhir": "nlfhir", "prm-api": "prm", "prm-worker": "prm"}))
    dashboard["panels"][0]["targets"][0]["expr"] = 'service:request_errors:ratio_rate4h{service="x"}'
    names = {n for p in dashboard["panels"] for t in p["targets"]
             for n in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*(?=\{)", t["expr"])}
    assert names - recorded == {"service:request_errors:ratio_rate4h"}
    assert yaml.safe_dump(dashboard)  # a plain document
