"""The AppService component (the Railway equivalent), rendered under the mock engine, asserted exactly."""

from __future__ import annotations

import json

import pulumi
import pytest

import config
from components.app_service import AppService, EnvironmentBinding, KafkaBinding, SecretRef
from components.app_service.exposure import Publication
from tests.helpers import DELETE, PROD_TAGS, render, rendered_stack, stack_config, stack_raw, with_overrides

ACCOUNT = "333333333333"
ISSUER = "https://oidc.eks.us-east-2.amazonaws.com/id/ABC123"
OIDC_ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.eks.us-east-2.amazonaws.com/id/ABC123"
SECRETS_KEY = f"arn:aws:kms:us-east-2:{ACCOUNT}:key/secrets-key"
API_SECRET = f"arn:aws:secretsmanager:us-east-2:{ACCOUNT}:secret:care-prod/nlfhir/partner-api-AbCdEf"
CERT = f"arn:aws:acm:us-east-2:{ACCOUNT}:certificate/0a1b2c3d-1111-2222-3333-444455556666"
WAF = f"arn:aws:wafv2:us-east-2:{ACCOUNT}:regional/webacl/care-prod-alb/abc-123"
MSK = f"arn:aws:kafka:us-east-2:{ACCOUNT}:cluster/care-prod-kafka/uuid-1"
PUBLIC_CIDRS = ["10.30.96.0/24", "10.30.97.0/24", "10.30.98.0/24"]
#: Prometheus (namespace monitoring) on Istio's merged metrics port: every app that serves metrics admits it.
PROMETHEUS_RULE = {"from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
                             "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
                   "ports": [{"port": 15020, "protocol": "TCP"}]}
IMAGE = f"{ACCOUNT}.dkr.ecr.us-east-2.amazonaws.com/nl-fhir:1.0.0"

FULL = {
    "apps__nlfhir__published": False,  # an Ingress of its own (the edge publishes the others)
    # The Deployment (prod's nlfhir is blue-green: tests/components/test_app_releases.py).
    "apps__nlfhir__rollout": "rolling",
    "apps__nlfhir__featureFlags": DELETE,  # AppConfig: tests/components/test_app_feature_flags.py
    "apps__nlfhir__ingress": {"host": "nlfhir.care.example", "certificateArn": CERT, "wafAclArn": WAF,
                              "scheme": "internet-facing"},
    "apps__nlfhir__preDeploy": {"command": ["alembic", "upgrade", "head"], "timeoutSeconds": 900},
    "apps__nlfhir__cronJobs": [{"name": "reindex", "schedule": "0 3 * * *", "command": ["python", "-m", "reindex"]}],
    "apps__nlfhir__secrets": {"API_SIGNING_KEY": {"secret": "care-prod/nlfhir/signing", "property": "key"}},
    "apps__nlfhir__env": {"LOG_LEVEL": "info"},
    "apps__nlfhir__allowFrom": ["prm/prm-api"],
}


def _wiring() -> dict:  # type: ignore[type-arg]
    return {"region": "us-east-2", "account_id": ACCOUNT, "oidc_provider_arn": OIDC_ARN, "oidc_issuer": ISSUER,
            "secret_kms_key_arns": [SECRETS_KEY], "tags": PROD_TAGS,
            "load_balancer_cidrs": {"internet-facing": PUBLIC_CIDRS, "internal": ["10.30.0.0/19"]}}


@pytest.fixture(scope="module")
def full():  # type: ignore[no-untyped-def]
    cfg = stack_config("prod", **FULL)

    def build() -> None:
        AppService("care-prod-nlfhir", cfg.apps.nlfhir, app_name="nlfhir",
                   bindings=[EnvironmentBinding({"CHROMA_URL": "http://chromadb.nlfhir.svc.cluster.local:8000"},
                                                {"PARTNER_API_TOKEN": SecretRef(API_SECRET, "token")})],
                   **_wiring())

    return render(build)


@pytest.fixture(scope="module")
def worker():  # type: ignore[no-untyped-def]
    cfg = stack_config("prod")

    def build() -> None:
        AppService("care-prod-prm-worker", cfg.apps.prm_worker, app_name="prm-worker",
                   bindings=[KafkaBinding(cluster_arn=MSK, bootstrap_brokers="b-1.example:9098",
                                          access=cfg.apps.prm_worker.kafka)], **_wiring())

    return render(build)


def _k8s(plan, suffix):  # type: ignore[no-untyped-def]
    return plan.named(f"care-prod-nlfhir-{suffix}").inputs


