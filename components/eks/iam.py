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


#: The tag the AWS Load Balancer Controller puts on everything it creates, valued with the cluster's name
#: ("`elbv2.k8s.aws/cluster: cluster-name` will be applied on all AWS resources",
#: https://github.com/kubernetes-sigs/aws-load-balancer-controller/blob/v2.17.1/pkg/deploy/tracking/provider.go).
ALB_CLUSTER_TAG = "elbv2.k8s.aws/cluster"


def alb_controller_policy(region: str, account_id: str, cluster_name: str,
                          target_security_group_ids: Sequence[str] = ()) -> dict[str, Any]:
    """The AWS Load Balancer Controller's policy: upstream v2.17.1's iam_policy.json
    (https://github.com/kubernetes-sigs/aws-load-balancer-controller/blob/v2.17.1/docs/install/iam_policy.json),
    scoped to this account and region, and narrower where upstream is not:

    - every change to a security group, load balancer, target group, listener or rule requires the
      resource to carry ``elbv2.k8s.aws/cluster`` = *this* cluster's name (upstream only asks that the
      tag exist, and leaves security-group ingress, listeners, rules, targets and ``SetWebAcl`` on ``*``),
      so the RDS, Redis and MSK groups, the edge's groups and other clusters' load balancers are out of reach;
    - the backend rules the controller adds to its targets' groups: the targets are pods (target type
      ``ip``) on branch network interfaces carrying exactly their workload's group (security groups for
      Pods), so the groups of the workloads behind an Ingress are named by ARN
      (``target_security_group_ids``); nothing else can be opened
      (https://github.com/kubernetes-sigs/aws-load-balancer-controller/blob/v2.17.1/docs/deploy/security_groups.md);
    - WAF association only on this account's ALBs and regional web ACLs (the call "requires permissions
      that are specific to the protected resource type", ``elasticloadbalancing:SetWebAcl`` on the ALB,
      which is tag-scoped: https://docs.aws.amazon.com/waf/latest/APIReference/API_DisassociateWebACL.html);
    - no ``shield:DeleteProtection``: the controller calls it only to turn Shield off on an ALB whose
      annotation says ``false`` (pkg/deploy/shield/protection_synthesizer.go), and Shield protections carry
      no tag it could be scoped by; removing Shield from a published ALB is a deliberate change, not the
      controller's.
    """
    return {"Version": "2012-10-17",
            "Statement": [*_alb_read_statements(region, account_id),
                          *_alb_security_group_statements(region, account_id, cluster_name, target_security_group_ids),
                          *_alb_write_statements(region, account_id, cluster_name)]}


def _alb_read_statements(region: str, account_id: str) -> list[dict[str, Any]]:
    """The controller's service-linked role, what it only reads, and WAF/Shield on its own ALBs."""
    elb = f"arn:aws:elasticloadbalancing:{region}:{account_id}"
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
            "wafv2:GetWebACLForResource", "shield:GetSubscriptionState", "shield:DescribeProtection"]},
        {"Effect": "Allow", "Action": ["wafv2:AssociateWebACL", "wafv2:DisassociateWebACL"],
         "Resource": [f"arn:aws:wafv2:{region}:{account_id}:regional/webacl/*/*", f"{elb}:loadbalancer/app/*/*"]},
        # Upstream, unconditioned: adding protection takes nothing away.
        {"Effect": "Allow", "Action": "shield:CreateProtection", "Resource": "*"},
    ]


