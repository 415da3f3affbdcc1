"""The ChromaDb component, rendered under the mock engine, asserted exactly."""

from __future__ import annotations

import pytest

import config
from components.app_service import AppService
from components.chromadb import ChromaDb
from tests.helpers import PROD_TAGS, render, stack_config, stack_raw, untagged, with_overrides

SECRETS_KEY = "arn:aws:kms:us-east-2:333333333333:key/secrets-key"
NAME = "care-prod-chromadb"
SELECTOR = {"matchLabels": {"app.kubernetes.io/name": "chromadb"}}


def _render(stack: str):  # type: ignore[no-untyped-def]
    cfg = stack_config(stack)

    def build() -> None:
        ChromaDb(NAME, cfg.chromadb, storage_class_name="gp3-encrypted",
                 client_pod_labels=AppService.labels_for("nlfhir"), client_namespace="nlfhir",
                 client_service_account="nlfhir", secrets_kms_key_arn=SECRETS_KEY, tags=PROD_TAGS)

    return render(build)


@pytest.fixture(scope="module")
def prod():  # type: ignore[no-untyped-def]
    return _render("prod")


def _spec(plan):  # type: ignore[no-untyped-def]
    return plan.named(f"{NAME}-statefulset").inputs["spec"]


def test_children(prod) -> None:  # type: ignore[no-untyped-def]
    assert prod.counts() == {
        "aws:secretsmanager/secret:Secret": 1, "aws:secretsmanager/secretVersion:SecretVersion": 1,
        "care:compute:ChromaDb": 1, "kubernetes:apps/v1:StatefulSet": 1, "kubernetes:core/v1:Secret": 1,
        "kubernetes:core/v1:PersistentVolumeClaim": 1,
        "kubernetes:core/v1:Service": 2, "kubernetes:networking.k8s.io/v1:NetworkPolicy": 1,
        "kubernetes:policy/v1:PodDisruptionBudget": 1, "random:index/randomPassword:RandomPassword": 1,
        "kubernetes:security.istio.io/v1:AuthorizationPolicy": 1,
    }
    component = prod.named(NAME)
    assert all(r.parent == component.urn for r in prod.resources if r is not component)
    assert untagged(prod, PROD_TAGS) == []


def test_data_volume_is_a_standalone_50_gib_claim_that_can_grow(prod) -> None:  # type: ignore[no-untyped-def]
    # No volumeClaimTemplates: they are immutable on a StatefulSet, so a size change could never apply.
    spec = _spec(prod)
    assert "volumeClaimTemplates" not in spec and "persistentVolumeClaimRetentionPolicy" not in spec
    claim = prod.named(f"{NAME}-data")
    assert claim.inputs["metadata"] == {
        "name": "data-chromadb-0", "namespace": "nlfhir",
        "labels": {"app.kubernetes.io/name": "chromadb", "app.kubernetes.io/part-of": "care-platform",
                   "app.kubernetes.io/managed-by": "pulumi"},
        "annotations": {"pulumi.com/skipAwait": "true"}}
    assert claim.inputs["spec"] == {"accessModes": ["ReadWriteOnce"], "storageClassName": "gp3-encrypted",
                                    "resources": {"requests": {"storage": "50Gi"}}}
    assert claim.protect is True
    volumes = spec["template"]["spec"]["volumes"]
    assert volumes[0] == {"name": "data", "persistentVolumeClaim": {"claimName": "data-chromadb-0"}}
    assert (spec["replicas"], spec["serviceName"]) == (1, "chromadb-headless")
    server = prod.named(f"{NAME}-statefulset")
    assert server.protect is True
    assert claim.urn in server.dependencies


