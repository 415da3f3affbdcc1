"""IAM for the cluster's add-ons: IRSA trust policies and roles, and the policy documents the add-ons need.

IRSA (IAM roles for service accounts): each role can be assumed by exactly one Kubernetes service
account through the cluster's OIDC provider
(https://docs.aws.amazon.com/eks/latest/userguide/iam-roles-for-service-accounts.html).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

from components.common import child_opts, managed_role_policy, tags_for


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


#: The EBS CSI driver's IRSA role (``irsa_role(short=EBS_CSI)``), exempt from the EBS key's deny of direct use.
EBS_CSI = "ebs-csi"


def irsa_role_logical_name(cluster: str, short: str) -> str:
    return f"{cluster}-{short}-irsa"


def irsa_role_arn_pattern(account_id: str, cluster: str, short: str) -> str:
    """The ARN of ``irsa_role(short=short)`` of ``cluster`` as a pattern, known before the role exists (a key policy
    can name it without waiting for the role): Pulumi auto-names a role ``<logical name>-<random suffix>``
    (https://www.pulumi.com/docs/iac/concepts/resources/names/#autonaming)."""
    return f"arn:aws:iam::{account_id}:role/{irsa_role_logical_name(cluster, short)}-*"


def irsa_role(parent: pulumi.Resource, name: str, tags: Mapping[str, str], *, oidc_provider_arn: pulumi.Input[str],
              oidc_issuer: pulumi.Input[str], short: str, namespace: str, service_account: str,
              managed_policy_arns: Sequence[str] = (), policy: pulumi.Input[str] | None = None) -> aws.iam.Role:
    """A role only ``namespace/service_account`` can assume, with the given policies (children of ``parent``)."""
    role = aws.iam.Role(
        irsa_role_logical_name(name, short),
        aws.iam.RoleArgs(
            description=f"IRSA: {namespace}/{service_account} in {name}",
            assume_role_policy=irsa_trust_policy(oidc_provider_arn, oidc_issuer, namespace, service_account),
            tags=tags_for(tags, f"{name}-{short}-irsa"),
        ),
        child_opts(parent),
    )
    for index, arn in enumerate(managed_policy_arns):
        aws.iam.RolePolicyAttachment(
            f"{name}-{short}-irsa-{index}",
            aws.iam.RolePolicyAttachmentArgs(role=role.name, policy_arn=arn),
            child_opts(parent),
        )
    if policy is not None:
        managed_role_policy(
            f"{name}-{short}-irsa-policy",
            aws.iam.RolePolicyArgs(role=role.id, policy=policy),
            child_opts(parent),
            tags=tags,
        )
    return role


def alb_controller_policy(region: str, account_id: str) -> dict[str, Any]:
    """The AWS Load Balancer Controller's policy (upstream v2.10 iam_policy.json), scoped to this account/region."""
    return {"Version": "2012-10-17",
            "Statement": [*_alb_read_statements(), *_alb_write_statements(region, account_id)]}


def _alb_read_statements() -> list[dict[str, Any]]:
    """The controller's service-linked role and what it only reads (the upstream policy's first three statements)."""
    return [
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
    ]


def _alb_write_statements(region: str, account_id: str) -> list[dict[str, Any]]:
    """What the controller changes: security groups, load balancers, listeners and target groups it tags as its own."""
    elb = f"arn:aws:elasticloadbalancing:{region}:{account_id}"
    sg = f"arn:aws:ec2:{region}:{account_id}:security-group/*"
    cluster_tag_present = {"Null": {"aws:ResourceTag/elbv2.k8s.aws/cluster": "false"}}
    return [
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
    ]


def cluster_autoscaler_policy(cluster_name: str) -> dict[str, Any]:
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


def ebs_kms_policy(key_arn: str) -> str:
    """What the EBS CSI driver needs on the customer key to create and attach encrypted volumes."""
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Resource": key_arn,
         "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
         "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}},
        {"Effect": "Allow", "Resource": key_arn,
         "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]},
    ]})
