"""EKS: the cluster, its managed node pools, EKS add-ons, cluster add-ons (Helm) and the default StorageClass.

Built from pulumi-aws primitives (no multi-language component), so the offline path and the policy
pack see every resource. The Kubernetes objects go through one ``kubernetes.Provider`` built here
from the cluster's outputs; its kubeconfig is a secret Output.

Operational note: with a private-only API endpoint (prod), ``pulumi up`` must run from inside the
VPC (a CI runner in the private subnets, or over VPN): the Helm releases and the workloads talk to
the Kubernetes API.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
from pydantic import Field, model_validator

from components.common import BACKUP_TAG_KEY, ConfigModel, LogRetentionDays, child_opts, service_role_trust, tags_for
from components.problems import ProblemCollector

#: Node label every pool carries; the worker pool is also tainted with it (``NoSchedule``).
POOL_LABEL = "care.platform/pool"
#: The pools that carry the taint: only pods that tolerate it (worker workloads) land there.
TAINTED_POOLS: tuple[str, ...] = ("worker",)
#: All five control-plane log types.
CONTROL_PLANE_LOG_TYPES: tuple[str, ...] = ("api", "audit", "authenticator", "controllerManager", "scheduler")
#: The default StorageClass (encrypted gp3, backed up).
STORAGE_CLASS_NAME = "gp3-encrypted"

_ADDON_VERSION = r"^v\d+\.\d+\.\d+-eksbuild\.\d+$"
_CHART_VERSION = r"^\d+\.\d+\.\d+$"
_ROLE_ARN = r"^arn:aws:iam::\d{12}:role/[\w+=,.@/-]+$"


class NodePoolConfig(ConfigModel):
    instance_types: tuple[str, ...] = Field(min_length=1)
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
        for index, itype in enumerate(self.instance_types):
            if not _is_instance_type(itype):
                problems.add(("instanceTypes", index), itype, "must be an EC2 instance type like m5.xlarge")
        problems.raise_if_any()
        return self


def _is_instance_type(value: str) -> bool:
    family, _, size = value.partition(".")
    return bool(family) and bool(size) and family.replace("-", "").isalnum() and size.isalnum() and family[0].isalpha()


class NodePoolsConfig(ConfigModel):
    app: NodePoolConfig
    worker: NodePoolConfig


class EksAddonsConfig(ConfigModel):
    """EKS add-on versions (``aws eks describe-addon-versions``); kube-proxy must match the cluster's minor."""

    vpc_cni: str = Field(default="v1.19.2-eksbuild.1", pattern=_ADDON_VERSION)
    coredns: str = Field(default="v1.11.4-eksbuild.2", pattern=_ADDON_VERSION)
    kube_proxy: str = Field(default="v1.31.3-eksbuild.2", pattern=_ADDON_VERSION)
    aws_ebs_csi_driver: str = Field(default="v1.38.1-eksbuild.1", pattern=_ADDON_VERSION)


class EksChartsConfig(ConfigModel):
    """Pinned Helm chart versions of the cluster add-ons."""

    aws_load_balancer_controller: str = Field(default="1.10.1", pattern=_CHART_VERSION)
    cluster_autoscaler: str = Field(default="9.43.2", pattern=_CHART_VERSION)
    metrics_server: str = Field(default="3.12.2", pattern=_CHART_VERSION)
    external_secrets: str = Field(default="0.10.7", pattern=_CHART_VERSION)
    istio: str = Field(default="1.24.2", pattern=_CHART_VERSION)

    @model_validator(mode="after")
    def _serves_v1beta1(self) -> EksChartsConfig:
        problems = ProblemCollector()
        major, minor, _ = (int(p) for p in self.external_secrets.split("."))
        if (major, minor) < (0, 9) or (major, minor) > (0, 16):
            problems.add("externalSecrets", self.external_secrets,
                         "must be 0.9.x to 0.16.x: the versions that serve external-secrets.io/v1beta1, "
                         "which the app service's ExternalSecret and SecretStore use")
        problems.raise_if_any()
        return self


