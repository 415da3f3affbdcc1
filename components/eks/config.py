"""The EKS section of the stack configuration: pydantic models with their bounds and cross-field rules.

``config.py`` (the only reader of ``pulumi.Config``) builds ``EksConfig`` from ``Pulumi.<stack>.yaml``;
every problem is one line naming the key, the value given and what is allowed.

Versions (checked 2026-12-02; sources cited where pinned): Kubernetes 1.36 is the EKS minor in
standard support with the longest support ahead (EKS release 2026-06-02, standard support to
2027-08-02, extended to 2028-08-02); 1.31 left extended support on 2026-11-26.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from typing import Literal

from pydantic import Field, model_validator

from components.common import ConfigModel, LogRetentionDays
from components.instance_classes import Ec2InstanceType
from components.problems import ProblemCollector

_ADDON_VERSION = r"^v\d+\.\d+\.\d+-eksbuild\.\d+$"
_CHART_VERSION = r"^\d+\.\d+\.\d+$"
_IMAGE_TAG = r"^v\d+\.\d+\.\d+$"
_ROLE_ARN = r"^arn:aws:iam::\d{12}:role/[\w+=,.@/-]+$"


#: Instance families whose nodes can carry security groups for Pods (a trunk network interface): the
#: families the EKS guide names ("the m5, c5, r5, m6g, c6g, and r6g instance family and generations are
#: supported. No instance types in the t family are supported";
#: https://docs.aws.amazon.com/eks/latest/userguide/security-groups-for-pods.html). Before adding one, check
#: ``IsTrunkingCompatible: true`` in amazon-vpc-resource-controller-k8s pkg/aws/vpc/limits.go.
TRUNK_COMPATIBLE_FAMILIES: tuple[str, ...] = ("m5", "c5", "r5", "m6g", "c6g", "r6g")


def pod_eni_problem(instance_type: str) -> str | None:
    """Why nodes of ``instance_type`` cannot carry security groups for Pods, or ``None`` when they can."""
    if instance_type.split(".")[0] in TRUNK_COMPATIBLE_FAMILIES:
        return None
    return ("nodes must support security groups for Pods (a trunk network interface); use a family in "
            f"{', '.join(TRUNK_COMPATIBLE_FAMILIES)} (no t family type has one)")


class NodePoolConfig(ConfigModel):
    instance_types: tuple[Ec2InstanceType, ...] = Field(min_length=1)
    desired: int = Field(ge=0, le=100)
    min: int = Field(ge=0, le=100)
    max: int = Field(ge=1, le=100)
    disk_gib: int = Field(default=50, ge=20, le=1000)
    capacity_type: Literal["ON_DEMAND", "SPOT"] = "ON_DEMAND"
    ami_type: Literal["AL2023_x86_64_STANDARD", "AL2023_ARM_64_STANDARD", "BOTTLEROCKET_x86_64",
                      "BOTTLEROCKET_ARM_64"] = "AL2023_x86_64_STANDARD"
    max_unavailable: int = Field(default=1, ge=1, le=100)

    @model_validator(mode="after")
    def _scaling(self) -> NodePoolConfig:
        problems = ProblemCollector()
        if self.min > self.desired:
            problems.add("min", self.min, f"must be at most desired ({self.desired})")
        if self.desired > self.max:
            problems.add("desired", self.desired, f"must be at most max ({self.max})")
        if self.max_unavailable > self.max:
            problems.add("maxUnavailable", self.max_unavailable, f"must be at most max ({self.max})")
        problems.raise_if_any()
        return self


class NodePoolsConfig(ConfigModel):
    app: NodePoolConfig
    worker: NodePoolConfig


class EksAddonsConfig(ConfigModel):
    """EKS add-on versions (``aws eks describe-addon-versions --kubernetes-version 1.36``).

    Exact ``vX.Y.Z-eksbuild.N`` strings: EKS echoes them back, so a second ``pulumi up`` shows no diff.
    kube-proxy must match the cluster's minor (https://docs.aws.amazon.com/eks/latest/userguide/managing-kube-proxy.html).
    Defaults are the builds an EKS 1.36 cluster ran on 2026-09-24 (kube-proxy v1.36.0-eksbuild.25,
    coredns v1.14.3-eksbuild.23, vpc-cni v1.22.4-eksbuild.3, aws-ebs-csi-driver v1.66.0-eksbuild.1).
    """

    vpc_cni: str = Field(default="v1.22.4-eksbuild.3", pattern=_ADDON_VERSION)
    coredns: str = Field(default="v1.14.3-eksbuild.23", pattern=_ADDON_VERSION)
    kube_proxy: str = Field(default="v1.36.0-eksbuild.25", pattern=_ADDON_VERSION)
    aws_ebs_csi_driver: str = Field(default="v1.66.0-eksbuild.1", pattern=_ADDON_VERSION)


#: The first External Secrets Operator release that serves ``external-secrets.io/v1`` (the API the app
#: service's ExternalSecret/SecretStore use); 0.17.0 stopped serving v1beta1
#: (https://github.com/external-secrets/external-secrets/releases/tag/v0.17.0).
EXTERNAL_SECRETS_MIN_V1 = (0, 16, 0)


class EksChartsConfig(ConfigModel):
    """Pinned Helm chart versions of the cluster add-ons (exact versions: Helm records what it installed).

    - aws-load-balancer-controller 1.17.1 (controller v2.17.1), https://github.com/aws/eks-charts
    - cluster-autoscaler chart 9.59.0 (the newest on 2026-07-30, packaging CA v1.35.0): the image tag is
      set explicitly to the cluster's minor (``clusterAutoscalerImageTag``, CA v1.36.1, released upstream
      https://github.com/kubernetes/autoscaler/releases/tag/cluster-autoscaler-1.36.1); the autoscaler
      must match the Kubernetes minor (https://github.com/kubernetes/autoscaler/tree/master/cluster-autoscaler#releases)
    - metrics-server 3.13.0, https://github.com/kubernetes-sigs/metrics-server/releases
    - external-secrets 2.6.0 (serves external-secrets.io/v1 only), https://github.com/external-secrets/external-secrets/releases/tag/v2.6.0
    - argo-rollouts chart 2.41.1 (Argo Rollouts v1.9.1): chart 2.41.0 packages v1.9.0
      (https://github.com/argoproj/argo-helm/blob/main/charts/argo-rollouts/Chart.yaml, 2026-07-02) and
      2.41.1 packages v1.9.1 (https://github.com/spectrocloud/pack-central/pull/302, 2026-08-13)
    - istio 1.31.0 (released 2026-08-31, the newest minor; Istio supports a minor until 6 weeks after
      N+2, https://istio.io/latest/docs/releases/supported-releases/), which supports Kubernetes 1.36
    """

    aws_load_balancer_controller: str = Field(default="1.17.1", pattern=_CHART_VERSION)
    cluster_autoscaler: str = Field(default="9.59.0", pattern=_CHART_VERSION)
    #: The Cluster Autoscaler image: its minor must equal the cluster's Kubernetes minor.
    cluster_autoscaler_image_tag: str = Field(default="v1.36.1", pattern=_IMAGE_TAG)
    metrics_server: str = Field(default="3.13.0", pattern=_CHART_VERSION)
    external_secrets: str = Field(default="2.6.0", pattern=_CHART_VERSION)
    istio: str = Field(default="1.31.0", pattern=_CHART_VERSION)
    argo_rollouts: str = Field(default="2.41.1", pattern=_CHART_VERSION)

    @model_validator(mode="after")
    def _serves_v1(self) -> EksChartsConfig:
        problems = ProblemCollector()
        version = tuple(int(p) for p in self.external_secrets.split("."))
        if version < EXTERNAL_SECRETS_MIN_V1:
            problems.add("externalSecrets", self.external_secrets,
                         "must be 0.16.0 or newer: the versions that serve external-secrets.io/v1, "
                         "which the app service's ExternalSecret and SecretStore use")
        problems.raise_if_any()
        return self


class EksConfig(ConfigModel):
    #: 1.30 or newer: the app services' preStop hooks use the sleep action (enabled by default from 1.30), and
    #: the admission policies are ValidatingAdmissionPolicy admissionregistration.k8s.io/v1 (GA in 1.30).
    version: str = Field(pattern=r"^1\.\d{2}$")
    endpoint_public_access: bool = False
    public_access_cidrs: tuple[str, ...] = ()
    #: The networks ``pulumi up`` runs from (CI runner subnet, VPN client pool): the cluster security
    #: group admits 443 from them. Required with a private-only endpoint, which admits nothing else.
    deployer_cidrs: tuple[str, ...] = ()
    #: The IAM role ``pulumi up`` runs as: it gets cluster-admin through an explicit access entry
    #: (the cluster creator is not bootstrapped, so admin access is granted one way only).
    deployer_role_arn: str
    #: A stack that sets this (the default) refuses a public API endpoint outright.
    require_private_endpoint: bool = True
    node_pools: NodePoolsConfig
    #: IAM roles granted cluster-admin through EKS access entries (API authentication mode).
    admin_role_arns: tuple[str, ...] = ()
    log_retention_days: LogRetentionDays = 365
    addons: EksAddonsConfig = EksAddonsConfig()
    charts: EksChartsConfig = EksChartsConfig()
    #: What happens to an EBS volume when its claim is deleted; Retain keeps the data.
    storage_reclaim_policy: Literal["Retain", "Delete"] = "Retain"

    @model_validator(mode="after")
    def _access(self) -> EksConfig:
        problems = ProblemCollector()
        if int(self.version.split(".")[1]) < 30:
            problems.add("version", self.version, "must be 1.30 or newer: the app services' preStop hooks use "
                                                  "the Kubernetes sleep action")
        if self.endpoint_public_access and self.require_private_endpoint:
            problems.add("endpointPublicAccess", True,
                         "must be false: this stack requires a private API endpoint (eks.requirePrivateEndpoint)")
        if self.endpoint_public_access and not self.public_access_cidrs:
            problems.add("publicAccessCidrs", [], "a public endpoint needs an allow-list of CIDRs "
                                                  "(EKS would otherwise admit 0.0.0.0/0)")
        if self.public_access_cidrs and not self.endpoint_public_access:
            problems.add("publicAccessCidrs", list(self.public_access_cidrs),
                         "only applies when endpointPublicAccess is true; remove it")
        _check_cidrs(problems, "publicAccessCidrs", self.public_access_cidrs)
        if not self.endpoint_public_access and not self.deployer_cidrs:
            problems.add("deployerCidrs", [], "a private-only API endpoint needs the CIDRs `pulumi up` runs from "
                                              "(CI runner subnet, VPN client pool): the cluster security group "
                                              "admits 443 from them and nothing else")
        _check_cidrs(problems, "deployerCidrs", self.deployer_cidrs)
        for index, arn in enumerate(self.admin_role_arns):
            if not _matches(_ROLE_ARN, arn):
                problems.add(("adminRoleArns", index), arn, "must be an IAM role ARN like "
                                                             "arn:aws:iam::123456789012:role/platform-admin")
            elif arn == self.deployer_role_arn:
                problems.add(("adminRoleArns", index), arn, "is eks.deployerRoleArn already: one access entry per "
                                                             "principal (EKS answers a second one with 409)")
        if not _matches(_ROLE_ARN, self.deployer_role_arn):
            problems.add("deployerRoleArn", self.deployer_role_arn,
                         "must be an IAM role ARN like arn:aws:iam::123456789012:role/care-platform-deployer "
                         "(the role, not an assumed-role session ARN)")
        if not self.addons.kube_proxy.startswith(f"v{self.version}."):
            problems.add(("addons", "kubeProxy"), self.addons.kube_proxy,
                         f"must match the cluster's Kubernetes version {self.version} (v{self.version}.x-eksbuild.N)")
        if not self.charts.cluster_autoscaler_image_tag.startswith(f"v{self.version}."):
            problems.add(("charts", "clusterAutoscalerImageTag"), self.charts.cluster_autoscaler_image_tag,
                         f"must match the cluster's Kubernetes version {self.version} (v{self.version}.x): "
                         "the Cluster Autoscaler supports only its own Kubernetes minor")
        problems.raise_if_any()
        return self


def _matches(pattern: str, value: str) -> bool:
    return re.fullmatch(pattern, value) is not None


def _check_cidrs(problems: ProblemCollector, key: str, cidrs: Sequence[str]) -> None:
    """Each entry an IPv4 network address with a /8 or longer prefix (never 0.0.0.0/0)."""
    for index, cidr in enumerate(cidrs):
        try:
            network = ipaddress.IPv4Network(cidr, strict=True)
        except ValueError:
            problems.add((key, index), cidr, "must be an IPv4 CIDR like 203.0.113.0/24")
            continue
        if network.prefixlen < 8:
            problems.add((key, index), cidr, "must be an allow-list: a prefix of /8 or longer, never 0.0.0.0/0")