def test_children_counts_and_parentage(full, worker) -> None:  # type: ignore[no-untyped-def]
    assert full.counts() == {
        "aws:iam/role:Role": 1, "aws:iam/policy:Policy": 1,
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment": 1, "care:compute:AppService": 1,
        "kubernetes:apps/v1:Deployment": 1, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler": 1,
        "kubernetes:batch/v1:CronJob": 1, "kubernetes:batch/v1:Job": 1, "kubernetes:core/v1:Service": 1,
        "kubernetes:core/v1:ServiceAccount": 1, "kubernetes:external-secrets.io/v1:ExternalSecret": 1,
        "kubernetes:external-secrets.io/v1:SecretStore": 1, "kubernetes:networking.k8s.io/v1:Ingress": 1,
        "kubernetes:networking.k8s.io/v1:NetworkPolicy": 1, "kubernetes:policy/v1:PodDisruptionBudget": 1,
        "kubernetes:security.istio.io/v1:PeerAuthentication": 1,
        "kubernetes:security.istio.io/v1:AuthorizationPolicy": 1,
    }
    assert worker.counts() == {
        "aws:iam/role:Role": 1, "aws:iam/policy:Policy": 1,
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment": 1, "care:compute:AppService": 1,
        "kubernetes:apps/v1:Deployment": 1, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler": 1,
        "kubernetes:core/v1:ServiceAccount": 1, "kubernetes:networking.k8s.io/v1:NetworkPolicy": 1,
        "kubernetes:policy/v1:PodDisruptionBudget": 1, "kubernetes:security.istio.io/v1:AuthorizationPolicy": 1,
    }
    component = full.named("care-prod-nlfhir")
    assert all(r.parent == component.urn for r in full.resources if r is not component)
    assert full.named("care-prod-nlfhir-irsa").inputs["tags"] == {"Name": "care-prod-nlfhir-irsa", **PROD_TAGS}


def test_deployment_zero_downtime_rollout(full) -> None:  # type: ignore[no-untyped-def]
    deployment = _k8s(full, "deployment")
    assert deployment["metadata"]["name"] == "nlfhir"
    assert deployment["metadata"]["namespace"] == "nlfhir"
    spec = deployment["spec"]
    assert "replicas" not in spec  # the HPA owns the count
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}}
    assert spec["minReadySeconds"] == 10
    assert spec["selector"] == {"matchLabels": {"app.kubernetes.io/name": "nlfhir"}}
    pod = spec["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == 60
    assert pod["containers"][0]["lifecycle"] == {"preStop": {"sleep": {"seconds": 10}}}


def test_metrics_annotations_for_istio_metrics_merging(full, worker) -> None:  # type: ignore[no-untyped-def]
    # The app's own port and path (prometheus-fastapi-instrumentator's /metrics); the sidecar merges them on :15020.
    assert _k8s(full, "deployment")["spec"]["template"]["metadata"]["annotations"] == {
        "prometheus.io/scrape": "true", "prometheus.io/port": "8000", "prometheus.io/path": "/metrics"}
    assert worker.named("care-prod-prm-worker-deployment").inputs["spec"]["template"]["metadata"]["annotations"] == {
        "prometheus.io/scrape": "true", "prometheus.io/port": "8080", "prometheus.io/path": "/metrics"}


def test_an_app_without_metrics_is_not_scraped() -> None:
    cfg = stack_config("prod", apps__prmWorker__metrics=None)

    def build() -> None:
        AppService("care-prod-prm-worker", cfg.apps.prm_worker, app_name="prm-worker", bindings=[], **_wiring())

    plan = render(build)
    deployment = plan.named("care-prod-prm-worker-deployment").inputs
    assert "annotations" not in deployment["spec"]["template"]["metadata"]
    assert plan.named("care-prod-prm-worker-netpol").inputs["spec"]["ingress"] == []


def test_metrics_port_and_path_are_config() -> None:
    cfg = stack_config("prod", apps__prmWorker__metrics={"port": 9464, "path": "/internal/metrics"})
    assert (cfg.apps.prm_worker.metrics.port, cfg.apps.prm_worker.metrics.path) == (9464, "/internal/metrics")


def test_container_probes_resources_and_environment(full) -> None:  # type: ignore[no-untyped-def]
    container = _k8s(full, "deployment")["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == IMAGE
    assert container["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
    probe = {"httpGet": {"path": "/health", "port": "http"}}
    assert container["readinessProbe"] == {**probe, "periodSeconds": 10, "failureThreshold": 3, "timeoutSeconds": 3}
    assert container["livenessProbe"] == {**probe, "periodSeconds": 20, "failureThreshold": 3, "timeoutSeconds": 5}
    assert container["startupProbe"] == {**probe, "periodSeconds": 5, "failureThreshold": 60, "timeoutSeconds": 3}
    assert container["resources"] == {"requests": {"cpu": "2", "memory": "2Gi"},
                                      "limits": {"cpu": "2", "memory": "2Gi"}}
    secret_ref = {"secretKeyRef": {"name": "nlfhir-secrets", "key": "API_SIGNING_KEY"}}
    assert container["env"] == [
        {"name": "PORT", "value": "8000"},
        {"name": "LOG_LEVEL", "value": "info"},
        {"name": "CHROMA_URL", "value": "http://chromadb.nlfhir.svc.cluster.local:8000"},
        {"name": "API_SIGNING_KEY", "valueFrom": secret_ref},
        {"name": "PARTNER_API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "nlfhir-secrets",
                                                                     "key": "PARTNER_API_TOKEN"}}},
    ]


def test_hardened_security_context_tmp_and_zone_spread(full) -> None:  # type: ignore[no-untyped-def]
    pod = _k8s(full, "deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"] == {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001,
                                      "fsGroup": 10001, "seccompProfile": {"type": "RuntimeDefault"}}
    container = pod["containers"][0]
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                            "runAsNonRoot": True, "privileged": False,
                                            "capabilities": {"drop": ["ALL"]}}
    assert container["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    assert pod["volumes"] == [{"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}]
    assert pod["serviceAccountName"] == "nlfhir"
    assert pod["automountServiceAccountToken"] is False
    assert pod["nodeSelector"] == {"care.platform/pool": "app"}
    assert "tolerations" not in pod
    selector = {"matchLabels": {"app.kubernetes.io/name": "nlfhir"}}
    assert pod["topologySpreadConstraints"] == [
        {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule",
         "labelSelector": selector},
        {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
         "labelSelector": selector},
    ]