class EksConfig(ConfigModel):
    #: 1.30 or newer: the app services' preStop hooks use the sleep action (enabled by default from 1.30).
    version: str = Field(pattern=r"^1\.\d{2}$")
    endpoint_public_access: bool = False
    public_access_cidrs: tuple[str, ...] = ()
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
        for index, cidr in enumerate(self.public_access_cidrs):
            try:
                network = ipaddress.IPv4Network(cidr, strict=True)
            except ValueError:
                problems.add(("publicAccessCidrs", index), cidr, "must be an IPv4 CIDR like 203.0.113.0/24")
                continue
            if network.prefixlen < 8:
                problems.add(("publicAccessCidrs", index), cidr,
                             "must be an allow-list: a prefix of /8 or longer, never 0.0.0.0/0")
        for index, arn in enumerate(self.admin_role_arns):
            if not _matches(_ROLE_ARN, arn):
                problems.add(("adminRoleArns", index), arn, "must be an IAM role ARN like "
                                                             "arn:aws:iam::123456789012:role/platform-admin")
        if not self.addons.kube_proxy.startswith(f"v{self.version}."):
            problems.add(("addons", "kubeProxy"), self.addons.kube_proxy,
                         f"must match the cluster's Kubernetes version {self.version} (v{self.version}.x-eksbuild.N)")
        problems.raise_if_any()
        return self


def _matches(pattern: str, value: str) -> bool:
    return re.fullmatch(pattern, value) is not None


def irsa_trust_policy(oidc_provider_arn: pulumi.Input[str], oidc_issuer_url: pulumi.Input[str],
                      namespace: str, service_account: str) -> pulumi.Output[str]:
    """A role trust policy for exactly one Kubernetes service account (IAM roles for service accounts)."""

    def document(args: list[str]) -> str:
        provider_arn, issuer = args
        host = issuer.removeprefix("https://")
        return json.dumps({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {
                    f"{host}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                    f"{host}:aud": "sts.amazonaws.com",
                }},
            }],
        })

    return pulumi.Output.all(oidc_provider_arn, oidc_issuer_url).apply(document)


