"""ChromaDB: the NL-FHIR service's vector store of medical terminology, as a StatefulSet on EKS.

One server (Chroma's single-node server does not replicate, so ``replicas`` is fixed at 1) with a
persistent volume on the encrypted, backed-up gp3 StorageClass, token authentication (the token is
a generated secret, kept in AWS Secrets Manager for clients and in a Kubernetes Secret for the
server), probes on the heartbeat endpoint, a hardened security context, a PodDisruptionBudget and
a NetworkPolicy that admits only the NL-FHIR API.

The data volume is its own PersistentVolumeClaim (``data-chromadb-0``, the name the StatefulSet's
claim template used to give it), not a ``volumeClaimTemplates`` entry: a StatefulSet's claim
templates are immutable (the API server rejects any change to them), so raising
``chromadb.storageGib`` there could never be applied. A standalone claim's storage request can be
raised in place on a StorageClass with ``allowVolumeExpansion: true`` (the EBS CSI driver grows the
volume online); see docs/runbooks/grow-chromadb-volume.md. Claims can only grow, never shrink.

The client token rotates with ``chromadb.tokenGeneration`` (docs/runbooks/rotate-chromadb-token.md):
Chroma's token provider accepts one token, so the server restarts with the new one (its pod template
carries the generation) and the NL-FHIR API reloads the secret.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random
from pydantic import Field

from components.app_service.authorization import AUTHORIZATION_API, principal
from components.common import ConfigModel, PinnedImage, child_opts, tags_for
from components.eks import POOL_LABEL
from components.scraping import prometheus_ingress_rule

HEARTBEAT_PATH = "/api/v1/heartbeat"
TOKEN_PROVIDER = "chromadb.auth.token_authn.TokenAuthenticationServerProvider"


class ChromaDbConfig(ConfigModel):
    image: PinnedImage = "chromadb/chroma:0.5.23"
    memory: str = Field(default="4Gi", pattern=r"^\d+(Mi|Gi)$")
    storage_gib: int = Field(default=50, ge=1, le=16384)
    cpu: str = Field(default="1", pattern=r"^\d+(m)?$")
    namespace: str = Field(default="nlfhir", pattern=r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
    port: int = Field(default=8000, ge=1024, le=65535)
    run_as_user: int = Field(default=1000, ge=1000)
    #: Bump to rotate the client token (docs/runbooks/rotate-chromadb-token.md).
    token_generation: int = Field(default=1, ge=1)


#: The data claim's name: what the former claim template ``data`` gave pod ``chromadb-0``, so an
#: existing volume is adopted, not recreated (docs/runbooks/grow-chromadb-volume.md).
DATA_CLAIM = "data-chromadb-0"


class ChromaDb(pulumi.ComponentResource):
    """The ChromaDB server in ``config.namespace``; ``url`` and ``token_secret_arn`` are for its clients.

    Give it ``providers`` for ``aws`` and ``kubernetes`` through ``opts``.
    """

    url: pulumi.Output[str]
    token_secret_arn: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        config: ChromaDbConfig,
        *,
        storage_class_name: str,
        client_pod_labels: Mapping[str, str],
        client_namespace: str | None = None,
        client_service_account: str | None = None,
        secrets_kms_key_arn: pulumi.Input[str],
        wait_for: list[pulumi.Resource] | None = None,
        protect: bool = True,
        tags: Mapping[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("care:compute:ChromaDb", name, None, opts)
        ns, app = config.namespace, "chromadb"
        selector = {"app.kubernetes.io/name": app}
        labels = {**selector, "app.kubernetes.io/part-of": "care-platform", "app.kubernetes.io/managed-by": "pulumi"}
        deps = list(wait_for or [])
        k8s_opts = child_opts(self, depends_on=deps)

        token = random.RandomPassword(
            f"{name}-token",
            random.RandomPasswordArgs(length=48, special=False,
                                      keepers={"generation": str(config.token_generation)}),
            child_opts(self))
        self.token_secret = aws.secretsmanager.Secret(
            f"{name}-token-secret",
            aws.secretsmanager.SecretArgs(
                name=f"{name}/auth-token",
                description="ChromaDB client token (the NL-FHIR API reads it through its ExternalSecret)",
                kms_key_id=secrets_kms_key_arn,
                recovery_window_in_days=7,
                tags=tags_for(tags, f"{name}-token-secret"),
            ),
            child_opts(self),
        )
        aws.secretsmanager.SecretVersion(
            f"{name}-token-version",
            aws.secretsmanager.SecretVersionArgs(secret_id=self.token_secret.id, secret_string=token.result),
            child_opts(self),
        )
        self.token_secret_arn = self.token_secret.arn
        auth_secret = k8s.core.v1.Secret(
            f"{name}-auth",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{app}-auth", namespace=ns, labels=labels),
            type="Opaque",
            string_data={"token": token.result},
            opts=k8s_opts,
        )

        self.headless_service = k8s.core.v1.Service(
            f"{name}-headless",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{app}-headless", namespace=ns, labels=labels),
            spec=k8s.core.v1.ServiceSpecArgs(
                cluster_ip="None", selector=selector, publish_not_ready_addresses=True,
                ports=[k8s.core.v1.ServicePortArgs(name="http", port=config.port, target_port="http",
                                                   protocol="TCP", app_protocol="http")],
            ),
            opts=k8s_opts,
        )
        self.service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=app, namespace=ns, labels=labels),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="ClusterIP", selector=selector,
                ports=[k8s.core.v1.ServicePortArgs(name="http", port=config.port, target_port="http",
                                                   protocol="TCP", app_protocol="http")],
            ),
            opts=k8s_opts,
        )

        # Raising config.storageGib patches this claim in place; the StorageClass allows expansion
        # (https://kubernetes.io/docs/concepts/storage/persistent-volumes/#expanding-persistent-volumes-claims,
        # https://github.com/kubernetes-sigs/aws-ebs-csi-driver/blob/master/docs/modify-volume.md). Protected
        # like the server; deleting the StatefulSet never deletes it.
        self.data_claim = k8s.core.v1.PersistentVolumeClaim(
            f"{name}-data",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=DATA_CLAIM, namespace=ns, labels=labels,
                # WaitForFirstConsumer: the claim binds only once the server's pod is scheduled, which waits
                # for this claim; Pulumi must not wait for "Bound" here (pulumi-kubernetes skipAwait).
                annotations={"pulumi.com/skipAwait": "true"}),
            spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
                access_modes=["ReadWriteOnce"],
                storage_class_name=storage_class_name,
                resources=k8s.core.v1.VolumeResourceRequirementsArgs(requests={"storage": f"{config.storage_gib}Gi"}),
            ),
            opts=child_opts(self, depends_on=deps, protect=protect),
        )

        heartbeat = k8s.core.v1.HTTPGetActionArgs(path=HEARTBEAT_PATH, port="http")
        self.stateful_set = k8s.apps.v1.StatefulSet(
            f"{name}-statefulset",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=app, namespace=ns, labels=labels),
            spec=k8s.apps.v1.StatefulSetSpecArgs(
                service_name=f"{app}-headless",
                replicas=1,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
                pod_management_policy="OrderedReady",
                update_strategy=k8s.apps.v1.StatefulSetUpdateStrategyArgs(type="RollingUpdate"),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        labels={**labels, "app.kubernetes.io/version": config.image.rpartition(":")[2][:63]},
                        # A new token generation changes the pod template: the server restarts with the new
                        # token (an env var from a Secret is read only at container start).
                        annotations={"care.platform/token-generation": str(config.token_generation)}),
                    spec=k8s.core.v1.PodSpecArgs(
                        automount_service_account_token=False,
                        termination_grace_period_seconds=60,
                        node_selector={POOL_LABEL: "app"},
                        security_context=k8s.core.v1.PodSecurityContextArgs(
                            run_as_non_root=True, run_as_user=config.run_as_user, run_as_group=config.run_as_user,
                            fs_group=config.run_as_user, fs_group_change_policy="OnRootMismatch",
                            seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
                        ),
                        containers=[k8s.core.v1.ContainerArgs(
                            name=app,
                            image=config.image,
                            image_pull_policy="IfNotPresent",
                            # uvicorn directly: the image's default log config writes a file under a read-only root.
                            command=["uvicorn", "chromadb.app:app", "--workers", "1", "--host", "0.0.0.0",
                                     "--port", str(config.port), "--proxy-headers", "--timeout-keep-alive", "30"],
                            ports=[k8s.core.v1.ContainerPortArgs(name="http", container_port=config.port,
                                                                 protocol="TCP")],
                            env=[
                                k8s.core.v1.EnvVarArgs(name="IS_PERSISTENT", value="TRUE"),
                                k8s.core.v1.EnvVarArgs(name="PERSIST_DIRECTORY", value="/data"),
                                k8s.core.v1.EnvVarArgs(name="ANONYMIZED_TELEMETRY", value="FALSE"),
                                k8s.core.v1.EnvVarArgs(name="CHROMA_SERVER_AUTHN_PROVIDER", value=TOKEN_PROVIDER),
                                k8s.core.v1.EnvVarArgs(name="CHROMA_AUTH_TOKEN_TRANSPORT_HEADER",
                                                       value="Authorization"),
                                k8s.core.v1.EnvVarArgs(
                                    name="CHROMA_SERVER_AUTHN_CREDENTIALS",
                                    value_from=k8s.core.v1.EnvVarSourceArgs(secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(
                                        name=f"{app}-auth", key="token")),
                                ),
                            ],
                            resources=k8s.core.v1.ResourceRequirementsArgs(
                                requests={"cpu": config.cpu, "memory": config.memory},
                                limits={"cpu": config.cpu, "memory": config.memory},
                            ),
                            readiness_probe=k8s.core.v1.ProbeArgs(http_get=heartbeat, period_seconds=10,
                                                                  timeout_seconds=3, failure_threshold=3),
                            liveness_probe=k8s.core.v1.ProbeArgs(http_get=heartbeat, initial_delay_seconds=30,
                                                                 period_seconds=20, timeout_seconds=5,
                                                                 failure_threshold=6),
                            security_context=k8s.core.v1.SecurityContextArgs(
                                allow_privilege_escalation=False, read_only_root_filesystem=True,
                                run_as_non_root=True, privileged=False,
                                capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
                            ),
                            volume_mounts=[
                                k8s.core.v1.VolumeMountArgs(name="data", mount_path="/data"),
                                k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp"),
                            ],
                        )],
                        volumes=[
                            k8s.core.v1.VolumeArgs(name="data", persistent_volume_claim=(
                                k8s.core.v1.PersistentVolumeClaimVolumeSourceArgs(claim_name=DATA_CLAIM))),
                            k8s.core.v1.VolumeArgs(name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(
                                size_limit="1Gi")),
                        ],
                    ),
                ),
            ),
            # Protected; a replacement (an immutable field such as the selector changed) must delete the old
            # server first, since both carry the same name. The data claim outlives it either way.
            opts=child_opts(self, depends_on=[*deps, auth_secret, self.headless_service, self.data_claim],
                            protect=protect, delete_before_replace=True),
        )

        # One server: maxUnavailable 1 bounds voluntary disruptions to it without stalling node
        # upgrades forever (a blocking budget on a single replica would).
        self.pdb = k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=app, namespace=ns, labels=labels),
            spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                max_unavailable=1, selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector)),
            opts=k8s_opts,
        )
        self.network_policy = k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=app, namespace=ns, labels=labels),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
                policy_types=["Ingress"],
                ingress=[k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                    from_=[k8s.networking.v1.NetworkPolicyPeerArgs(
                        pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(client_pod_labels)),
                        namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                            match_labels={"kubernetes.io/metadata.name": client_namespace or ns}),
                    )],
                    ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=config.port, protocol="TCP")],
                ), prometheus_ingress_rule()],
            ),
            opts=k8s_opts,
        )
        # The mesh's deny-all in the namespace (components/app_service/authorization.py) holds for ChromaDB too:
        # its one caller, by mesh identity (the client's service account), on its port.
        self.authorization_policy = k8s.apiextensions.CustomResource(
            f"{name}-authz",
            api_version=AUTHORIZATION_API,
            kind="AuthorizationPolicy",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=app, namespace=ns, labels=labels),
            spec={"selector": {"matchLabels": selector}, "action": "ALLOW", "rules": [
                {"from": [{"source": {"principals": [principal(client_namespace or ns, client_service_account)]}}],
                 "to": [{"operation": {"ports": [str(config.port)]}}]}] if client_service_account else []},
            opts=k8s_opts,
        )
        self.url = pulumi.Output.from_input(f"http://{app}.{ns}.svc.cluster.local:{config.port}")
        self.register_outputs({"url": self.url, "tokenSecretArn": self.token_secret_arn})