def test_worker_runs_on_the_tainted_worker_pool_without_a_service(worker) -> None:  # type: ignore[no-untyped-def]
    pod = worker.named("care-prod-prm-worker-deployment").inputs["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"care.platform/pool": "worker"}
    assert pod["tolerations"] == [{"key": "care.platform/pool", "operator": "Equal", "value": "worker",
                                   "effect": "NoSchedule"}]
    policy = worker.named("care-prod-prm-worker-netpol").inputs["spec"]
    # No callers: only Prometheus, on Istio's merged metrics port (components/scraping.py).
    assert policy == {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "prm-worker"}},
                      "policyTypes": ["Ingress"], "ingress": [PROMETHEUS_RULE]}
    hpa = worker.named("care-prod-prm-worker-hpa").inputs["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 6)


def test_worker_irsa_role_reads_kafka(worker) -> None:  # type: ignore[no-untyped-def]
    trust = json.loads(worker.named("care-prod-prm-worker-irsa").inputs["assumeRolePolicy"])
    host = ISSUER.removeprefix("https://")
    assert trust["Statement"][0]["Condition"] == {"StringEquals": {
        f"{host}:sub": "system:serviceaccount:prm:prm-worker", f"{host}:aud": "sts.amazonaws.com"}}
    policy = worker.named("care-prod-prm-worker-irsa-policy").inputs
    # Its own topics and group (apps.prmWorker.kafka in Pulumi.prod.yaml): the owned prefix, never topic/*.
    topics = f"arn:aws:kafka:us-east-2:{ACCOUNT}:topic/care-prod-kafka/uuid-1"
    assert [(s["Sid"], s["Resource"], s["Action"]) for s in json.loads(policy["policy"])["Statement"]] == [
        ("Connect", MSK, ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster",
                          "kafka-cluster:WriteDataIdempotently"]),
        ("ReadTopics", [f"{topics}/prm-worker.*"], ["kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"]),
        ("WriteTopics", [f"{topics}/prm-worker.*"], ["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"]),
        ("ConsumerGroups", [f"arn:aws:kafka:us-east-2:{ACCOUNT}:group/care-prod-kafka/uuid-1/prm-worker"],
         ["kafka-cluster:AlterGroup", "kafka-cluster:DescribeGroup"]),
    ]
    # The policy names its owned prefix for the pack (msk-client-scoped accepts only <prefix>* as a wildcard).
    assert policy["tags"]["care.platform/kafka-prefix"] == "prm-worker."
    sa = worker.named("care-prod-prm-worker-sa").inputs["metadata"]
    assert sa["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/care-prod-prm-worker-irsa"}


def test_hpa_cpu_and_memory_and_pdb(full) -> None:  # type: ignore[no-untyped-def]
    hpa = _k8s(full, "hpa")
    assert hpa["apiVersion"] == "autoscaling/v2"
    spec = hpa["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "nlfhir"}
    assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 10)
    assert spec["metrics"] == [
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}},
        {"type": "Resource", "resource": {"name": "memory",
                                          "target": {"type": "Utilization", "averageUtilization": 80}}},
    ]
    pdb = _k8s(full, "pdb")["spec"]
    assert pdb == {"maxUnavailable": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": "nlfhir"}},
                   "unhealthyPodEvictionPolicy": "AlwaysAllow"}