def _alb_controller_policy(region: str, account_id: str) -> dict[str, Any]:
    """The AWS Load Balancer Controller's policy (upstream v2.10 iam_policy.json), scoped to this account/region."""
    elb = f"arn:aws:elasticloadbalancing:{region}:{account_id}"
    sg = f"arn:aws:ec2:{region}:{account_id}:security-group/*"
    cluster_tag_present = {"Null": {"aws:ResourceTag/elbv2.k8s.aws/cluster": "false"}}
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:CreateServiceLinkedRole", "Resource": "*",
         "Condition": {"StringEquals": {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}}},
        {"Effect": "Allow", "Resource": "*", "Action": [
            "ec2:DescribeAccountAttributes", "ec2:DescribeAddresses", "ec2:DescribeAvailabilityZones",
            "ec2:DescribeInternetGateways", "ec2:DescribeVpcs", "ec2:DescribeVpcPeeringConnections",
            "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeInstances",
            "ec2:DescribeNetworkInterfaces", "ec2:DescribeTags", "ec2:GetCoipPoolUsage", "ec2:DescribeCoipPools",
            "ec2:GetSecurityGroupsForVpc", "ec2:DescribeIpamPools", "ec2:DescribeRouteTables",
            "elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeLoadBalancerAttributes",
            "elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeListenerCertificates",
            "elasticloadbalancing:DescribeSSLPolicies", "elasticloadbalancing:DescribeRules",
            "elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTargetGroupAttributes",
            "elasticloadbalancing:DescribeTargetHealth", "elasticloadbalancing:DescribeTags",
            "elasticloadbalancing:DescribeTrustStores", "elasticloadbalancing:DescribeListenerAttributes",
            "elasticloadbalancing:DescribeCapacityReservation"]},
        {"Effect": "Allow", "Resource": "*", "Action": [
            "cognito-idp:DescribeUserPoolClient", "acm:ListCertificates", "acm:DescribeCertificate",
            "iam:ListServerCertificates", "iam:GetServerCertificate", "wafv2:GetWebACL",
            "wafv2:GetWebACLForResource", "wafv2:AssociateWebACL", "wafv2:DisassociateWebACL",
            "shield:GetSubscriptionState", "shield:DescribeProtection", "shield:CreateProtection",
            "shield:DeleteProtection"]},
        {"Effect": "Allow", "Action": ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"],
         "Resource": sg},
        {"Effect": "Allow", "Action": "ec2:CreateSecurityGroup", "Resource": "*"},
        {"Effect": "Allow", "Action": "ec2:CreateTags", "Resource": sg,
         "Condition": {"StringEquals": {"ec2:CreateAction": "CreateSecurityGroup"},
                       "Null": {"aws:RequestTag/elbv2.k8s.aws/cluster": "false"}}},
        {"Effect": "Allow", "Action": ["ec2:CreateTags", "ec2:DeleteTags"], "Resource": sg,
         "Condition": {"Null": {"aws:RequestTag/elbv2.k8s.aws/cluster": "true",
                                "aws:ResourceTag/elbv2.k8s.aws/cluster": "false"}}},
        {"Effect": "Allow", "Action": ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress",
                                       "ec2:DeleteSecurityGroup"], "Resource": sg, "Condition": cluster_tag_present},
        {"Effect": "Allow", "Action": ["elasticloadbalancing:CreateLoadBalancer",
                                       "elasticloadbalancing:CreateTargetGroup"], "Resource": "*",
         "Condition": {"Null": {"aws:RequestTag/elbv2.k8s.aws/cluster": "false"}}},
        {"Effect": "Allow", "Resource": "*", "Action": [
            "elasticloadbalancing:CreateListener", "elasticloadbalancing:DeleteListener",
            "elasticloadbalancing:CreateRule", "elasticloadbalancing:DeleteRule"]},
        {"Effect": "Allow", "Action": ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"],
         "Resource": [f"{elb}:targetgroup/*/*", f"{elb}:loadbalancer/net/*/*", f"{elb}:loadbalancer/app/*/*"],
         "Condition": {"Null": {"aws:RequestTag/elbv2.k8s.aws/cluster": "true",
                                "aws:ResourceTag/elbv2.k8s.aws/cluster": "false"}}},
        {"Effect": "Allow", "Action": ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"],
         "Resource": [f"{elb}:listener/net/*/*/*", f"{elb}:listener/app/*/*/*",
                      f"{elb}:listener-rule/net/*/*/*", f"{elb}:listener-rule/app/*/*/*"]},
        {"Effect": "Allow", "Resource": "*", "Condition": cluster_tag_present, "Action": [
            "elasticloadbalancing:ModifyLoadBalancerAttributes", "elasticloadbalancing:SetIpAddressType",
            "elasticloadbalancing:SetSecurityGroups", "elasticloadbalancing:SetSubnets",
            "elasticloadbalancing:DeleteLoadBalancer", "elasticloadbalancing:ModifyTargetGroup",
            "elasticloadbalancing:ModifyTargetGroupAttributes", "elasticloadbalancing:DeleteTargetGroup",
            "elasticloadbalancing:ModifyListenerAttributes", "elasticloadbalancing:ModifyCapacityReservation",
            "elasticloadbalancing:ModifyIpPools"]},
        {"Effect": "Allow", "Action": "elasticloadbalancing:AddTags",
         "Resource": [f"{elb}:targetgroup/*/*", f"{elb}:loadbalancer/net/*/*", f"{elb}:loadbalancer/app/*/*"],
         "Condition": {"StringEquals": {"elasticloadbalancing:CreateAction": ["CreateTargetGroup",
                                                                             "CreateLoadBalancer"]},
                       "Null": {"aws:RequestTag/elbv2.k8s.aws/cluster": "false"}}},
        {"Effect": "Allow", "Action": ["elasticloadbalancing:RegisterTargets",
                                       "elasticloadbalancing:DeregisterTargets"],
         "Resource": f"{elb}:targetgroup/*/*"},
        {"Effect": "Allow", "Resource": "*", "Action": [
            "elasticloadbalancing:SetWebAcl", "elasticloadbalancing:ModifyListener",
            "elasticloadbalancing:AddListenerCertificates", "elasticloadbalancing:RemoveListenerCertificates",
            "elasticloadbalancing:ModifyRule", "elasticloadbalancing:SetRulePriorities"]},
    ]}


def _cluster_autoscaler_policy(cluster_name: str) -> dict[str, Any]:
    """Describe everything; change only the Auto Scaling groups of this cluster's managed node groups."""
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Resource": "*", "Action": [
            "autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances",
            "autoscaling:DescribeLaunchConfigurations", "autoscaling:DescribeScalingActivities",
            "autoscaling:DescribeTags", "ec2:DescribeImages", "ec2:DescribeInstanceTypes",
            "ec2:DescribeLaunchTemplateVersions", "ec2:GetInstanceTypesFromInstanceRequirements",
            "eks:DescribeNodegroup"]},
        {"Effect": "Allow", "Resource": "*",
         "Action": ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
         "Condition": {"StringEquals": {f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "owned"}}},
    ]}


