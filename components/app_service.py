"""The Railway-like app service on EKS: one typed spec in, a production-grade workload out.

What a team gets from one ``AppConfig``: a Deployment with zero-downtime rolling updates, probes,
resources and a hardened security context; an HPA; a PodDisruptionBudget; its own ServiceAccount
(with an IRSA role when it needs AWS); a NetworkPolicy; secrets pulled from AWS Secrets Manager by
an ExternalSecret (only ARNs and key names are in the Pulumi state); and optionally an ALB Ingress
(HTTPS only), a pre-deploy Job (migrations) and CronJobs.

Pods run in the Istio mesh (their namespace is injected; mTLS is STRICT mesh-wide). Jobs and
CronJobs run without a sidecar (a sidecar would keep a finished Job's pod alive), so they may call
AWS services but not STRICT-mTLS services in the mesh.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
from pydantic import Field, field_validator, model_validator

from components.common import ConfigModel, PinnedImage, child_opts, tags_for
from components.database import PostgresBinding
from components.eks import POOL_LABEL, TAINTED_POOLS, irsa_trust_policy
from components.problems import ProblemCollector
from components.reloader import ReloaderConfig

_DNS_LABEL = r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$"
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_SECRET_LOOKING = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|PRIVATE_KEY|API_KEY|CREDENTIAL)")
_CRON_FIELD = r"[0-9*/,\-A-Za-z?]+"

#: The ALB security policy: TLS 1.3 and 1.2 only.
DEFAULT_SSL_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
EXTERNAL_SECRETS_API = "external-secrets.io/v1"  # served by ESO >= 0.16; v1beta1 gone from 0.17
#: Stakater Reloader's annotation: restart the workload when one of the named Secrets changes
#: (https://github.com/stakater/Reloader#how-to-use-reloader).
RELOAD_ANNOTATION = "secret.reloader.stakater.com/reload"


class SecretRefConfig(ConfigModel):
    """One value from AWS Secrets Manager: a secret (name or ARN) and, for JSON secrets, a property."""

    secret: str = Field(min_length=1, pattern=r"^(arn:aws:secretsmanager:[a-z0-9-]+:\d{12}:secret:)?[\w/+=.@!-]+$")
    property: str | None = None


class AppIngressConfig(ConfigModel):
    """Public (or internal) exposure through an ALB: HTTPS only, with the ACM certificate given."""

    host: str = Field(pattern=r"^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
    certificate_arn: str = Field(pattern=r"^arn:aws:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]+$")
    waf_acl_arn: str | None = None
    scheme: Literal["internet-facing", "internal"] = "internal"
    ssl_policy: str = Field(default=DEFAULT_SSL_POLICY, pattern=r"^ELBSecurityPolicy-(TLS13|FS-1-2)")

    @field_validator("waf_acl_arn")
    @classmethod
    def _regional_acl(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"arn:aws:wafv2:[a-z0-9-]+:\d{12}:regional/webacl/[\w-]+/[\w-]+",
                                                  value):
            raise ValueError("must be a REGIONAL WAFv2 web ACL ARN (arn:aws:wafv2:<region>:<account>:regional/"
                             "webacl/<name>/<id>); an ALB cannot use a CloudFront-scope ACL")
        return value


class PreDeployConfig(ConfigModel):
    """A command run to completion as a Job before each rollout of a new image (database migrations)."""

    command: tuple[str, ...] = Field(min_length=1)
    timeout_seconds: int = Field(default=600, ge=30, le=7200)
    backoff_limit: int = Field(default=1, ge=0, le=6)


class CronJobConfig(ConfigModel):
    name: str = Field(pattern=_DNS_LABEL, max_length=30)
    schedule: str
    command: tuple[str, ...] = Field(min_length=1)
    concurrency_policy: Literal["Forbid", "Replace", "Allow"] = "Forbid"
    time_zone: str = "Etc/UTC"
    timeout_seconds: int = Field(default=3600, ge=30, le=86400)

    @field_validator("schedule")
    @classmethod
    def _five_fields(cls, value: str) -> str:
        if value.startswith("@") or not re.fullmatch(rf"{_CRON_FIELD}( {_CRON_FIELD}){{4}}", value):
            raise ValueError("must be a five-field cron expression like '0 3 * * *'")
        return value


class AppConfig(ConfigModel):
    image: PinnedImage
    cpu: str = Field(default="500m", pattern=r"^\d+(m)?$")
    memory: str = Field(default="512Mi", pattern=r"^\d+(Mi|Gi)$")
    min_replicas: int = Field(default=2, ge=1, le=100)
    max_replicas: int = Field(default=4, ge=1, le=200)
    node_pool: Literal["app", "worker"] = "app"
    namespace: str = Field(default="apps", pattern=_DNS_LABEL)
    port: int = Field(default=8080, ge=1024, le=65535)
    health_check_path: str = Field(default="/health", pattern=r"^/[\w./-]*$")
    #: A worker without callers sets this false: no Service, and the NetworkPolicy admits nothing.
    service: bool = True
    env: dict[str, str] = {}
    secrets: dict[str, SecretRefConfig] = {}
    #: Apps (``name`` in this namespace or ``namespace/name``) allowed to call this one.
    allow_from: tuple[str, ...] = ()
    cpu_target_percent: int = Field(default=70, ge=10, le=100)
    memory_target_percent: int | None = Field(default=80, ge=10, le=100)
    max_surge: str = Field(default="25%", pattern=r"^\d+%?$")
    min_ready_seconds: int = Field(default=10, ge=0, le=600)
    termination_grace_seconds: int = Field(default=60, ge=5, le=3600)
    pre_stop_seconds: int = Field(default=10, ge=0, le=120)
    zone_spread: Literal["DoNotSchedule", "ScheduleAnyway"] = "DoNotSchedule"
    run_as_user: int = Field(default=10001, ge=1000)
    tmp_size: str = Field(default="256Mi", pattern=r"^\d+(Mi|Gi)$")
    ingress: AppIngressConfig | None = None
    pre_deploy: PreDeployConfig | None = None
    cron_jobs: tuple[CronJobConfig, ...] = ()

    @model_validator(mode="after")
    def _replicas(self) -> AppConfig:
        problems = ProblemCollector()
        if self.min_replicas > self.max_replicas:
            problems.add("minReplicas", self.min_replicas, f"must be at most maxReplicas ({self.max_replicas})")
        if int(self.max_surge.rstrip("%")) == 0:
            problems.add("maxSurge", self.max_surge, "must be above 0: maxUnavailable is 0, so a rollout needs surge")
        if self.pre_stop_seconds >= self.termination_grace_seconds:
            problems.add("preStopSeconds", self.pre_stop_seconds,
                         f"must be below terminationGraceSeconds ({self.termination_grace_seconds}) so the app "
                         "still has time to shut down after the preStop pause")
        for key in self.env:
            if not _ENV_NAME.fullmatch(key):
                problems.add(("env", key), self.env[key], "the name must be an environment variable name "
                                                          "(A-Z, 0-9, _; not starting with a digit)")
            elif _SECRET_LOOKING.search(key):
                problems.add(("env", key), "***", "looks like a secret: put it under secrets (read from AWS "
                                                  "Secrets Manager), never in plain config")
        for key in self.secrets:
            if not _ENV_NAME.fullmatch(key):
                problems.add(("secrets", key), key, "the name must be an environment variable name")
            if key in self.env:
                problems.add(("secrets", key), key, "is also set under env; give each variable one source")
        for index, source in enumerate(self.allow_from):
            if not all(re.fullmatch(_DNS_LABEL, part) for part in source.split("/", 1)):
                problems.add(("allowFrom", index), source, "must be an app name or namespace/name (DNS labels)")
        names = [job.name for job in self.cron_jobs]
        for index, job_name in enumerate(names):
            if names.index(job_name) != index:
                problems.add(("cronJobs", index, "name"), job_name, "each cron job needs a distinct name")
        if self.ingress is not None and not self.service:
            problems.add("ingress", self.ingress.host, "needs service: true (the Ingress routes to the Service)")
        problems.raise_if_any()
        return self


class AppsConfig(ConfigModel):
    nlfhir: AppConfig
    prm_api: AppConfig
    prm_worker: AppConfig
    #: Restarts pods whose Secret changed (components/reloader.py).
    reloader: ReloaderConfig = ReloaderConfig()


@dataclass(frozen=True)
class SecretRef:
    """A secret wired from another component (e.g. the database's master-user secret)."""

    arn: pulumi.Input[str]
    property: str | None = None


def _hash(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:8]


class AppService(pulumi.ComponentResource):
    """One app on the cluster, Railway-style. Kubernetes objects are named ``app_name`` in ``config.namespace``.

    Give it ``providers`` for ``aws`` and ``kubernetes`` through ``opts``; ``wait_for`` lists what the
    Kubernetes objects need first (the cluster's add-ons: CRDs, webhooks, the namespace).
    """

    def __init__(
        self,
        name: str,
        config: AppConfig,
        *,
        app_name: str,
        region: str,
        account_id: str,
        oidc_provider_arn: pulumi.Input[str],
        oidc_issuer: pulumi.Input[str],
        environment: Mapping[str, pulumi.Input[str]] | None = None,
        secrets: Mapping[str, SecretRef] | None = None,
        secret_kms_key_arns: Sequence[pulumi.Input[str]] = (),
        iam_policy: pulumi.Input[str] | None = None,
        database: PostgresBinding | None = None,
        load_balancer_cidrs: Mapping[str, Sequence[str]] | None = None,
        access_logs_bucket: pulumi.Input[str] | None = None,
        wait_for: Sequence[pulumi.Resource] = (),
        tags: Mapping[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("care:compute:AppService", name, None, opts)
        if not re.fullmatch(_DNS_LABEL, app_name):
            raise ValueError(f"app_name {app_name!r} must be a DNS label")
        environment = dict(environment or {})
        if database is not None:
            clash = set(environment) & set(database.environment())
            if clash:
                raise ValueError(f"{name}: variables set twice (environment and database): {', '.join(sorted(clash))}")
            environment.update(database.environment())
        wired_secrets = dict(secrets or {})
        clash = (set(environment) | set(wired_secrets)) & (set(config.env) | set(config.secrets))
        clash |= set(environment) & set(wired_secrets)
        if clash:
            raise ValueError(f"{name}: variables set twice (config and wiring): {', '.join(sorted(clash))}")
        self._name, self._config, self._app, self._tags = name, config, app_name, tags
        ns = config.namespace
        self.namespace = ns
        self.selector = self.labels_for(app_name)
        self.pod_labels = {**self.selector, "app.kubernetes.io/part-of": "care-platform",
                           "app.kubernetes.io/version": _version_label(config.image)}
        labels = {**self.selector, "app.kubernetes.io/part-of": "care-platform",
                  "app.kubernetes.io/managed-by": "pulumi"}
        self._labels = labels
        k8s_opts = child_opts(self, depends_on=list(wait_for))

        all_secrets: dict[str, SecretRef] = {
            key: SecretRef(arn=ref.secret, property=ref.property)
            for key, ref in config.secrets.items()
        }
        all_secrets.update(wired_secrets)
        self._secret_keys = sorted(all_secrets)
        self.secret_name = f"{app_name}-secrets"

        # -- identity: ServiceAccount and (when it needs AWS) its IRSA role -------------------------------
        self.role: aws.iam.Role | None = None
        # Everything the pods' role may do is attached before anything that assumes the role starts.
        role_policies: list[pulumi.Resource] = []
        secrets_policy: list[pulumi.Resource] = []
        if all_secrets or iam_policy is not None or database is not None:
            self.role = aws.iam.Role(
                f"{name}-irsa",
                aws.iam.RoleArgs(
                    description=f"IRSA: {ns}/{app_name}",
                    assume_role_policy=irsa_trust_policy(oidc_provider_arn, oidc_issuer, ns, app_name),
                    tags=tags_for(tags, f"{name}-irsa"),
                ),
                child_opts(self),
            )
            if all_secrets:
                secret_arns = [_iam_secret_arn(config.secrets[k].secret, region, account_id) if k in config.secrets
                               else all_secrets[k].arn for k in self._secret_keys]
                secrets_policy.append(aws.iam.RolePolicy(
                    f"{name}-irsa-secrets",
                    aws.iam.RolePolicyArgs(
                        role=self.role.id,
                        policy=pulumi.Output.all(pulumi.Output.all(*secret_arns),
                                                 pulumi.Output.all(*secret_kms_key_arns)).apply(
                            lambda a: secrets_read_policy(a[0], a[1], region)),
                    ),
                    child_opts(self),
                ))
                role_policies += secrets_policy
            if iam_policy is not None:
                role_policies.append(aws.iam.RolePolicy(
                    f"{name}-irsa-policy", aws.iam.RolePolicyArgs(role=self.role.id, policy=iam_policy),
                    child_opts(self)))
            if database is not None:
                # IAM database authentication as the app's own user (never the master user):
                # https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.IAMPolicy.html
                role_policies.append(aws.iam.RolePolicy(
                    f"{name}-irsa-rds-connect",
                    aws.iam.RolePolicyArgs(role=self.role.id, policy=database.connect_policy(region, account_id)),
                    child_opts(self)))
        self.service_account = k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=app_name, namespace=ns, labels=labels,
                annotations={"eks.amazonaws.com/role-arn": self.role.arn} if self.role else None,
            ),
            automount_service_account_token=False,
            opts=k8s_opts,
        )

        # -- secrets: an ExternalSecret through a SecretStore that authenticates as this app -----------
        secret_deps: list[pulumi.Resource] = []
        if all_secrets:
            store = k8s.apiextensions.CustomResource(
                f"{name}-secret-store",
                api_version=EXTERNAL_SECRETS_API,
                kind="SecretStore",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=app_name, namespace=ns, labels=labels),
                spec={"provider": {"aws": {
                    "service": "SecretsManager",
                    "region": region,
                    "auth": {"jwt": {"serviceAccountRef": {"name": app_name}}},
                }}},
                # The store authenticates as the service account: its role may read the secrets first.
                opts=child_opts(self, depends_on=[*wait_for, self.service_account, *secrets_policy]),
            )
            self.external_secret = k8s.apiextensions.CustomResource(
                f"{name}-external-secret",
                api_version=EXTERNAL_SECRETS_API,
                kind="ExternalSecret",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=app_name, namespace=ns, labels=labels),
                spec={
                    "refreshInterval": "1h",
                    "secretStoreRef": {"name": app_name, "kind": "SecretStore"},
                    "target": {"name": self.secret_name, "creationPolicy": "Owner", "deletionPolicy": "Retain"},
                    "data": [
                        {"secretKey": key, "remoteRef": {
                            "key": all_secrets[key].arn,
                            **({"property": all_secrets[key].property} if all_secrets[key].property else {}),
                        }}
                        for key in self._secret_keys
                    ],
                },
                opts=child_opts(self, depends_on=[*wait_for, store]),
            )
            secret_deps.append(self.external_secret)

        env = [k8s.core.v1.EnvVarArgs(name="PORT", value=str(config.port))]
        env += [k8s.core.v1.EnvVarArgs(name=k, value=v) for k, v in sorted(config.env.items())]
        env += [k8s.core.v1.EnvVarArgs(name=k, value=environment[k]) for k in sorted(environment)]
        env += [k8s.core.v1.EnvVarArgs(name=k, value_from=k8s.core.v1.EnvVarSourceArgs(
            secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(name=self.secret_name, key=k)))
            for k in self._secret_keys]
        self._env = env

        # -- the pre-deploy Job: a new name per image and command, so each release runs it once ----------
        rollout_deps: list[pulumi.Resource] = [*wait_for, self.service_account, *secret_deps, *role_policies]
        self.pre_deploy_job: k8s.batch.v1.Job | None = None
        if config.pre_deploy is not None:
            pre = config.pre_deploy
            job_name = f"{app_name}-predeploy-{_hash(config.image, *pre.command)}"
            self.pre_deploy_job = k8s.batch.v1.Job(
                f"{name}-predeploy",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=job_name, namespace=ns, labels=labels),
                spec=k8s.batch.v1.JobSpecArgs(
                    backoff_limit=pre.backoff_limit,
                    active_deadline_seconds=pre.timeout_seconds,
                    template=self._job_template(f"{app_name}-predeploy", pre.command),
                ),
                opts=child_opts(self, depends_on=rollout_deps),
            )
            rollout_deps = [*rollout_deps, self.pre_deploy_job]

        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=app_name, namespace=ns, labels=labels,
                # Reloader (components/reloader.py) rolls the pods when External Secrets refreshes this
                # Secret after a rotation, so no pod keeps a stale credential.
                annotations={RELOAD_ANNOTATION: self.secret_name} if all_secrets else None,
            ),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                # No replicas: the HPA owns the count (between minReplicas and maxReplicas).
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=self.selector),
                strategy=k8s.apps.v1.DeploymentStrategyArgs(
                    type="RollingUpdate",
                    rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(max_unavailable=0,
                                                                           max_surge=_int_or_str(config.max_surge)),
                ),
                min_ready_seconds=config.min_ready_seconds,
                revision_history_limit=5,
                progress_deadline_seconds=600,
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=self.pod_labels),
                    spec=self._pod_spec(
                        containers=[self._container(probes=True)],
                        topology_spread=True,
                    ),
                ),
            ),
            opts=child_opts(self, depends_on=rollout_deps),
        )

        metrics = [k8s.autoscaling.v2.MetricSpecArgs(
            type="Resource", resource=k8s.autoscaling.v2.ResourceMetricSourceArgs(
                name="cpu", target=k8s.autoscaling.v2.MetricTargetArgs(
                    type="Utilization", average_utilization=config.cpu_target_percent)))]
        if config.memory_target_percent is not None:
            metrics.append(k8s.autoscaling.v2.MetricSpecArgs(
                type="Resource", resource=k8s.autoscaling.v2.ResourceMetricSourceArgs(
                    name="memory", target=k8s.autoscaling.v2.MetricTargetArgs(
                        type="Utilization", average_utilization=config.memory_target_percent))))
        self.hpa = k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-hpa",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=app_name, namespace=ns, labels=labels),
            spec=k8s.autoscaling.v2.HorizontalPodAutoscalerSpecArgs(
                scale_target_ref=k8s.autoscaling.v2.CrossVersionObjectReferenceArgs(
                    api_version="apps/v1", kind="Deployment", name=app_name),
                min_replicas=config.min_replicas,
                max_replicas=config.max_replicas,
                metrics=metrics,
                behavior=k8s.autoscaling.v2.HorizontalPodAutoscalerBehaviorArgs(
                    scale_down=k8s.autoscaling.v2.HPAScalingRulesArgs(stabilization_window_seconds=300)),
            ),
            opts=child_opts(self, depends_on=[self.deployment]),
        )
        self.pdb = k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=app_name, namespace=ns, labels=labels),
            spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                max_unavailable=1,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=self.selector),
                unhealthy_pod_eviction_policy="AlwaysAllow",
            ),
            opts=k8s_opts,
        )

        self.service: k8s.core.v1.Service | None = None
        self.url: pulumi.Output[str] | None = None
        if config.service:
            self.service = k8s.core.v1.Service(
                f"{name}-service",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=app_name, namespace=ns, labels=labels),
                spec=k8s.core.v1.ServiceSpecArgs(
                    type="ClusterIP",
                    selector=self.selector,
                    ports=[k8s.core.v1.ServicePortArgs(name="http", port=80, target_port="http",
                                                       protocol="TCP", app_protocol="http")],
                ),
                opts=k8s_opts,
            )
            self.url = pulumi.Output.from_input(f"http://{app_name}.{ns}.svc.cluster.local")

        self._network_policy(dict(load_balancer_cidrs or {}), k8s_opts)
        self.ingress: k8s.networking.v1.Ingress | None = None
        if config.ingress is not None:
            self._ingress(config.ingress, access_logs_bucket, k8s_opts)

        self.cron_jobs: dict[str, k8s.batch.v1.CronJob] = {}
        for cron in config.cron_jobs:
            self.cron_jobs[cron.name] = k8s.batch.v1.CronJob(
                f"{name}-cron-{cron.name}",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{app_name}-{cron.name}", namespace=ns, labels=labels),
                spec=k8s.batch.v1.CronJobSpecArgs(
                    schedule=cron.schedule,
                    time_zone=cron.time_zone,
                    concurrency_policy=cron.concurrency_policy,
                    starting_deadline_seconds=300,
                    successful_jobs_history_limit=3,
                    failed_jobs_history_limit=3,
                    job_template=k8s.batch.v1.JobTemplateSpecArgs(
                        metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                        spec=k8s.batch.v1.JobSpecArgs(
                            backoff_limit=1,
                            active_deadline_seconds=cron.timeout_seconds,
                            template=self._job_template(f"{app_name}-{cron.name}", cron.command),
                        ),
                    ),
                ),
                opts=child_opts(self, depends_on=[*wait_for, self.service_account, *secret_deps, *role_policies]),
            )

        self.register_outputs({
            "namespace": ns,
            "serviceAccount": app_name,
            "roleArn": self.role.arn if self.role else None,
            "url": self.url,
        })

    # -- pieces --------------------------------------------------------------------------------------
    def _container(self, *, probes: bool, command: Sequence[str] | None = None) -> k8s.core.v1.ContainerArgs:
        c = self._config
        http_get = k8s.core.v1.HTTPGetActionArgs(path=c.health_check_path, port="http")
        return k8s.core.v1.ContainerArgs(
            name=self._app,
            image=c.image,
            image_pull_policy="IfNotPresent",
            command=list(command) if command else None,
            ports=[k8s.core.v1.ContainerPortArgs(name="http", container_port=c.port, protocol="TCP")]
            if probes else None,
            env=self._env,
            resources=k8s.core.v1.ResourceRequirementsArgs(
                requests={"cpu": c.cpu, "memory": c.memory},
                limits={"cpu": c.cpu, "memory": c.memory},
            ),
            startup_probe=k8s.core.v1.ProbeArgs(http_get=http_get, period_seconds=5, failure_threshold=60,
                                                timeout_seconds=3) if probes else None,
            readiness_probe=k8s.core.v1.ProbeArgs(http_get=http_get, period_seconds=10, failure_threshold=3,
                                                  timeout_seconds=3) if probes else None,
            liveness_probe=k8s.core.v1.ProbeArgs(http_get=http_get, period_seconds=20, failure_threshold=3,
                                                 timeout_seconds=5) if probes else None,
            # Keep serving while the endpoints and load balancers drop this pod, then shut down gracefully.
            lifecycle=k8s.core.v1.LifecycleArgs(pre_stop=k8s.core.v1.LifecycleHandlerArgs(
                sleep=k8s.core.v1.SleepActionArgs(seconds=c.pre_stop_seconds)))
            if probes and c.pre_stop_seconds else None,
            security_context=k8s.core.v1.SecurityContextArgs(
                allow_privilege_escalation=False,
                read_only_root_filesystem=True,
                run_as_non_root=True,
                privileged=False,
                capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
            ),
            volume_mounts=[k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp")],
        )

    def _pod_spec(self, *, containers: list[k8s.core.v1.ContainerArgs], topology_spread: bool = False,
                  restart_policy: str | None = None) -> k8s.core.v1.PodSpecArgs:
        c = self._config
        return k8s.core.v1.PodSpecArgs(
            service_account_name=self._app,
            automount_service_account_token=False,
            termination_grace_period_seconds=c.termination_grace_seconds,
            restart_policy=restart_policy,
            security_context=k8s.core.v1.PodSecurityContextArgs(
                run_as_non_root=True,
                run_as_user=c.run_as_user,
                run_as_group=c.run_as_user,
                fs_group=c.run_as_user,
                seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
            ),
            node_selector={POOL_LABEL: c.node_pool},
            tolerations=[k8s.core.v1.TolerationArgs(key=POOL_LABEL, operator="Equal", value=c.node_pool,
                                                    effect="NoSchedule")] if c.node_pool in TAINTED_POOLS else None,
            topology_spread_constraints=[
                k8s.core.v1.TopologySpreadConstraintArgs(
                    max_skew=1, topology_key="topology.kubernetes.io/zone", when_unsatisfiable=c.zone_spread,
                    label_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=self.selector)),
                k8s.core.v1.TopologySpreadConstraintArgs(
                    max_skew=1, topology_key="kubernetes.io/hostname", when_unsatisfiable="ScheduleAnyway",
                    label_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=self.selector)),
            ] if topology_spread else None,
            containers=containers,
            volumes=[k8s.core.v1.VolumeArgs(name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(
                size_limit=c.tmp_size))],
        )

    def _job_template(self, job_label: str, command: Sequence[str]) -> k8s.core.v1.PodTemplateSpecArgs:
        return k8s.core.v1.PodTemplateSpecArgs(
            metadata=k8s.meta.v1.ObjectMetaArgs(labels={
                "app.kubernetes.io/name": job_label, "app.kubernetes.io/part-of": "care-platform",
                # A sidecar would keep the finished Job's pod running.
                "sidecar.istio.io/inject": "false",
            }),
            spec=self._pod_spec(containers=[self._container(probes=False, command=command)], restart_policy="Never"),
        )

    @staticmethod
    def labels_for(app_name: str) -> dict[str, str]:
        """The labels that select an app's pods (for other components' NetworkPolicies)."""
        return {"app.kubernetes.io/name": app_name}

    def _network_policy(self, load_balancer_cidrs: Mapping[str, Sequence[str]], opts: pulumi.ResourceOptions) -> None:
        c, ns = self._config, self._config.namespace
        port = [k8s.networking.v1.NetworkPolicyPortArgs(port=c.port, protocol="TCP")]
        rules: list[k8s.networking.v1.NetworkPolicyIngressRuleArgs] = []
        if c.allow_from:
            peers = []
            for source in c.allow_from:
                source_ns, _, source_app = source.rpartition("/")
                peers.append(k8s.networking.v1.NetworkPolicyPeerArgs(
                    pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"app.kubernetes.io/name": source_app}),
                    namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                        match_labels={"kubernetes.io/metadata.name": source_ns or ns}),
                ))
            rules.append(k8s.networking.v1.NetworkPolicyIngressRuleArgs(from_=peers, ports=port))
        if c.ingress is not None:
            # ALB targets are pod IPs; the ALB's nodes sit in the public subnets (internet-facing) or the
            # private ones (internal), so those ranges are the only source admitted besides named apps.
            cidrs = load_balancer_cidrs.get(c.ingress.scheme)
            if not cidrs:
                raise ValueError(f"{self._name}: an {c.ingress.scheme} Ingress needs load_balancer_cidrs"
                                 f"[{c.ingress.scheme!r}] (the ALB's subnets) for its NetworkPolicy")
            rules.append(k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                from_=[k8s.networking.v1.NetworkPolicyPeerArgs(ip_block=k8s.networking.v1.IPBlockArgs(cidr=cidr))
                       for cidr in cidrs],
                ports=port,
            ))
        self.network_policy = k8s.networking.v1.NetworkPolicy(
            f"{self._name}-netpol",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=self._app, namespace=ns, labels=self._labels),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=self.selector),
                policy_types=["Ingress"],
                ingress=rules,
            ),
            opts=opts,
        )

    def _ingress(self, ingress: AppIngressConfig, access_logs_bucket: pulumi.Input[str] | None,
                 opts: pulumi.ResourceOptions) -> None:
        c, ns, app = self._config, self._config.namespace, self._app
        attributes: list[pulumi.Input[str]] = ["routing.http.drop_invalid_header_fields.enabled=true"]
        if access_logs_bucket is not None:
            attributes.append(pulumi.Output.concat("access_logs.s3.enabled=true,access_logs.s3.bucket=",
                                                   access_logs_bucket, f",access_logs.s3.prefix=alb/{app}"))
        annotations: dict[str, pulumi.Input[str]] = {
            "alb.ingress.kubernetes.io/scheme": ingress.scheme,
            "alb.ingress.kubernetes.io/target-type": "ip",
            "alb.ingress.kubernetes.io/listen-ports": json.dumps([{"HTTPS": 443}]),
            "alb.ingress.kubernetes.io/certificate-arn": ingress.certificate_arn,
            "alb.ingress.kubernetes.io/ssl-policy": ingress.ssl_policy,
            "alb.ingress.kubernetes.io/backend-protocol": "HTTP",
            "alb.ingress.kubernetes.io/healthcheck-path": c.health_check_path,
            "alb.ingress.kubernetes.io/load-balancer-attributes": pulumi.Output.all(*attributes).apply(",".join),
            "alb.ingress.kubernetes.io/tags": ",".join(f"{k}={v}" for k, v in sorted(self._tags.items())
                                                       if re.fullmatch(r"[\w.:/@+=-]+", f"{k}{v}")),
        }
        if ingress.waf_acl_arn:
            annotations["alb.ingress.kubernetes.io/wafv2-acl-arn"] = ingress.waf_acl_arn
        self.ingress = k8s.networking.v1.Ingress(
            f"{self._name}-ingress",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=app, namespace=ns, labels=self._labels, annotations=annotations),
            spec=k8s.networking.v1.IngressSpecArgs(
                ingress_class_name="alb",
                rules=[k8s.networking.v1.IngressRuleArgs(
                    host=ingress.host,
                    http=k8s.networking.v1.HTTPIngressRuleValueArgs(paths=[k8s.networking.v1.HTTPIngressPathArgs(
                        path="/", path_type="Prefix",
                        backend=k8s.networking.v1.IngressBackendArgs(service=k8s.networking.v1.IngressServiceBackendArgs(
                            name=app, port=k8s.networking.v1.ServiceBackendPortArgs(name="http"))),
                    )]),
                )],
            ),
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[self.service]
                                                                           if self.service else [])),
        )
        # The ALB speaks plain HTTP to the pod (TLS ends at the ALB), so the app's port accepts
        # non-mTLS traffic; the NetworkPolicy admits it only from the load balancer's subnets.
        self.peer_authentication = k8s.apiextensions.CustomResource(
            f"{self._name}-alb-mtls-exception",
            api_version="security.istio.io/v1",
            kind="PeerAuthentication",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=app, namespace=ns, labels=self._labels),
            spec={"selector": {"matchLabels": self.selector}, "mtls": {"mode": "STRICT"},
                  "portLevelMtls": {str(c.port): {"mode": "PERMISSIVE"}}},
            opts=opts,
        )