def test_service_and_network_policy(full) -> None:  # type: ignore[no-untyped-def]
    service = _k8s(full, "service")["spec"]
    assert service == {"type": "ClusterIP", "selector": {"app.kubernetes.io/name": "nlfhir"},
                       "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP",
                                  "appProtocol": "http"}]}
    policy = _k8s(full, "netpol")["spec"]
    port = [{"port": 8000, "protocol": "TCP"}]
    assert policy["policyTypes"] == ["Ingress"]
    assert policy["ingress"] == [
        {"from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "prm-api"}},
                   "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "prm"}}}], "ports": port},
        {"from": [{"ipBlock": {"cidr": cidr}} for cidr in PUBLIC_CIDRS], "ports": port},
        PROMETHEUS_RULE,
    ]


def test_secrets_come_from_secrets_manager_through_the_apps_own_identity(full) -> None:  # type: ignore[no-untyped-def]
    store = _k8s(full, "secret-store")
    assert store["apiVersion"] == "external-secrets.io/v1"
    assert store["spec"] == {"provider": {"aws": {"service": "SecretsManager", "region": "us-east-2",
                                                  "auth": {"jwt": {"serviceAccountRef": {"name": "nlfhir"}}}}}}
    external = _k8s(full, "external-secret")
    assert external["kind"] == "ExternalSecret"
    assert external["spec"] == {
        "refreshInterval": "1h",
        "secretStoreRef": {"name": "nlfhir", "kind": "SecretStore"},
        "target": {"name": "nlfhir-secrets", "creationPolicy": "Owner", "deletionPolicy": "Retain"},
        "data": [
            {"secretKey": "API_SIGNING_KEY", "remoteRef": {"key": "care-prod/nlfhir/signing", "property": "key"}},
            {"secretKey": "PARTNER_API_TOKEN", "remoteRef": {"key": API_SECRET, "property": "token"}},
        ],
    }
    deployment = full.named("care-prod-nlfhir-deployment")
    assert full.named("care-prod-nlfhir-external-secret").urn in deployment.dependencies
    policy = json.loads(full.named("care-prod-nlfhir-irsa-secrets").inputs["policy"])
    assert policy["Statement"] == [
        {"Sid": "ReadOwnSecrets", "Effect": "Allow",
         "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
         "Resource": [API_SECRET,
                      f"arn:aws:secretsmanager:us-east-2:{ACCOUNT}:secret:care-prod/nlfhir/signing-??????"]},
        {"Sid": "DecryptThroughSecretsManager", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": [SECRETS_KEY],
         "Condition": {"StringEquals": {"kms:ViaService": "secretsmanager.us-east-2.amazonaws.com"}}},
    ]
    trust = json.loads(full.named("care-prod-nlfhir-irsa").inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Condition"]["StringEquals"][
        "oidc.eks.us-east-2.amazonaws.com/id/ABC123:sub"] == "system:serviceaccount:nlfhir:nlfhir"


def test_alb_ingress_https_only_with_certificate_and_waf(full) -> None:  # type: ignore[no-untyped-def]
    ingress = _k8s(full, "ingress")
    annotations = ingress["metadata"]["annotations"]
    short = {k.removeprefix("alb.ingress.kubernetes.io/"): v for k, v in annotations.items()}
    assert {k: v for k, v in short.items() if k != "tags"} == {
        "scheme": "internet-facing", "target-type": "ip", "listen-ports": '[{"HTTPS": 443}]',
        "certificate-arn": CERT, "ssl-policy": "ELBSecurityPolicy-TLS13-1-2-2021-06", "backend-protocol": "HTTP",
        "healthcheck-path": "/health", "wafv2-acl-arn": WAF,
        "load-balancer-attributes": "routing.http.drop_invalid_header_fields.enabled=true",
    }
    assert "Environment=prod" in annotations["alb.ingress.kubernetes.io/tags"].split(",")
    assert ingress["spec"] == {"ingressClassName": "alb", "rules": [{"host": "nlfhir.care.example", "http": {"paths": [
        {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "nlfhir", "port": {"name": "http"}}}}]}}]}
    exception = _k8s(full, "alb-mtls-exception")["spec"]
    assert exception == {"selector": {"matchLabels": {"app.kubernetes.io/name": "nlfhir"}},
                         "mtls": {"mode": "STRICT"}, "portLevelMtls": {"8000": {"mode": "PERMISSIVE"}}}


ORIGIN_CERT = f"arn:aws:acm:us-east-2:{ACCOUNT}:certificate/9f8e7d6c-1111-2222-3333-444455556666"
ALB_SG = "sg-0123456789abcdef0"


@pytest.fixture(scope="module")
def published():  # type: ignore[no-untyped-def]
    cfg = stack_config("prod")

    def build() -> None:
        AppService("care-prod-nlfhir", cfg.apps.nlfhir, app_name="nlfhir", access_logs_bucket="care-prod-access-logs",
                   publication=Publication(host="nlfhir.origin.care.example", certificate_arn=ORIGIN_CERT,
                                           waf_acl_arn=WAF, security_group_id=ALB_SG,
                                           origin_secret=pulumi.Output.secret("s3cr3t"), shield_advanced=True),
                   **_wiring())

    return render(build)


