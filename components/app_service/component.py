"""``AppService``: one app on the cluster, assembled from the named parts beside this file."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.app_service import (
    analysis,
    authorization,
    autoscaling,
    exposure,
    feature_flags,
    identity,
    jobs,
    rollout,
    secrets,
    trust,
    workload,
)
from components.app_service.bindings import Binding, Wiring
from components.app_service.config import DNS_LABEL, AppConfig
from components.app_service.spec import AppSpec, labels_for
from components.common import child_opts


class AppService(pulumi.ComponentResource):
    """One app on the cluster, Railway-style. Kubernetes objects are named ``app_name`` in ``config.namespace``.

    Give it ``providers`` for ``aws`` and ``kubernetes`` through ``opts``; ``wait_for`` lists what the
    Kubernetes objects need first (the cluster's add-ons: CRDs, webhooks, the namespace). ``bindings``
    bind it to stores (components/app_service/bindings.py): each gives environment, secrets and IAM.
    ``flag_alarm_arns``: the app's CloudWatch alarms (at most 5) that roll a feature-flag change back
    (``config.featureFlags``: AWS AppConfig, components/app_service/feature_flags.py).
    """

    role: aws.iam.Role | None
    url: pulumi.Output[str] | None

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
        bindings: Sequence[Binding] = (),
        secret_kms_key_arns: Sequence[pulumi.Input[str]] = (),
        load_balancer_cidrs: Mapping[str, Sequence[str]] | None = None,
        access_logs_bucket: pulumi.Input[str] | None = None,
        publication: exposure.Publication | None = None,
        wait_for: Sequence[pulumi.Resource] = (),
        flag_alarm_arns: Sequence[pulumi.Input[str]] = (),
        tags: Mapping[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("care:compute:AppService", name, None, opts)
        if not re.fullmatch(DNS_LABEL, app_name):
            raise ValueError(f"app_name {app_name!r} must be a DNS label")
        if publication is not None and not config.published:
            raise ValueError(f"{name}: a publication was given but the app is not published (published: false)")
        self.feature_flags: feature_flags.FeatureFlags | None = None
        if config.feature_flags is not None:
            self.feature_flags = feature_flags.create_feature_flags(
                self, name, config.feature_flags, environment_name=tags.get("Environment", "default"),
                alarm_arns=flag_alarm_arns, account_id=account_id, tags=tags)
            bindings = [*bindings, self.feature_flags.binding]
        wiring = Wiring.merge(name, bindings, region, account_id)
        spec = dataclasses.replace(AppSpec.build(name, app_name, config, wiring, tags),
                                   rds_ca_bundle=trust.bundle_of(name, bindings))
        self.namespace, self.selector, self.pod_labels = spec.namespace, spec.selector, spec.pod_labels
        self.secret_name = spec.secret_name
        k8s_opts = child_opts(self, depends_on=list(wait_for))

        access = identity.AwsAccess(region, account_id, oidc_provider_arn, oidc_issuer, secret_kms_key_arns)
        ident = identity.create_identity(self, spec, wiring, access, k8s_opts)
        self.role, self.service_account = ident.role, ident.service_account
        self.external_secret = secrets.create_external_secret(
            self, spec, region=region, store_depends_on=[self.service_account, *ident.secrets_policies],
            wait_for=wait_for) if spec.secrets else None

        self.rds_ca = trust.create_config_map(spec, k8s_opts)
        # Everything the pods need exists before the first pod starts: identity, policies, secrets, the CA bundle.
        ready = [*wait_for, self.service_account, *([self.external_secret] if self.external_secret else []),
                 *ident.policies, *([self.rds_ca] if self.rds_ca else [])]
        self.pre_deploy_job = jobs.create_pre_deploy_job(self, spec, ready)
        self._expose(spec, dict(load_balancer_cidrs or {}), access_logs_bucket, publication, k8s_opts)
        # The new version rolls out only after its migration Job succeeded (the Job's await fails the
        # update when the Job fails, so the running version is left untouched).
        gate = [*ready, *([self.pre_deploy_job] if self.pre_deploy_job else [])]
        self.deployment: k8s.apps.v1.Deployment | None = None
        self.rollout: k8s.apiextensions.CustomResource | None = None
        self.analysis_template: k8s.apiextensions.CustomResource | None = None
        if config.rollout == "rolling":
            self.deployment = workload.create_deployment(self, spec, gate)
            workload_resource: pulumi.Resource = self.deployment
        else:
            self.analysis_template = analysis.create_analysis_template(spec, k8s_opts)
            services = [s for s in (self.service, self.preview_service) if s is not None]
            self.rollout = rollout.create_rollout(self, spec, [*gate, self.analysis_template, *services])
            workload_resource = self.rollout
        self.hpa = autoscaling.create_hpa(self, spec, workload_resource)
        self.pdb = autoscaling.create_pdb(spec, k8s_opts)
        self.cron_jobs = jobs.create_cron_jobs(self, spec, ready)

        self.register_outputs({
            "namespace": spec.namespace,
            "serviceAccount": app_name,
            "roleArn": self.role.arn if self.role else None,
            "url": self.url,
            "rollout": config.rollout,
        })

    def _expose(self, spec: AppSpec, load_balancer_cidrs: Mapping[str, Sequence[str]],
                access_logs_bucket: pulumi.Input[str] | None, publication: exposure.Publication | None,
                k8s_opts: pulumi.ResourceOptions) -> None:
        """The Service, the NetworkPolicy, the AuthorizationPolicy and, for a configured or published app, the ALB
        Ingress.

        A published app (``published: true``) gets its Ingress only from the edge's ``publication``: with
        the edge disabled it has none, so no ALB is internet-facing.
        """
        self.service = exposure.create_service(spec, k8s_opts)
        self.preview_service = (exposure.create_service(spec, k8s_opts, preview=True)
                                if spec.config.rollout == "blueGreen" else None)
        self.url = (pulumi.Output.from_input(f"http://{spec.app}.{spec.namespace}.svc.cluster.local")
                    if self.service else None)
        ingress = publication or spec.config.ingress
        scheme = "internet-facing" if publication else (spec.config.ingress.scheme if spec.config.ingress else None)
        self.network_policy = exposure.create_network_policy(spec, load_balancer_cidrs, k8s_opts, scheme)
        # Who may call it by mesh identity (its namespace denies everything else: authorization.allow_nothing).
        self.authorization_policy = authorization.create_authorization_policy(
            spec, load_balancer_cidrs.get(scheme, ()) if scheme else (), k8s_opts)
        self.ingress: k8s.networking.v1.Ingress | None = None
        self.peer_authentication: k8s.apiextensions.CustomResource | None = None
        if ingress is not None:
            self.ingress, self.peer_authentication = exposure.create_ingress(
                spec, ingress, access_logs_bucket=access_logs_bucket, service=self.service, opts=k8s_opts)

    @staticmethod
    def labels_for(app_name: str) -> dict[str, str]:
        """The labels that select an app's pods (for other components' NetworkPolicies)."""
        return labels_for(app_name)