def test_growing_the_volume_changes_only_the_claims_request() -> None:
    small, large = (render(lambda size=size: ChromaDb(  # type: ignore[misc]
        NAME, stack_config("prod", chromadb__storageGib=size).chromadb, storage_class_name="gp3-encrypted",
        client_pod_labels=AppService.labels_for("nlfhir"), secrets_kms_key_arn=SECRETS_KEY, tags=PROD_TAGS))
        for size in (50, 80))
    assert large.named(f"{NAME}-data").inputs["spec"]["resources"] == {"requests": {"storage": "80Gi"}}
    # The StatefulSet is untouched: nothing immutable changes when the volume grows.
    assert small.named(f"{NAME}-statefulset").inputs == large.named(f"{NAME}-statefulset").inputs


def test_dev_volume_size_and_protection_come_from_config() -> None:
    cfg = stack_config("dev")
    plan = render(lambda: ChromaDb(NAME, cfg.chromadb, storage_class_name="gp3-encrypted",
                                   client_pod_labels=AppService.labels_for("nlfhir"), secrets_kms_key_arn=SECRETS_KEY,
                                   protect=cfg.protection.protect, tags=PROD_TAGS))
    assert plan.named(f"{NAME}-data").inputs["spec"]["resources"] == {"requests": {"storage": "10Gi"}}
    assert plan.named(f"{NAME}-data").protect is False
    assert plan.named(f"{NAME}-statefulset").protect is False


def test_token_rotates_by_generation_and_restarts_the_server(prod) -> None:  # type: ignore[no-untyped-def]
    assert prod.named(f"{NAME}-token").inputs["keepers"] == {"generation": "1"}
    assert _spec(prod)["template"]["metadata"]["annotations"] == {"care.platform/token-generation": "1"}
    rotated = render(lambda: ChromaDb(
        NAME, stack_config("prod", chromadb__tokenGeneration=2).chromadb, storage_class_name="gp3-encrypted",
        client_pod_labels=AppService.labels_for("nlfhir"), secrets_kms_key_arn=SECRETS_KEY, tags=PROD_TAGS))
    # New keeper -> new token; new pod-template annotation -> the server restarts and reads it.
    assert rotated.named(f"{NAME}-token").inputs["keepers"] == {"generation": "2"}
    assert _spec(rotated)["template"]["metadata"]["annotations"] == {"care.platform/token-generation": "2"}


def test_server_container_memory_probes_and_token_auth(prod) -> None:  # type: ignore[no-untyped-def]
    container = _spec(prod)["template"]["spec"]["containers"][0]
    assert container["image"] == "chromadb/chroma:0.5.23"
    assert container["resources"] == {"requests": {"cpu": "1", "memory": "4Gi"},
                                      "limits": {"cpu": "1", "memory": "4Gi"}}
    heartbeat = {"httpGet": {"path": "/api/v1/heartbeat", "port": "http"}}
    assert container["readinessProbe"] == {**heartbeat, "periodSeconds": 10, "timeoutSeconds": 3, "failureThreshold": 3}
    assert container["livenessProbe"] == {**heartbeat, "initialDelaySeconds": 30, "periodSeconds": 20,
                                          "timeoutSeconds": 5, "failureThreshold": 6}
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}
    assert env == {
        "IS_PERSISTENT": "TRUE", "PERSIST_DIRECTORY": "/data", "ANONYMIZED_TELEMETRY": "FALSE",
        "CHROMA_SERVER_AUTHN_PROVIDER": "chromadb.auth.token_authn.TokenAuthenticationServerProvider",
        "CHROMA_AUTH_TOKEN_TRANSPORT_HEADER": "Authorization",
        "CHROMA_SERVER_AUTHN_CREDENTIALS": {"secretKeyRef": {"name": "chromadb-auth", "key": "token"}},
    }
    assert container["volumeMounts"] == [{"name": "data", "mountPath": "/data"}, {"name": "tmp", "mountPath": "/tmp"}]