def test_published_app_gets_the_edge_ingress(published) -> None:  # type: ignore[no-untyped-def]
    ingress = published.named("care-prod-nlfhir-ingress").unmasked_inputs()
    short = {k.removeprefix("alb.ingress.kubernetes.io/"): v for k, v in ingress["metadata"]["annotations"].items()}
    assert {k: v for k, v in short.items() if k != "tags"} == {
        "scheme": "internet-facing", "target-type": "ip", "listen-ports": '[{"HTTPS": 443}]',
        "certificate-arn": ORIGIN_CERT, "ssl-policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
        "backend-protocol": "HTTP", "healthcheck-path": "/health", "wafv2-acl-arn": WAF,
        "load-balancer-attributes": "routing.http.drop_invalid_header_fields.enabled=true,access_logs.s3.enabled=true,"
                                    "access_logs.s3.bucket=care-prod-access-logs,access_logs.s3.prefix=alb/nlfhir",
        "security-groups": ALB_SG, "manage-backend-security-group-rules": "true",
        "shield-advanced-protection": "true",
        "conditions.nlfhir": '[{"field": "http-header", "httpHeaderConfig": {"httpHeaderName": "X-Origin-Verify", '
                             '"values": ["s3cr3t"]}}]',
    }
    assert ingress["spec"]["rules"][0]["host"] == "nlfhir.origin.care.example"
    masked = _k8s(published, "ingress")["metadata"]["annotations"]
    assert masked["alb.ingress.kubernetes.io/conditions.nlfhir"] == "[secret]"
    policy = _k8s(published, "netpol")["spec"]["ingress"]
    # The ALB's subnets (the only address-range rule; the others name pods, e.g. Prometheus on 15020).
    assert [rule["from"] for rule in policy if "ipBlock" in rule["from"][0]] == [
        [{"ipBlock": {"cidr": cidr}} for cidr in PUBLIC_CIDRS]]


def test_a_published_app_without_the_edge_has_no_ingress() -> None:
    """edge.enabled: false (dev may): the tier hands no publication, so no ALB is internet-facing."""
    cfg = stack_config("prod")
    assert cfg.apps.nlfhir.published is True

    def build() -> None:
        AppService("care-prod-nlfhir", cfg.apps.nlfhir, app_name="nlfhir", **_wiring())

    plan = render(build)
    assert plan.of_type("kubernetes:networking.k8s.io/v1:Ingress") == []
    rules = plan.named("care-prod-nlfhir-netpol").inputs["spec"]["ingress"]
    assert all("ipBlock" not in peer for rule in rules for peer in rule.get("from", []))


def test_a_publication_needs_a_published_app() -> None:
    cfg = stack_config("prod", apps__prmWorker__published=False)

    def build() -> None:
        AppService("care-prod-prm-worker", cfg.apps.prm_worker, app_name="prm-worker",
                   publication=Publication(host="w.origin.care.example", certificate_arn=ORIGIN_CERT,
                                           waf_acl_arn=WAF, security_group_id=ALB_SG, origin_secret="x"),
                   **_wiring())

    with pytest.raises(Exception, match=r"care-prod-prm-worker: a publication was given but the app is not "
                                        r"published \(published: false\)"):
        render(build)


def test_pre_deploy_job_runs_before_the_rollout(full) -> None:  # type: ignore[no-untyped-def]
    job = full.named("care-prod-nlfhir-predeploy")
    name = job.inputs["metadata"]["name"]
    assert name.startswith("nlfhir-predeploy-") and len(name) == len("nlfhir-predeploy-") + 8
    spec = job.inputs["spec"]
    assert (spec["backoffLimit"], spec["activeDeadlineSeconds"]) == (1, 900)
    pod = spec["template"]
    assert pod["metadata"]["labels"]["sidecar.istio.io/inject"] == "false"
    assert pod["spec"]["restartPolicy"] == "Never"
    container = pod["spec"]["containers"][0]
    assert container["command"] == ["alembic", "upgrade", "head"]
    assert container["image"] == IMAGE
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert "readinessProbe" not in container
    assert job.urn in full.named("care-prod-nlfhir-deployment").dependencies


def test_pre_deploy_job_name_changes_with_the_image() -> None:
    names = []
    for image in (IMAGE, IMAGE.replace("1.0.0", "1.0.1")):
        cfg = stack_config("prod", apps__nlfhir__image=image, apps__nlfhir__preDeploy={"command": ["migrate"]})
        plan = render(lambda cfg=cfg: AppService("n", cfg.apps.nlfhir, app_name="nlfhir", **_wiring()))
        names.append(plan.named("n-predeploy").inputs["metadata"]["name"])
    assert names[0] != names[1]