def _ebs_kms_policy(key_arn: str) -> str:
    """What the EBS CSI driver needs on the customer key to create and attach encrypted volumes."""
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Resource": key_arn,
         "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
         "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}},
        {"Effect": "Allow", "Resource": key_arn,
         "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]},
    ]})


HELM_REPOS: dict[str, str] = {
    "eks": "https://aws.github.io/eks-charts",
    "autoscaler": "https://kubernetes.github.io/autoscaler",
    "metrics-server": "https://kubernetes-sigs.github.io/metrics-server/",
    "external-secrets": "https://charts.external-secrets.io",
    "istio": "https://istio-release.storage.googleapis.com/charts",
}


class EksCluster(pulumi.ComponentResource):
    """An EKS cluster in the private subnets with its node pools, add-ons and a Kubernetes provider.

    The cluster's name is the component's name. Attributes callers use: ``cluster_name``,
    ``endpoint``, ``oidc_issuer``, ``oidc_provider_arn``, ``kubeconfig`` (secret), ``provider``
    (the ``kubernetes.Provider``), ``storage_class_name``, ``namespaces`` and ``addons_ready`` (what
    workloads must wait for: the webhooks and CRDs they rely on).
    """

    cluster_name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    oidc_issuer: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        config: EksConfig,
        *,
        region: str,
        account_id: str,
        vpc_id: pulumi.Input[str],
        subnet_ids: Sequence[pulumi.Input[str]],
        node_security_group_ids: Sequence[pulumi.Input[str]],
        secrets_kms_key_arn: pulumi.Input[str],
        ebs_kms_key_arn: pulumi.Input[str],
        logs_kms_key_arn: pulumi.Input[str],
        namespaces: Sequence[str] = (),
        deletion_protection: bool = True,
        tags: Mapping[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("care:compute:EksCluster", name, None, opts)
        child = child_opts(self)
        self._name, self._tags, self._region, self._account_id = name, tags, region, account_id

        # Created first, encrypted and with retention, so EKS does not create an unencrypted one.
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-cluster-logs",
            aws.cloudwatch.LogGroupArgs(
                name=f"/aws/eks/{name}/cluster",
                retention_in_days=config.log_retention_days,
                kms_key_id=logs_kms_key_arn,
                tags=tags_for(tags, f"{name}-cluster-logs"),
            ),
            child,
        )
        cluster_role = aws.iam.Role(
            f"{name}-cluster-role",
            aws.iam.RoleArgs(description=f"EKS control plane of {name}",
                             assume_role_policy=service_role_trust("eks.amazonaws.com"),
                             tags=tags_for(tags, f"{name}-cluster-role")),
            child,
        )
        cluster_policy = aws.iam.RolePolicyAttachment(
            f"{name}-cluster-policy",
            aws.iam.RolePolicyAttachmentArgs(role=cluster_role.name,
                                             policy_arn="arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"),
            child,
        )
        self.cluster = aws.eks.Cluster(
            f"{name}-cluster",
            aws.eks.ClusterArgs(
                name=name,
                version=config.version,
                role_arn=cluster_role.arn,
                vpc_config=aws.eks.ClusterVpcConfigArgs(
                    subnet_ids=list(subnet_ids),
                    endpoint_private_access=True,
                    endpoint_public_access=config.endpoint_public_access,
                    public_access_cidrs=list(config.public_access_cidrs) if config.endpoint_public_access else None,
                ),
                access_config=aws.eks.ClusterAccessConfigArgs(
                    authentication_mode="API",
                    # The identity running Pulumi administers the cluster (it installs the add-ons).
                    bootstrap_cluster_creator_admin_permissions=True,
                ),
                encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                    resources=["secrets"],
                    provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=secrets_kms_key_arn),
                ),
                enabled_cluster_log_types=list(CONTROL_PLANE_LOG_TYPES),
                # vpc-cni, kube-proxy and CoreDNS are managed EKS add-ons below, not self-managed copies.
                bootstrap_self_managed_addons=False,
                upgrade_policy=aws.eks.ClusterUpgradePolicyArgs(support_type="STANDARD"),
                deletion_protection=deletion_protection,
                tags=tags_for(tags, name),
            ),
            pulumi.ResourceOptions(parent=self, depends_on=[self.log_group, cluster_policy]),
        )
        self.cluster_name = self.cluster.name
        self.endpoint = self.cluster.endpoint
        self.cluster_security_group_id = self.cluster.vpc_config.cluster_security_group_id
        self.oidc_issuer: pulumi.Output[str] = self.cluster.identities.apply(
            lambda ids: ids[0].oidcs[0].issuer)  # type: ignore[index,return-value,arg-type]

        self.oidc_provider = aws.iam.OpenIdConnectProvider(
            f"{name}-oidc",
            aws.iam.OpenIdConnectProviderArgs(url=self.oidc_issuer, client_id_lists=["sts.amazonaws.com"],
                                              tags=tags_for(tags, f"{name}-oidc")),
            child,
        )
        self.oidc_provider_arn = self.oidc_provider.arn

        for index, arn in enumerate(config.admin_role_arns):
            entry = aws.eks.AccessEntry(
                f"{name}-admin-{index}",
                aws.eks.AccessEntryArgs(cluster_name=self.cluster.name, principal_arn=arn, type="STANDARD",
                                        tags=tags_for(tags, f"{name}-admin-{index}")),
                child,
            )
            aws.eks.AccessPolicyAssociation(
                f"{name}-admin-{index}-policy",
                aws.eks.AccessPolicyAssociationArgs(
                    cluster_name=self.cluster.name, principal_arn=arn,
                    policy_arn="arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
                    access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                ),
                pulumi.ResourceOptions(parent=self, depends_on=[entry]),
            )

        # Networking add-ons are DaemonSets: they go in before the nodes so nodes become Ready.
        cni_role = self.irsa_role("vpc-cni", "kube-system", "aws-node",
                                  managed_policy_arns=["arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"])
        self.addons: dict[str, aws.eks.Addon] = {}
        self._addon("vpc-cni", config.addons.vpc_cni, service_account_role_arn=cni_role.arn,
                    # Enforce Kubernetes NetworkPolicy (the app service and ChromaDB rely on it).
                    configuration_values=json.dumps({"enableNetworkPolicy": "true"}))
        self._addon("kube-proxy", config.addons.kube_proxy)

        self.node_role = aws.iam.Role(
            f"{name}-node-role",
            aws.iam.RoleArgs(description=f"EKS managed nodes of {name}",
                             assume_role_policy=service_role_trust("ec2.amazonaws.com"),
                             tags=tags_for(tags, f"{name}-node-role")),
            child,
        )
        node_policies = [
            aws.iam.RolePolicyAttachment(
                f"{name}-node-{short}",
                aws.iam.RolePolicyAttachmentArgs(role=self.node_role.name,
                                                 policy_arn=f"arn:aws:iam::aws:policy/{policy}"),
                child,
            )
            for short, policy in (("worker", "AmazonEKSWorkerNodePolicy"),
                                  ("ecr", "AmazonEC2ContainerRegistryReadOnly"))
        ]
        # With a launch template that sets security groups, EKS no longer adds the cluster security
        # group itself: the nodes carry it (control plane <-> nodes) plus the workload group the data tier admits.
        node_sgs = [self.cluster_security_group_id, *node_security_group_ids]
        self.node_groups: dict[str, aws.eks.NodeGroup] = {}
        self.launch_templates: dict[str, aws.ec2.LaunchTemplate] = {}
        for pool in ("app", "worker"):
            self._node_group(pool, getattr(config.node_pools, pool), subnet_ids=subnet_ids, security_group_ids=node_sgs,
                             ebs_kms_key_arn=ebs_kms_key_arn,
                             depends_on=[*node_policies, self.addons["vpc-cni"], self.addons["kube-proxy"]])
        nodes = list(self.node_groups.values())

        ebs_role = self.irsa_role("ebs-csi", "kube-system", "ebs-csi-controller-sa",
                                  managed_policy_arns=["arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"],
                                  policy=pulumi.Output.from_input(ebs_kms_key_arn).apply(_ebs_kms_policy))
        self._addon("coredns", config.addons.coredns, depends_on=nodes)
        self._addon("aws-ebs-csi-driver", config.addons.aws_ebs_csi_driver, service_account_role_arn=ebs_role.arn,
                    depends_on=nodes)

        self.kubeconfig = pulumi.Output.secret(pulumi.Output.all(
            self.cluster.name, self.cluster.endpoint, self.cluster.certificate_authority.data,
        ).apply(lambda a: _kubeconfig(a[0], a[1], a[2], region)))
        self.provider = k8s.Provider(
            f"{name}-k8s",
            k8s.ProviderArgs(kubeconfig=self.kubeconfig, enable_server_side_apply=True),
            pulumi.ResourceOptions(parent=self, depends_on=[*nodes, self.addons["coredns"]]),
        )

        self.storage_class_name = STORAGE_CLASS_NAME
        self.storage_class = k8s.storage.v1.StorageClass(
            f"{name}-sc-{STORAGE_CLASS_NAME}",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=STORAGE_CLASS_NAME,
                annotations={"storageclass.kubernetes.io/is-default-class": "true"},
            ),
            provisioner="ebs.csi.aws.com",
            parameters={
                "type": "gp3",
                "encrypted": "true",
                "kmsKeyId": ebs_kms_key_arn,
                "csi.storage.k8s.io/fstype": "ext4",
                "tagSpecification_1": f"{BACKUP_TAG_KEY}=true",
                "tagSpecification_2": f"Environment={tags.get('Environment', '')}",
                "tagSpecification_3": f"Project={tags.get('Project', '')}",
            },
            reclaim_policy=config.storage_reclaim_policy,
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            opts=self._k8s_opts(depends_on=[self.addons["aws-ebs-csi-driver"]]),
        )

        self.namespaces: dict[str, k8s.core.v1.Namespace] = {
            ns: k8s.core.v1.Namespace(
                f"{name}-ns-{ns}",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=ns, labels={
                    "istio-injection": "enabled",
                    # Istio runs with its CNI plugin, so workloads meet the restricted Pod Security Standard.
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/audit": "restricted",
                    "pod-security.kubernetes.io/warn": "restricted",
                }),
                opts=self._k8s_opts(),
            )
            for ns in namespaces
        }
        # Default-deny ingress in every workload namespace: each workload's own policy opens what it needs.
        self.default_deny: dict[str, k8s.networking.v1.NetworkPolicy] = {
            ns: k8s.networking.v1.NetworkPolicy(
                f"{name}-ns-{ns}-default-deny",
                metadata=k8s.meta.v1.ObjectMetaArgs(name="default-deny-ingress", namespace=ns),
                spec=k8s.networking.v1.NetworkPolicySpecArgs(
                    pod_selector=k8s.meta.v1.LabelSelectorArgs(), policy_types=["Ingress"]),
                opts=self._k8s_opts(depends_on=[namespace]),
            )
            for ns, namespace in self.namespaces.items()
        }

        self.releases: dict[str, k8s.helm.v3.Release] = {}
        self._cluster_addons(config, vpc_id=vpc_id)
        self.addons_ready: list[pulumi.Resource] = [
            self.releases["aws-load-balancer-controller"], self.releases["external-secrets"],
            self.releases["istiod"], self.storage_class, *self.namespaces.values(),
        ]

        self.register_outputs({
            "clusterName": self.cluster_name,
            "endpoint": self.endpoint,
            "oidcIssuer": self.oidc_issuer,
            "oidcProviderArn": self.oidc_provider_arn,
            "clusterSecurityGroupId": self.cluster_security_group_id,
            "nodeRoleArn": self.node_role.arn,
            "kubeconfig": self.kubeconfig,
        })

    # -- building blocks -------------------------------------------------------------------------
    def _k8s_opts(self, **kwargs: Any) -> pulumi.ResourceOptions:
        return child_opts(self, provider=self.provider, **kwargs)

    def irsa_role(self, short: str, namespace: str, service_account: str, *,
                  managed_policy_arns: Sequence[str] = (), policy: pulumi.Input[str] | None = None) -> aws.iam.Role:
        """A role only ``namespace/service_account`` can assume, with the given policies."""
        name = self._name
        role = aws.iam.Role(
            f"{name}-{short}-irsa",
            aws.iam.RoleArgs(
                description=f"IRSA: {namespace}/{service_account} in {name}",
                assume_role_policy=irsa_trust_policy(self.oidc_provider.arn, self.oidc_issuer, namespace,
                                                     service_account),
                tags=tags_for(self._tags, f"{name}-{short}-irsa"),
            ),
            child_opts(self),
        )
        for index, arn in enumerate(managed_policy_arns):
            aws.iam.RolePolicyAttachment(
                f"{name}-{short}-irsa-{index}",
                aws.iam.RolePolicyAttachmentArgs(role=role.name, policy_arn=arn),
                child_opts(self),
            )
        if policy is not None:
            aws.iam.RolePolicy(
                f"{name}-{short}-irsa-policy",
                aws.iam.RolePolicyArgs(role=role.id, policy=policy),
                child_opts(self),
            )
        return role

    def _addon(self, addon: str, version: str, *, service_account_role_arn: pulumi.Input[str] | None = None,
               configuration_values: str | None = None, depends_on: Sequence[pulumi.Resource] = ()) -> None:
        name = self._name
        self.addons[addon] = aws.eks.Addon(
            f"{name}-addon-{addon}",
            aws.eks.AddonArgs(
                cluster_name=self.cluster.name,
                addon_name=addon,
                addon_version=version,
                service_account_role_arn=service_account_role_arn,
                configuration_values=configuration_values,
                resolve_conflicts_on_create="OVERWRITE",
                resolve_conflicts_on_update="OVERWRITE",
                tags=tags_for(self._tags, f"{name}-addon-{addon}"),
            ),
            pulumi.ResourceOptions(parent=self, depends_on=list(depends_on)),
        )

    def _node_group(self, pool: str, config: NodePoolConfig, *, subnet_ids: Sequence[pulumi.Input[str]],
                    security_group_ids: Sequence[pulumi.Input[str]], ebs_kms_key_arn: pulumi.Input[str],
                    depends_on: Sequence[pulumi.Resource]) -> None:
        name, tags = self._name, self._tags
        node_tags = tags_for(tags, f"{name}-{pool}-node", **{POOL_LABEL: pool})
        template = aws.ec2.LaunchTemplate(
            f"{name}-{pool}-lt",
            aws.ec2.LaunchTemplateArgs(
                description=f"EKS {pool} nodes of {name}: IMDSv2, encrypted gp3 root volume, no SSH",
                update_default_version=True,
                vpc_security_group_ids=list(security_group_ids),
                metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                    http_endpoint="enabled",
                    http_tokens="required",
                    # 1 hop: only the node itself reaches IMDS; pods (their own network namespaces) cannot
                    # take the node role's credentials, they use IRSA. The load balancer controller gets
                    # its VPC id and region from its chart values, not from IMDS.
                    # https://docs.aws.amazon.com/eks/latest/best-practices/identity-and-access-management.html
                    http_put_response_hop_limit=1,
                    instance_metadata_tags="disabled",
                ),
                block_device_mappings=[aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name="/dev/xvda",
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        volume_type="gp3",
                        volume_size=config.disk_gib,
                        encrypted="true",
                        kms_key_id=ebs_kms_key_arn,
                        delete_on_termination="true",
                    ),
                )],
                monitoring=aws.ec2.LaunchTemplateMonitoringArgs(enabled=True),
                tag_specifications=[
                    aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=node_tags)
                    for kind in ("instance", "volume", "network-interface")
                ],
                tags=tags_for(tags, f"{name}-{pool}-lt"),
            ),
            child_opts(self),
        )
        self.launch_templates[pool] = template
        self.node_groups[pool] = aws.eks.NodeGroup(
            f"{name}-{pool}",
            aws.eks.NodeGroupArgs(
                cluster_name=self.cluster.name,
                node_role_arn=self.node_role.arn,
                subnet_ids=list(subnet_ids),
                instance_types=list(config.instance_types),
                ami_type=config.ami_type,
                capacity_type=config.capacity_type,
                scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                    desired_size=config.desired, min_size=config.min, max_size=config.max),
                update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=config.max_unavailable),
                launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                    id=template.id, version=template.latest_version.apply(str)),
                labels={POOL_LABEL: pool},
                taints=[aws.eks.NodeGroupTaintArgs(key=POOL_LABEL, value=pool, effect="NO_SCHEDULE")]
                if pool in TAINTED_POOLS else None,
                tags=tags_for(tags, f"{name}-{pool}"),
            ),
            # The Cluster Autoscaler owns the desired size once the group exists.
            pulumi.ResourceOptions(parent=self, depends_on=list(depends_on),
                                   ignore_changes=["scalingConfig.desiredSize"]),
        )

    def _release(self, release: str, *, chart: str, repo: str, version: str, namespace: str,
                 values: Mapping[str, Any], depends_on: Sequence[pulumi.Resource] = (),
                 create_namespace: bool = False) -> k8s.helm.v3.Release:
        self.releases[release] = k8s.helm.v3.Release(
            f"{self._name}-{release}",
            k8s.helm.v3.ReleaseArgs(
                name=release,
                chart=chart,
                version=version,
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=HELM_REPOS[repo]),
                namespace=namespace,
                create_namespace=create_namespace,
                values=dict(values),
                atomic=True,
                cleanup_on_fail=True,
                max_history=10,
            ),
            self._k8s_opts(depends_on=list(depends_on)),
        )
        return self.releases[release]

    def _cluster_addons(self, config: EksConfig, *, vpc_id: pulumi.Input[str]) -> None:
        name, charts = self._name, config.charts
        system_pool = {"nodeSelector": {POOL_LABEL: "app"}}

        def sa(role: aws.iam.Role, sa_name: str) -> dict[str, Any]:
            return {"create": True, "name": sa_name, "annotations": {"eks.amazonaws.com/role-arn": role.arn}}

        alb_role = self.irsa_role("alb-controller", "kube-system", "aws-load-balancer-controller",
                                  policy=json.dumps(_alb_controller_policy(self._region, self._account_id)))
        self._release("aws-load-balancer-controller", chart="aws-load-balancer-controller", repo="eks",
                      version=charts.aws_load_balancer_controller, namespace="kube-system", values={
                          "clusterName": self.cluster.name, "region": self._region, "vpcId": vpc_id,
                          "replicaCount": 2, "serviceAccount": sa(alb_role, "aws-load-balancer-controller"),
                          # No mutating webhook on every Service: the apps' ClusterIP Services never wait on it.
                          "enableServiceMutatorWebhook": False,
                          **system_pool,
                      })
        autoscaler_role = self.irsa_role(
            "cluster-autoscaler", "kube-system", "cluster-autoscaler",
            policy=json.dumps(_cluster_autoscaler_policy(name)))
        self._release("cluster-autoscaler", chart="cluster-autoscaler", repo="autoscaler",
                      version=charts.cluster_autoscaler, namespace="kube-system", values={
                          "autoDiscovery": {"clusterName": self.cluster.name},
                          "awsRegion": self._region,
                          "rbac": {"serviceAccount": sa(autoscaler_role, "cluster-autoscaler")},
                          "extraArgs": {"balance-similar-node-groups": True, "expander": "least-waste",
                                        "skip-nodes-with-local-storage": False},
                          **system_pool,
                      })
        self._release("metrics-server", chart="metrics-server", repo="metrics-server",
                      version=charts.metrics_server, namespace="kube-system",
                      values={"replicas": 2, **system_pool})
        # The operator itself calls no AWS API: each app's SecretStore authenticates as the app's own
        # IRSA service account, which may read only that app's secrets.
        self._release("external-secrets", chart="external-secrets", repo="external-secrets",
                      version=charts.external_secrets, namespace="external-secrets", create_namespace=True,
                      values={"installCRDs": True, "replicaCount": 2, **system_pool,
                              "webhook": system_pool, "certController": system_pool})
        base = self._release("istio-base", chart="base", repo="istio", version=charts.istio,
                             namespace="istio-system", create_namespace=True,
                             values={"defaultRevision": "default"})
        # The CNI node agent (chained after the VPC CNI) sets up pod traffic redirection, so sidecar-injected
        # pods need no NET_ADMIN init container and meet the restricted Pod Security Standard.
        cni = self._release("istio-cni", chart="cni", repo="istio", version=charts.istio, namespace="istio-system",
                            values={}, depends_on=[base])
        istiod = self._release("istiod", chart="istiod", repo="istio", version=charts.istio,
                               namespace="istio-system", depends_on=[base, cni], values={
                                   "pilot": {"cni": {"enabled": True}, "autoscaleMin": 2, **system_pool},
                                   "meshConfig": {"accessLogFile": "/dev/stdout",
                                                  "defaultConfig": {"holdApplicationUntilProxyStarts": True}},
                               })
        self.peer_authentication = k8s.apiextensions.CustomResource(
            f"{name}-mesh-mtls",
            api_version="security.istio.io/v1",
            kind="PeerAuthentication",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="default", namespace="istio-system"),
            spec={"mtls": {"mode": "STRICT"}},
            opts=self._k8s_opts(depends_on=[istiod]),
        )


def _kubeconfig(cluster_name: str, endpoint: str, ca_data: str, region: str) -> str:
    """A kubeconfig that authenticates with ``aws eks get-token`` (no long-lived credentials)."""
    return json.dumps({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
        "current-context": cluster_name,
        "users": [{"name": cluster_name, "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "aws",
            "args": ["eks", "get-token", "--cluster-name", cluster_name, "--region", region, "--output", "json"],
        }}}],
    })