def _alb_security_group_statements(region: str, account_id: str, cluster_name: str,
                                   target_security_group_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Security groups: create and tag its own; change rules only on its own (this cluster's tag, which it
    can set only while creating a group) and on the named target groups; never on anything else."""
    sg = f"arn:aws:ec2:{region}:{account_id}:security-group/*"
    mine = {"StringEquals": {f"aws:ResourceTag/{ALB_CLUSTER_TAG}": cluster_name}}
    statements: list[dict[str, Any]] = [
        # Upstream, unconditioned: an empty group admits nothing, and it can be tagged only as this cluster's.
        {"Effect": "Allow", "Action": "ec2:CreateSecurityGroup", "Resource": "*"},
        {"Effect": "Allow", "Action": "ec2:CreateTags", "Resource": sg,
         "Condition": {"StringEquals": {"ec2:CreateAction": "CreateSecurityGroup",
                                        f"aws:RequestTag/{ALB_CLUSTER_TAG}": cluster_name}}},
        {"Effect": "Allow", "Action": ["ec2:CreateTags", "ec2:DeleteTags"], "Resource": sg,
         "Condition": {"Null": {f"aws:RequestTag/{ALB_CLUSTER_TAG}": "true"}, **mine}},
        {"Effect": "Allow", "Action": ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress",
                                       "ec2:DeleteSecurityGroup"], "Resource": sg, "Condition": mine},
    ]
    if target_security_group_ids:
        statements.append(
            {"Effect": "Allow", "Action": ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"],
             "Resource": [f"arn:aws:ec2:{region}:{account_id}:security-group/{group}"
                          for group in target_security_group_ids]})
    return statements


def _alb_write_statements(region: str, account_id: str, cluster_name: str) -> list[dict[str, Any]]:
    """Load balancers, target groups, listeners and rules: created tagged as this cluster's, then changed
    only while they carry that tag (listeners and rules are tagged too: the ``ListenerRulesTagging``
    feature gate, on in ``helm_addons.alb_controller``). Tags given in a create call are authorized as
    ``elasticloadbalancing:AddTags`` with ``elasticloadbalancing:CreateAction`` naming the create call
    (https://docs.aws.amazon.com/elasticloadbalancing/latest/userguide/tagging-resources-during-creation.html);
    any other AddTags/RemoveTags may not touch the cluster tag, so nothing can be made this cluster's later."""
    elb = f"arn:aws:elasticloadbalancing:{region}:{account_id}"
    mine = {"StringEquals": {f"aws:ResourceTag/{ALB_CLUSTER_TAG}": cluster_name}}
    created_mine = {f"aws:RequestTag/{ALB_CLUSTER_TAG}": cluster_name}
    balancers = [f"{elb}:targetgroup/*/*", f"{elb}:loadbalancer/net/*/*", f"{elb}:loadbalancer/app/*/*"]
    listeners = [f"{elb}:listener/net/*/*/*", f"{elb}:listener/app/*/*/*",
                 f"{elb}:listener-rule/net/*/*/*", f"{elb}:listener-rule/app/*/*/*"]
    return [
        {"Effect": "Allow", "Action": ["elasticloadbalancing:CreateLoadBalancer",
                                       "elasticloadbalancing:CreateTargetGroup"], "Resource": "*",
         "Condition": {"StringEquals": created_mine}},
        # Upstream, unconditioned. Residual: these are authorized against the parent load balancer or listener
        # too, so with this role one could add a listener or rule to another of the account's load balancers
        # (in this stack's account: only this and other clusters' controller-made ALBs). A ResourceTag
        # condition would also be evaluated against the listener or rule being created, which has no tags yet,
        # and AWS does not document which resource each is authorized against; unverified here, so not added.
        {"Effect": "Allow", "Resource": "*", "Action": ["elasticloadbalancing:CreateListener",
                                                        "elasticloadbalancing:CreateRule"]},
        {"Effect": "Allow", "Action": "elasticloadbalancing:AddTags", "Resource": [*balancers, *listeners],
         "Condition": {"StringEquals": {"elasticloadbalancing:CreateAction": [
             "CreateTargetGroup", "CreateLoadBalancer", "CreateListener", "CreateRule"], **created_mine}}},
        {"Effect": "Allow", "Action": ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"],
         "Resource": [*balancers, *listeners],
         "Condition": {"Null": {f"aws:RequestTag/{ALB_CLUSTER_TAG}": "true"}, **mine}},
        {"Effect": "Allow", "Resource": "*", "Condition": mine, "Action": [
            "elasticloadbalancing:ModifyLoadBalancerAttributes", "elasticloadbalancing:SetIpAddressType",
            "elasticloadbalancing:SetSecurityGroups", "elasticloadbalancing:SetSubnets",
            "elasticloadbalancing:DeleteLoadBalancer", "elasticloadbalancing:ModifyTargetGroup",
            "elasticloadbalancing:ModifyTargetGroupAttributes", "elasticloadbalancing:DeleteTargetGroup",
            "elasticloadbalancing:ModifyListenerAttributes", "elasticloadbalancing:ModifyCapacityReservation",
            "elasticloadbalancing:ModifyIpPools", "elasticloadbalancing:SetWebAcl",
            "elasticloadbalancing:ModifyListener", "elasticloadbalancing:DeleteListener",
            "elasticloadbalancing:AddListenerCertificates", "elasticloadbalancing:RemoveListenerCertificates",
            "elasticloadbalancing:ModifyRule", "elasticloadbalancing:DeleteRule",
            "elasticloadbalancing:SetRulePriorities"]},
        {"Effect": "Allow", "Action": ["elasticloadbalancing:RegisterTargets",
                                       "elasticloadbalancing:DeregisterTargets"],
         "Resource": f"{elb}:targetgroup/*/*", "Condition": mine},
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