def test_token_is_a_secret_in_state_and_in_secrets_manager(prod) -> None:  # type: ignore[no-untyped-def]
    assert prod.named(f"{NAME}-auth").inputs["stringData"] == "[secret]"
    assert prod.named(f"{NAME}-token").inputs["length"] == 48
    aws_secret = prod.named(f"{NAME}-token-secret")
    assert aws_secret.inputs["kmsKeyId"] == SECRETS_KEY
    assert aws_secret.inputs["name"] == f"{NAME}/auth-token"
    version = prod.named(f"{NAME}-token-version")
    assert version.inputs["secretString"] == "[secret]"


def test_hardened_security_context(prod) -> None:  # type: ignore[no-untyped-def]
    pod = _spec(prod)["template"]["spec"]
    assert pod["securityContext"] == {"runAsNonRoot": True, "runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000,
                                      "fsGroupChangePolicy": "OnRootMismatch",
                                      "seccompProfile": {"type": "RuntimeDefault"}}
    assert pod["containers"][0]["securityContext"] == {
        "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
        "privileged": False, "capabilities": {"drop": ["ALL"]}}
    assert pod["automountServiceAccountToken"] is False


def test_headless_and_cluster_ip_services(prod) -> None:  # type: ignore[no-untyped-def]
    port = [{"name": "http", "port": 8000, "targetPort": "http", "protocol": "TCP", "appProtocol": "http"}]
    headless = prod.named(f"{NAME}-headless").inputs
    assert headless["metadata"]["name"] == "chromadb-headless"
    assert headless["spec"] == {"clusterIP": "None", "selector": SELECTOR["matchLabels"],
                                "publishNotReadyAddresses": True, "ports": port}
    service = prod.named(f"{NAME}-service").inputs
    assert service["metadata"]["name"] == "chromadb"
    assert service["spec"] == {"type": "ClusterIP", "selector": SELECTOR["matchLabels"], "ports": port}


def test_pdb_and_network_policy_admit_only_the_nlfhir_api(prod) -> None:  # type: ignore[no-untyped-def]
    assert prod.named(f"{NAME}-pdb").inputs["spec"] == {"maxUnavailable": 1, "selector": SELECTOR}
    policy = prod.named(f"{NAME}-netpol").inputs
    assert policy["metadata"]["namespace"] == "nlfhir"
    assert policy["spec"] == {
        "podSelector": SELECTOR,
        "policyTypes": ["Ingress"],
        "ingress": [{"from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "nlfhir"}},
                               "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "nlfhir"}}}],
                     "ports": [{"port": 8000, "protocol": "TCP"}]},
                    # Prometheus scrapes the sidecar's merged metrics endpoint (components/scraping.py).
                    {"from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
                               "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
                     "ports": [{"port": 15020, "protocol": "TCP"}]}],
    }


def test_config_errors() -> None:
    raw = with_overrides(stack_raw("prod"), {"chromadb.image": "chromadb/chroma:latest", "chromadb.storageGib": 0})
    with pytest.raises(config.ConfigError) as info:
        config.validate("prod", raw)
    assert info.value.lines == [
        "prod: chromadb.image: 'chromadb/chroma:latest': must be pinned to a tag other than 'latest' or to a digest "
        "(repo:1.2.3 or repo@sha256:...)",
        "prod: chromadb.storageGib: 0: Input should be greater than or equal to 1",
    ]


def test_authorization_policy_admits_only_the_nlfhir_api_identity(prod) -> None:  # type: ignore[no-untyped-def]
    policy = prod.named(f"{NAME}-authz").inputs
    assert (policy["metadata"]["name"], policy["metadata"]["namespace"]) == ("chromadb", "nlfhir")
    assert policy["spec"] == {
        "selector": {"matchLabels": {"app.kubernetes.io/name": "chromadb"}}, "action": "ALLOW",
        "rules": [{"from": [{"source": {"principals": ["cluster.local/ns/nlfhir/sa/nlfhir"]}}],
                   "to": [{"operation": {"ports": ["8000"]}}]}]}