def _version_label(image: str) -> str:
    if "@sha256:" in image:
        return image.rsplit("@sha256:", 1)[1][:12]
    return re.sub(r"[^A-Za-z0-9_.-]", "-", image.rpartition(":")[2])[:63]


def _int_or_str(value: str) -> int | str:
    return value if value.endswith("%") else int(value)


def _iam_secret_arn(secret: str, region: str, account_id: str) -> str:
    """The IAM resource for a secret given by name (Secrets Manager appends a 6-character suffix)."""
    if secret.startswith("arn:"):
        return secret
    return f"arn:aws:secretsmanager:{region}:{account_id}:secret:{secret}-??????"


def secrets_read_policy(secret_arns: Sequence[str], kms_key_arns: Sequence[str], region: str) -> str:
    statements: list[dict[str, Any]] = [{
        "Sid": "ReadOwnSecrets",
        "Effect": "Allow",
        "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
        "Resource": sorted(set(secret_arns)),
    }]
    if kms_key_arns:
        statements.append({
            "Sid": "DecryptThroughSecretsManager",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": sorted(set(kms_key_arns)),
            "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}},
        })
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def msk_client_policy(cluster_arn: pulumi.Input[str], *, write: bool = False) -> pulumi.Output[str]:
    """IAM access control for an MSK client: connect, read topics and use consumer groups (and write, if asked)."""

    def document(arn: str) -> str:
        topics = arn.replace(":cluster/", ":topic/", 1) + "/*"
        groups = arn.replace(":cluster/", ":group/", 1) + "/*"
        topic_actions = ["kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"]
        if write:
            topic_actions.append("kafka-cluster:WriteData")
        return json.dumps({"Version": "2012-10-17", "Statement": [
            {"Sid": "Connect", "Effect": "Allow", "Resource": arn,
             "Action": ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster"]},
            {"Sid": "Topics", "Effect": "Allow", "Resource": topics, "Action": topic_actions},
            {"Sid": "ConsumerGroups", "Effect": "Allow", "Resource": groups,
             "Action": ["kafka-cluster:AlterGroup", "kafka-cluster:DescribeGroup"]},
        ]})

    return pulumi.Output.from_input(cluster_arn).apply(document)