def test_cron_job(full) -> None:  # type: ignore[no-untyped-def]
    cron = _k8s(full, "cron-reindex")
    assert cron["metadata"]["name"] == "nlfhir-reindex"
    spec = cron["spec"]
    assert (spec["schedule"], spec["timeZone"], spec["concurrencyPolicy"]) == ("0 3 * * *", "Etc/UTC", "Forbid")
    template = spec["jobTemplate"]["spec"]["template"]
    assert template["spec"]["containers"][0]["command"] == ["python", "-m", "reindex"]
    assert template["spec"]["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}


def test_wiring_that_repeats_a_configured_variable_is_refused() -> None:
    cfg = stack_config("prod", apps__nlfhir__env={"CHROMA_URL": "x"})
    with pytest.raises(Exception, match="variables set twice .*: CHROMA_URL"):
        render(lambda: AppService("n", cfg.apps.nlfhir, app_name="nlfhir",
                                  bindings=[EnvironmentBinding({"CHROMA_URL": "y"})],
                                  **_wiring()))


# -- configuration errors ---------------------------------------------------------------------------

def _errors(**overrides: object) -> list[str]:
    raw = with_overrides(stack_raw("prod"), {k.replace("__", "."): v for k, v in overrides.items()})
    with pytest.raises(config.ConfigError) as info:
        config.validate("prod", raw)
    return info.value.lines


def test_replica_bounds() -> None:  # (the 'latest' image is refused in tests/test_config.py)
    assert _errors(apps__prmApi__minReplicas=13) == [
        "prod: apps.prmApi.minReplicas: 13: must be at most maxReplicas (12)"]


def test_rollout_and_env_errors() -> None:
    assert _errors(apps__nlfhir__maxSurge="0", apps__nlfhir__preStopSeconds=60,
                   apps__nlfhir__env={"DB_PASSWORD": "hunter2", "lower": "x"}) == [
        "prod: apps.nlfhir.maxSurge: '0': must be above 0: maxUnavailable is 0, so a rollout needs surge",
        "prod: apps.nlfhir.preStopSeconds: 60: must be below terminationGraceSeconds (60) so the app still has "
        "time to shut down after the preStop pause",
        "prod: apps.nlfhir.env.DB_PASSWORD: '***': looks like a secret: put it under secrets (read from AWS "
        "Secrets Manager), never in plain config",
        "prod: apps.nlfhir.env.lower: 'x': the name must be an environment variable name (A-Z, 0-9, _; not "
        "starting with a digit)",
    ]


def test_ingress_and_cron_errors() -> None:
    cloudfront_acl = f"arn:aws:wafv2:us-east-1:{ACCOUNT}:global/webacl/edge/abc"
    lines = _errors(apps__prmWorker__ingress={"host": "w.care.example", "certificateArn": CERT},
                    apps__nlfhir__ingress={"host": "n.care.example", "certificateArn": CERT,
                                           "wafAclArn": cloudfront_acl},
                    apps__nlfhir__cronJobs=[{"name": "a", "schedule": "@daily", "command": ["x"]}])
    assert lines == [
        f"prod: apps.nlfhir.ingress.wafAclArn: '{cloudfront_acl}': must be a REGIONAL WAFv2 web ACL ARN "
        "(arn:aws:wafv2:<region>:<account>:regional/webacl/<name>/<id>); an ALB cannot use a CloudFront-scope ACL",
        "prod: apps.nlfhir.cronJobs.0.schedule: '@daily': must be a five-field cron expression like '0 3 * * *'",
        "prod: apps.prmWorker.ingress: 'w.care.example': needs service: true (the Ingress routes to the Service)",
    ]


def test_published_errors() -> None:
    assert _errors(apps__prmWorker__published=True,
                   apps__nlfhir__ingress={"host": "n.care.example", "certificateArn": CERT}) == [
        "prod: apps.nlfhir.ingress: 'n.care.example': must not be set on a published app: the edge gives it its "
        "Ingress (CloudFront and WAF in front)",
        "prod: apps.prmWorker.published: true: needs service: true (the edge's Ingress routes to the Service)",
    ]


def test_prod_program_wires_the_apps_to_the_data_tier() -> None:
    plan = rendered_stack("prod")
    # prod releases nlfhir blue-green and prm-api canary (Argo Rollouts), prm-worker rolling (a Deployment).
    nlfhir = plan.named("care-prod-nlfhir-rollout").inputs["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in nlfhir["env"]}
    assert env["CHROMA_URL"] == "http://chromadb.nlfhir.svc.cluster.local:8000"
    # Its own database user through IAM authentication: no database password, never the master user.
    assert env["DATABASE_HOST"].startswith("care-prod-nlfhir.")
    # The server certificate is verified against the RDS roots of the primary and DR regions (components/rds_ca.py).
    assert (env["DATABASE_USER"], env["DATABASE_IAM_AUTH"], env["DATABASE_SSLMODE"], env["DATABASE_SSLROOTCERT"]) == (
        "nlfhir_api", "true", "verify-full", "/etc/care/rds-ca/rds-ca.pem")
    from components.rds_ca import bundle_for
    assert plan.named("care-prod-nlfhir-rds-ca").inputs["data"] == {
        "rds-ca.pem": bundle_for(["us-east-2", "us-west-2"])}
    pod = plan.named("care-prod-nlfhir-rollout").inputs["spec"]["template"]["spec"]
    assert {"name": "rds-ca", "configMap": {"name": "nlfhir-rds-ca"}} in pod["volumes"]
    assert {"name": "rds-ca", "mountPath": "/etc/care/rds-ca", "readOnly": True} in nlfhir["volumeMounts"]
    # prm-worker has no database: no bundle.
    assert [r.name for r in plan.of_type("kubernetes:core/v1:ConfigMap") if r.name.endswith("-rds-ca")] == [
        "care-prod-nlfhir-rds-ca", "care-prod-prm-api-rds-ca"]
    assert not {"DATABASE_PASSWORD", "DATABASE_USERNAME"} & set(env)
    assert nlfhir["resources"]["requests"] == {"cpu": "2", "memory": "2Gi"}
    hpa = plan.named("care-prod-nlfhir-hpa").inputs["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 10)
    data = plan.named("care-prod-nlfhir-external-secret").inputs["spec"]["data"]
    remote = {d["secretKey"]: d["remoteRef"] for d in data}
    assert set(remote) == {"CHROMA_AUTH_TOKEN"}
    masters = {plan.outputs[k]["masterSecretArn"] for k in ("prmDatabase", "nlfhirDatabase")}
    for external_secret in plan.of_type("kubernetes:external-secrets.io/v1beta1:ExternalSecret"):
        keys = {d["remoteRef"]["key"] for d in external_secret.inputs["spec"]["data"]}
        # Only the bootstrap Jobs, in their own namespace, ever read a master secret.
        assert not keys & masters or external_secret.inputs["metadata"]["namespace"] == "db-bootstrap", \
            external_secret.name
    connect = json.loads(plan.named("care-prod-nlfhir-irsa-rds-connect").inputs["policy"])
    resource_id = plan.named("care-prod-nlfhir-primary").id
    assert connect["Statement"][0]["Resource"] == [
        f"arn:aws:rds-db:us-east-2:333333333333:dbuser:{plan.outputs['nlfhirDatabase']['resourceIds'][0]}/nlfhir_api"]
    assert resource_id  # the instance exists in the plan; its DbiResourceId is what IAM names
    deployment = plan.named("care-prod-nlfhir-rollout")
    assert plan.named("care-prod-nlfhir-bootstrap-job").urn in deployment.dependencies
    assert plan.named("care-prod-nlfhir-irsa-rds-connect-attachment").urn in deployment.dependencies
    prm_connect = json.loads(plan.named("care-prod-prm-api-irsa-rds-connect").inputs["policy"])
    assert [r.rsplit("/", 1)[1] for r in prm_connect["Statement"][0]["Resource"]] == ["prm_api"] * 3
    assert remote["CHROMA_AUTH_TOKEN"]["key"].startswith("arn:aws:secretsmanager:us-east-2:333333333333:secret:")
    worker = plan.named("care-prod-prm-worker-deployment").inputs["spec"]["template"]["spec"]
    assert worker["nodeSelector"] == {"care.platform/pool": "worker"}
    worker_env = {e["name"]: e.get("value") for e in worker["containers"][0]["env"]}
    assert worker_env["KAFKA_BOOTSTRAP_SERVERS"] == plan.outputs["kafka"]["bootstrapBrokers"]
    assert worker_env["KAFKA_SASL_MECHANISM"] == "AWS_MSK_IAM"
    assert worker_env["REDIS_HOST"] == plan.outputs["redis"]["configurationEndpoint"]
    # Each Redis client is its own RBAC user: its username and password from its own secret, which only its
    # role may read (no shared AUTH token anywhere).
    user_secrets = plan.outputs["redis"]["userSecretArns"]
    for app in ("prm-api", "prm-worker"):
        spec = plan.named(f"care-prod-{app}-external-secret").inputs["spec"]["data"]
        refs = {d["secretKey"]: d["remoteRef"] for d in spec if d["secretKey"].startswith("REDIS_")}
        assert refs == {"REDIS_USERNAME": {"key": user_secrets[app], "property": "username"},
                        "REDIS_PASSWORD": {"key": user_secrets[app], "property": "password"}}
        readable = json.loads(plan.named(f"care-prod-{app}-irsa-secrets").inputs["policy"])["Statement"][0]["Resource"]
        assert user_secrets[app] in readable
        assert not set(readable) & (set(user_secrets.values()) - {user_secrets[app]})
    assert not any(e["name"] == "REDIS_AUTH_TOKEN" for e in worker["containers"][0]["env"])


@pytest.fixture(scope="module")
def with_database():  # type: ignore[no-untyped-def]
    from components.app_service import PostgresBinding

    cfg = stack_config("prod", apps__prmApi__rollout="rolling", apps__prmApi__featureFlags=DELETE)
    binding = PostgresBinding(host="db.example", port=5432, database_name="app", username="prm_api",
                              resource_ids=["db-PRIMARY", "db-REPLICA1"], reader_hosts=["r1.example"])

    def build() -> None:
        AppService("care-prod-prm-api", cfg.apps.prm_api, app_name="prm-api",
                   bindings=[binding, EnvironmentBinding(secret_refs={"REDIS_PASSWORD": SecretRef(API_SECRET,
                                                                                                  "password")})],
                   **_wiring())

    return render(build)


def test_database_binding_gives_env_and_rds_connect_for_its_user_only(with_database) -> None:  # type: ignore[no-untyped-def]
    plan = with_database
    container = plan.named("care-prod-prm-api-deployment").inputs["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"] if "value" in e}
    assert {k: v for k, v in env.items() if k.startswith("DATABASE_")} == {
        "DATABASE_HOST": "db.example", "DATABASE_PORT": "5432", "DATABASE_NAME": "app", "DATABASE_USER": "prm_api",
        "DATABASE_IAM_AUTH": "true", "DATABASE_SSLMODE": "require", "DATABASE_READER_HOSTS": "r1.example"}
    # Without a CA bundle (this fixture's binding): TLS without verification, and no volume.
    assert [v["name"] for v in plan.named("care-prod-prm-api-deployment").inputs["spec"]["template"]["spec"][
        "volumes"]] == ["tmp"]
    assert json.loads(plan.named("care-prod-prm-api-irsa-rds-connect").inputs["policy"]) == {
        "Version": "2012-10-17", "Statement": [{
            "Sid": "ConnectAsAppUser", "Effect": "Allow", "Action": "rds-db:connect",
            "Resource": [f"arn:aws:rds-db:us-east-2:{ACCOUNT}:dbuser:db-PRIMARY/prm_api",
                         f"arn:aws:rds-db:us-east-2:{ACCOUNT}:dbuser:db-REPLICA1/prm_api"]}]}


def test_role_policies_exist_before_anything_assumes_the_role(with_database) -> None:  # type: ignore[no-untyped-def]
    plan = with_database
    policies = {plan.named(f"{n}-attachment").urn for n in ("care-prod-prm-api-irsa-rds-connect",
                                                          "care-prod-prm-api-irsa-secrets")}
    assert policies <= set(plan.named("care-prod-prm-api-deployment").dependencies)
    assert plan.named("care-prod-prm-api-irsa-secrets-attachment").urn in plan.named(
        "care-prod-prm-api-secret-store").dependencies


def test_pods_restart_when_their_secret_changes(with_database, worker) -> None:  # type: ignore[no-untyped-def]
    metadata = with_database.named("care-prod-prm-api-deployment").inputs["metadata"]
    assert metadata["annotations"] == {"secret.reloader.stakater.com/reload": "prm-api-secrets",
                                       "pulumi.com/timeoutSeconds": "660"}
    # No secrets: only the await timeout (progressDeadlineSeconds 600 + 60).
    assert worker.named("care-prod-prm-worker-deployment").inputs["metadata"]["annotations"] == {
        "pulumi.com/timeoutSeconds": "660"}


def test_authorization_policy_names_the_callers_and_the_alb_subnets(full, worker) -> None:  # type: ignore[no-untyped-def]
    policy = _k8s(full, "authz")
    assert (policy["apiVersion"], policy["kind"], policy["metadata"]["name"], policy["metadata"]["namespace"]) == (
        "security.istio.io/v1", "AuthorizationPolicy", "nlfhir", "nlfhir")
    assert policy["spec"] == {
        "selector": {"matchLabels": {"app.kubernetes.io/name": "nlfhir"}}, "action": "ALLOW",
        "rules": [
            # allowFrom: prm/prm-api, by the SPIFFE identity of its service account (mTLS-proven).
            {"from": [{"source": {"principals": ["cluster.local/ns/prm/sa/prm-api"]}}],
             "to": [{"operation": {"ports": ["8000"]}}]},
            # The internet-facing ALB's subnets (plain HTTP to the PERMISSIVE port: no principal).
            {"from": [{"source": {"ipBlocks": PUBLIC_CIDRS}}], "to": [{"operation": {"ports": ["8000"]}}]},
        ]}
    # A worker without callers or an Ingress: an ALLOW policy without rules, which admits nothing.
    assert worker.named("care-prod-prm-worker-authz").inputs["spec"] == {
        "selector": {"matchLabels": {"app.kubernetes.io/name": "prm-worker"}}, "action": "ALLOW", "rules": []}
