"""The EKS control plane: its log group, service role, the cluster itself, the OIDC provider, admin access.

Operational note: with a private-only API endpoint (prod), ``pulumi up`` must run from a network
that reaches the VPC (a CI runner in it, or over VPN): the Helm releases and the workloads talk to
the Kubernetes API. The cluster security group admits 443 from ``eks.deployerCidrs`` and nothing
else; ``eks.deployerRoleArn`` (the role ``pulumi up`` runs as) gets cluster-admin through an
explicit access entry, the only way admin access is granted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from components.common import child_opts, service_role_trust, tags_for
from components.eks.config import EksConfig

#: All five control-plane log types.
CONTROL_PLANE_LOG_TYPES: tuple[str, ...] = ("api", "audit", "authenticator", "controllerManager", "scheduler")


def cluster_log_group(parent: pulumi.Resource, name: str, config: EksConfig, *, logs_kms_key_arn: pulumi.Input[str],
                      tags: Mapping[str, str]) -> aws.cloudwatch.LogGroup:
    """Created first, encrypted and with retention, so EKS does not create an unencrypted one."""
    return aws.cloudwatch.LogGroup(
        f"{name}-cluster-logs",
        aws.cloudwatch.LogGroupArgs(
            name=f"/aws/eks/{name}/cluster",
            retention_in_days=config.log_retention_days,
            kms_key_id=logs_kms_key_arn,
            tags=tags_for(tags, f"{name}-cluster-logs"),
        ),
        child_opts(parent),
    )


#: The cluster role's managed policies: the control plane's, and the VPC resource controller's (it creates the
#: trunk and branch network interfaces of security groups for Pods, "Add the AmazonEKSVPCResourceController
#: managed IAM policy to the cluster role",
#: https://docs.aws.amazon.com/eks/latest/userguide/security-groups-pods-deployment.html).
CLUSTER_ROLE_POLICIES: tuple[tuple[str, str], ...] = (
    ("cluster-policy", "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"),
    ("vpc-resource-controller", "arn:aws:iam::aws:policy/AmazonEKSVPCResourceController"),
)


def cluster_role(parent: pulumi.Resource, name: str, *, region: str, account_id: str,
                 tags: Mapping[str, str]) -> tuple[aws.iam.Role, list[aws.iam.RolePolicyAttachment]]:
    """The control plane's service role and its managed policy attachments.

    Its trust carries AWS's confused-deputy conditions for EKS cluster roles: aws:SourceAccount and aws:SourceArn
    of this one cluster, whose name is fixed (``cluster``: name=name), so the role can name it before it exists
    ("Amazon EKS cluster role cross-service confused deputy prevention",
    https://docs.aws.amazon.com/eks/latest/userguide/cross-service-confused-deputy-prevention.html).
    """
    role = aws.iam.Role(
        f"{name}-cluster-role",
        aws.iam.RoleArgs(description=f"EKS control plane of {name}",
                         assume_role_policy=service_role_trust(
                             "eks.amazonaws.com", source_account=account_id,
                             source_arns=[f"arn:aws:eks:{region}:{account_id}:cluster/{name}"]),
                         tags=tags_for(tags, f"{name}-cluster-role")),
        child_opts(parent),
    )
    policies = [
        aws.iam.RolePolicyAttachment(
            f"{name}-{short}",
            aws.iam.RolePolicyAttachmentArgs(role=role.name, policy_arn=arn),
            child_opts(parent),
        )
        for short, arn in CLUSTER_ROLE_POLICIES
    ]
    return role, policies


def cluster(parent: pulumi.Resource, name: str, config: EksConfig, *, role_arn: pulumi.Input[str],
            subnet_ids: Sequence[pulumi.Input[str]], secrets_kms_key_arn: pulumi.Input[str],
            deletion_protection: bool, tags: Mapping[str, str],
            depends_on: Sequence[pulumi.Resource]) -> aws.eks.Cluster:
    """The cluster: private endpoint, API authentication, envelope-encrypted secrets, every log type."""
    return aws.eks.Cluster(
        f"{name}-cluster",
        aws.eks.ClusterArgs(
            name=name,
            version=config.version,
            role_arn=role_arn,
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=list(subnet_ids),
                endpoint_private_access=True,
                endpoint_public_access=config.endpoint_public_access,
                public_access_cidrs=list(config.public_access_cidrs) if config.endpoint_public_access else None,
            ),
            access_config=aws.eks.ClusterAccessConfigArgs(
                authentication_mode="API",
                # Not bootstrapped: with True, EKS creates the creator's access entry itself, and the
                # explicit entry below for the same role fails with 409 ResourceInUseException ("The
                # specified access entry resource is already in use on this cluster",
                # https://github.com/terraform-aws-modules/terraform-aws-eks/issues/2968 and /3293).
                # Admin access is granted one way only: the explicit entries for deployerRoleArn and
                # adminRoleArns (https://docs.aws.amazon.com/eks/latest/userguide/creating-access-entries.html).
                bootstrap_cluster_creator_admin_permissions=False,
            ),
            encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                resources=["secrets"],
                provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=secrets_kms_key_arn),
            ),
            enabled_cluster_log_types=list(CONTROL_PLANE_LOG_TYPES),
            # vpc-cni, kube-proxy and CoreDNS are managed EKS add-ons (addons.py), not self-managed copies.
            bootstrap_self_managed_addons=False,
            # STANDARD: at the end of standard support EKS upgrades the control plane instead of silently
            # moving it into paid extended support (the default is EXTENDED;
            # https://docs.aws.amazon.com/eks/latest/userguide/view-upgrade-policy.html).
            upgrade_policy=aws.eks.ClusterUpgradePolicyArgs(support_type="STANDARD"),
            deletion_protection=deletion_protection,
            tags=tags_for(tags, name),
        ),
        pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on)),
    )


def oidc_provider(parent: pulumi.Resource, name: str, *, issuer: pulumi.Input[str],
                  tags: Mapping[str, str]) -> aws.iam.OpenIdConnectProvider:
    """The cluster's OIDC issuer as an IAM identity provider: what IRSA roles trust."""
    return aws.iam.OpenIdConnectProvider(
        f"{name}-oidc",
        aws.iam.OpenIdConnectProviderArgs(url=issuer, client_id_lists=["sts.amazonaws.com"],
                                          tags=tags_for(tags, f"{name}-oidc")),
        child_opts(parent),
    )


def admin_access(parent: pulumi.Resource, name: str, short: str, *, cluster_name: pulumi.Input[str],
                 principal_arn: str, tags: Mapping[str, str]) -> aws.eks.AccessPolicyAssociation:
    """Cluster-admin for one principal: an access entry plus the admin policy associated with it."""
    entry = aws.eks.AccessEntry(
        f"{name}-{short}",
        aws.eks.AccessEntryArgs(cluster_name=cluster_name, principal_arn=principal_arn, type="STANDARD",
                                tags=tags_for(tags, f"{name}-{short}")),
        child_opts(parent),
    )
    return aws.eks.AccessPolicyAssociation(
        f"{name}-{short}-policy",
        aws.eks.AccessPolicyAssociationArgs(
            cluster_name=cluster_name, principal_arn=principal_arn,
            policy_arn="arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
            access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
        ),
        pulumi.ResourceOptions(parent=parent, depends_on=[entry]),
    )


def deployer_ingress(parent: pulumi.Resource, name: str, *, security_group_id: pulumi.Input[str],
                     cidrs: Sequence[str], tags: Mapping[str, str]) -> list[aws.vpc.SecurityGroupIngressRule]:
    """443 on the cluster security group from the deployer networks, and nothing else.

    A private-only endpoint admits only the cluster security group ("you must ... add rules to the cluster
    security group to allow ingress on port 443 from your connected network",
    https://docs.aws.amazon.com/eks/latest/userguide/cluster-endpoint.html).
    """
    return [
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-deployer-{index}",
            aws.vpc.SecurityGroupIngressRuleArgs(
                security_group_id=security_group_id,
                cidr_ipv4=cidr, ip_protocol="tcp", from_port=443, to_port=443,
                description="Kubernetes API (443) from the networks pulumi up runs from (eks.deployerCidrs)",
                tags=tags_for(tags, f"{name}-deployer-{index}"),
            ),
            child_opts(parent),
        )
        for index, cidr in enumerate(cidrs)
    ]
