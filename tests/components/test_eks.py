"""The EksCluster component, rendered in isolation under the mock engine, asserted exactly."""

from __future__ import annotations

import json

import pulumi
import pytest

import config
from components.eks import EksCluster
from offline.mocks import _digest
from tests.helpers import DELETE, PROD_TAGS, render, rendered_stack, stack_config, stack_raw, untagged, with_overrides

ACCOUNT = "333333333333"
EKS_KEY = "arn:aws:kms:us-east-2:333333333333:key/eks-key"
EBS_KEY = "arn:aws:kms:us-east-2:333333333333:key/ebs-key"
LOGS_KEY = "arn:aws:kms:us-east-2:333333333333:key/logs-key"
SUBNETS = ["subnet-private-a", "subnet-private-b", "subnet-private-c"]
WORKLOAD_SG = "sg-workload"
ADMIN = "arn:aws:iam::333333333333:role/platform-admin"
DEPLOYER = "arn:aws:iam::333333333333:role/care-platform-deployer"
NAME = "care-test-eks"
TARGET_SG = "sg-nlfhir-pods"

CLUSTER = "aws:eks/cluster:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
ADDON = "aws:eks/addon:Addon"
RELEASE = "kubernetes:helm.sh/v3:Release"


def _render(stack: str):  # type: ignore[no-untyped-def]
    cfg = stack_config(stack)

    def build() -> None:
        cluster = EksCluster(
            NAME, cfg.eks, region="us-east-2", account_id=ACCOUNT, vpc_id="vpc-123", subnet_ids=SUBNETS,
            node_security_group_ids=[WORKLOAD_SG], secrets_kms_key_arn=EKS_KEY, ebs_kms_key_arn=EBS_KEY,
            logs_kms_key_arn=LOGS_KEY, namespaces=["nlfhir", "prm"], deletion_protection=True, tags=PROD_TAGS,
            published_ingresses=["nlfhir/nlfhir"], load_balancer_target_security_group_ids=[TARGET_SG],
        )
        pulumi.export("kubeconfig", cluster.kubeconfig)
        pulumi.export("oidcIssuer", cluster.oidc_issuer)

    return render(build)


@pytest.fixture(scope="module")
def prod():  # type: ignore[no-untyped-def]
    return _render("prod")


@pytest.fixture(scope="module")
def dev():  # type: ignore[no-untyped-def]
    return _render("dev")


def _of(plan, type_):  # type: ignore[no-untyped-def]
    return {r.name: r for r in plan.of_type(type_)}


def test_children_and_counts(prod) -> None:  # type: ignore[no-untyped-def]
    component = prod.named(NAME)
    assert component.type == "care:compute:EksCluster"
    assert prod.counts() == {
        "aws:cloudwatch/logGroup:LogGroup": 1,
        LAUNCH_TEMPLATE: 2,
        "aws:eks/accessEntry:AccessEntry": 2,
        "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": 2,
        ADDON: 4,
        CLUSTER: 1,
        NODE_GROUP: 2,
        "aws:iam/openIdConnectProvider:OpenIdConnectProvider": 1,
        "aws:iam/role:Role": 6,
        "aws:iam/policy:Policy": 3,  # customer-managed, never inline (iam-no-inline-policy)
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment": 10,  # + VPC resource controller (pod SGs)
        "care:compute:EksCluster": 1,
        "kubernetes:core/v1:Namespace": 2,
        "kubernetes:networking.k8s.io/v1:NetworkPolicy": 6,  # per namespace: deny ingress, deny egress, DNS+istiod
        RELEASE: 8,
        "kubernetes:security.istio.io/v1:PeerAuthentication": 1,
        "kubernetes:storage.k8s.io/v1:StorageClass": 1,
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": 1,
        "pulumi:providers:kubernetes": 1,
        # Load-balancer exposure and External Secrets writers (components/eks/admission.py).
        "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy": 2,
        "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding": 2,
    }
    assert all(r.parent == component.urn for r in prod.resources if r is not component)
    assert untagged(prod, PROD_TAGS) == []


def test_cluster_private_endpoint_encryption_logs_and_access_mode(prod) -> None:  # type: ignore[no-untyped-def]
    cluster = prod.named(f"{NAME}-cluster").inputs
    assert cluster["name"] == NAME
    # 1.36: standard support to 2027-08-02, the longest ahead on 2026-12-02 (1.31 left extended support 2026-11-26).
    assert cluster["version"] == "1.36"
    # STANDARD: EKS never moves the cluster into paid extended support silently.
    assert cluster["upgradePolicy"] == {"supportType": "STANDARD"}
    assert cluster["vpcConfig"] == {"subnetIds": SUBNETS, "endpointPrivateAccess": True,
                                    "endpointPublicAccess": False}
    # No bootstrapped creator entry: the explicit deployer entry would otherwise get 409 ResourceInUseException.
    assert cluster["accessConfig"] == {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False}
    assert cluster["encryptionConfig"] == {"resources": ["secrets"], "provider": {"keyArn": EKS_KEY}}
    assert cluster["enabledClusterLogTypes"] == ["api", "audit", "authenticator", "controllerManager", "scheduler"]
    assert cluster["bootstrapSelfManagedAddons"] is False
    assert cluster["deletionProtection"] is True
    assert cluster["roleArn"] == f"arn:aws:iam::123456789012:role/{NAME}-cluster-role"


def test_cluster_role_trusts_eks_for_this_cluster_only_and_the_node_role_trusts_ec2(prod) -> None:  # type: ignore[no-untyped-def]
    # AWS's confused-deputy conditions for EKS cluster roles: this account and this one cluster (named before it
    # exists: the cluster's name is fixed).
    assert json.loads(prod.named(f"{NAME}-cluster-role").inputs["assumeRolePolicy"]) == {
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"}, "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT},
                          "ArnLike": {"aws:SourceArn": f"arn:aws:eks:us-east-2:{ACCOUNT}:cluster/{NAME}"}}}]}
    assert [c.inputs["name"] for c in prod.of_type(CLUSTER)] == [NAME]
    # None on the node role: AWS documents no source keys for EC2's instance-profile AssumeRole, and a missing
    # key would keep every node from joining.
    assert json.loads(prod.named(f"{NAME}-node-role").inputs["assumeRolePolicy"]) == {
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def test_log_group_exists_before_the_cluster_encrypted_with_retention(prod) -> None:  # type: ignore[no-untyped-def]
    group = prod.named(f"{NAME}-cluster-logs")
    assert group.inputs["name"] == f"/aws/eks/{NAME}/cluster"
    assert group.inputs["retentionInDays"] == 365
    assert group.inputs["kmsKeyId"] == LOGS_KEY
    assert group.urn in prod.named(f"{NAME}-cluster").dependencies


def test_dev_endpoint_is_public_only_to_the_allow_list(dev) -> None:  # type: ignore[no-untyped-def]
    vpc = dev.named(f"{NAME}-cluster").inputs["vpcConfig"]
    assert vpc["endpointPublicAccess"] is True
    assert vpc["endpointPrivateAccess"] is True
    assert vpc["publicAccessCidrs"] == ["203.0.113.0/24"]
    assert dev.named(f"{NAME}-cluster-logs").inputs["retentionInDays"] == 30


def test_prod_node_pools_carry_the_seed_numbers(prod) -> None:  # type: ignore[no-untyped-def]
    groups = _of(prod, NODE_GROUP)
    app, worker = groups[f"{NAME}-app"].inputs, groups[f"{NAME}-worker"].inputs
    assert app["instanceTypes"] == ["m5.xlarge"]
    assert app["scalingConfig"] == {"desiredSize": 6, "minSize": 3, "maxSize": 12}
    assert worker["instanceTypes"] == ["c5.xlarge"]
    assert worker["scalingConfig"] == {"desiredSize": 3, "minSize": 2, "maxSize": 6}
    for group in (app, worker):
        assert group["subnetIds"] == SUBNETS
        assert group["updateConfig"] == {"maxUnavailable": 1}
        assert group["amiType"] == "AL2023_x86_64_STANDARD"
        assert group["capacityType"] == "ON_DEMAND"
        # A launch template forbids these on the node group itself.
        assert "diskSize" not in group and "remoteAccess" not in group
    assert app["labels"] == {"care.platform/pool": "app"}
    assert "taints" not in app
    assert worker["labels"] == {"care.platform/pool": "worker"}
    assert worker["taints"] == [{"key": "care.platform/pool", "value": "worker", "effect": "NO_SCHEDULE"}]


def test_node_groups_use_their_launch_templates(prod) -> None:  # type: ignore[no-untyped-def]
    templates = _of(prod, LAUNCH_TEMPLATE)
    for pool in ("app", "worker"):
        group = prod.named(f"{NAME}-{pool}")
        assert group.inputs["launchTemplate"] == {"id": templates[f"{NAME}-{pool}-lt"].id, "version": "1"}
        assert prod.named(f"{NAME}-addon-vpc-cni").urn in group.dependencies
        assert prod.named(f"{NAME}-addon-kube-proxy").urn in group.dependencies


def test_launch_templates_imdsv2_encrypted_gp3_and_both_security_groups(prod) -> None:  # type: ignore[no-untyped-def]
    cluster_sg = f"sg-{_digest(f'{NAME}-cluster', 'cluster')}"  # the mocked cluster security group
    for pool, disk in (("app", 50), ("worker", 50)):
        template = prod.named(f"{NAME}-{pool}-lt").inputs
        assert template["metadataOptions"] == {"httpEndpoint": "enabled", "httpTokens": "required",
                                               "httpPutResponseHopLimit": 1, "instanceMetadataTags": "disabled"}
        assert template["blockDeviceMappings"] == [{"deviceName": "/dev/xvda", "ebs": {
            "volumeType": "gp3", "volumeSize": disk, "encrypted": "true", "kmsKeyId": EBS_KEY,
            "deleteOnTermination": "true"}}]
        assert template["vpcSecurityGroupIds"] == [cluster_sg, WORKLOAD_SG]
        assert "keyName" not in template and "userData" not in template
        kinds = [spec["resourceType"] for spec in template["tagSpecifications"]]
        assert kinds == ["instance", "volume", "network-interface"]
        assert template["tagSpecifications"][1]["tags"]["care.platform/pool"] == pool


def test_addons_versions_and_roles(prod) -> None:  # type: ignore[no-untyped-def]
    addons = {r.inputs["addonName"]: r for r in prod.of_type(ADDON)}
    assert {name: a.inputs["addonVersion"] for name, a in addons.items()} == {
        "vpc-cni": "v1.22.4-eksbuild.3", "kube-proxy": "v1.36.0-eksbuild.25",
        "coredns": "v1.14.3-eksbuild.23", "aws-ebs-csi-driver": "v1.66.0-eksbuild.1",
    }
    assert addons["aws-ebs-csi-driver"].inputs["serviceAccountRoleArn"] == \
        f"arn:aws:iam::123456789012:role/{NAME}-ebs-csi-irsa"
    assert addons["vpc-cni"].inputs["serviceAccountRoleArn"] == f"arn:aws:iam::123456789012:role/{NAME}-vpc-cni-irsa"
    assert json.loads(addons["vpc-cni"].inputs["configurationValues"]) == {
        "enableNetworkPolicy": "true",
        "env": {"ENABLE_POD_ENI": "true", "POD_SECURITY_GROUP_ENFORCING_MODE": "standard"}}
    for late in ("coredns", "aws-ebs-csi-driver"):
        assert prod.named(f"{NAME}-app").urn in addons[late].dependencies


@pytest.mark.parametrize(("short", "namespace", "account"), [
    ("ebs-csi", "kube-system", "ebs-csi-controller-sa"),
    ("vpc-cni", "kube-system", "aws-node"),
    ("alb-controller", "kube-system", "aws-load-balancer-controller"),
    ("cluster-autoscaler", "kube-system", "cluster-autoscaler"),
])
def test_irsa_trust_is_scoped_to_one_service_account(prod, short, namespace, account) -> None:  # type: ignore[no-untyped-def]
    issuer = prod.outputs["oidcIssuer"].removeprefix("https://")
    trust = json.loads(prod.named(f"{NAME}-{short}-irsa").inputs["assumeRolePolicy"])
    assert trust["Statement"] == [{
        "Effect": "Allow",
        "Principal": {"Federated": f"arn:aws:iam::123456789012:oidc-provider/{issuer}"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{issuer}:sub": f"system:serviceaccount:{namespace}:{account}",
                                       f"{issuer}:aud": "sts.amazonaws.com"}},
    }]


def test_irsa_policies(prod) -> None:  # type: ignore[no-untyped-def]
    attachments = {r.name: r.inputs["policyArn"]
                   for r in prod.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")}
    assert attachments == {
        f"{NAME}-cluster-policy": "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy",
        f"{NAME}-vpc-resource-controller": "arn:aws:iam::aws:policy/AmazonEKSVPCResourceController",
        f"{NAME}-vpc-cni-irsa-0": "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
        f"{NAME}-node-worker": "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
        f"{NAME}-node-ecr": "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
        f"{NAME}-node-ssm": "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
        **{f"{NAME}-{short}-irsa-policy-attachment": f"arn:aws:iam::123456789012:policy/{NAME}-{short}-irsa-policy"
           for short in ("alb-controller", "cluster-autoscaler", "ebs-csi")},
        f"{NAME}-ebs-csi-irsa-0": "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy",
    }
    ebs_kms = json.loads(prod.named(f"{NAME}-ebs-csi-irsa-policy").inputs["policy"])
    assert {tuple(s["Action"]) for s in ebs_kms["Statement"]} == {
        ("kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"),
        ("kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey")}
    assert {s["Resource"] for s in ebs_kms["Statement"]} == {EBS_KEY}
    autoscaler = json.loads(prod.named(f"{NAME}-cluster-autoscaler-irsa-policy").inputs["policy"])
    mutate = autoscaler["Statement"][1]
    assert mutate["Action"] == ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"]
    assert mutate["Condition"] == {"StringEquals": {f"aws:ResourceTag/k8s.io/cluster-autoscaler/{NAME}": "owned"}}


ELB = f"arn:aws:elasticloadbalancing:us-east-2:{ACCOUNT}"
SG_ARNS = f"arn:aws:ec2:us-east-2:{ACCOUNT}:security-group/*"
MINE = {"StringEquals": {"aws:ResourceTag/elbv2.k8s.aws/cluster": NAME}}


def _alb_statements(prod) -> list[dict]:  # type: ignore[no-untyped-def]
    policy = prod.named(f"{NAME}-alb-controller-irsa-policy").inputs["policy"]
    return json.loads(policy)["Statement"]  # type: ignore[no-any-return]


def test_alb_controller_changes_security_groups_only_of_this_cluster_and_the_named_targets(prod) -> None:  # type: ignore[no-untyped-def]
    ingress = {"ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"}
    grants = [s for s in _alb_statements(prod) if ingress & set(_actions(s))]
    assert grants == [
        {"Effect": "Allow", "Action": ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress",
                                       "ec2:DeleteSecurityGroup"], "Resource": SG_ARNS, "Condition": MINE},
        # The pods behind an Ingress (security groups for Pods): their workload's group, by ARN; never deleted.
        {"Effect": "Allow", "Action": ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"],
         "Resource": [f"arn:aws:ec2:us-east-2:{ACCOUNT}:security-group/{TARGET_SG}"]},
    ]
    tagging = [s for s in _alb_statements(prod) if {"ec2:CreateTags", "ec2:DeleteTags"} & set(_actions(s))]
    assert tagging == [
        # The cluster tag only while creating a group, and only with this cluster's name.
        {"Effect": "Allow", "Action": "ec2:CreateTags", "Resource": SG_ARNS, "Condition": {"StringEquals": {
            "ec2:CreateAction": "CreateSecurityGroup", "aws:RequestTag/elbv2.k8s.aws/cluster": NAME}}},
        {"Effect": "Allow", "Action": ["ec2:CreateTags", "ec2:DeleteTags"], "Resource": SG_ARNS,
         "Condition": {"Null": {"aws:RequestTag/elbv2.k8s.aws/cluster": "true"}, **MINE}},
    ]


def _actions(statement: dict) -> list[str]:  # type: ignore[type-arg]
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


def test_alb_controller_cannot_strip_waf_or_shield_or_touch_other_load_balancers(prod) -> None:  # type: ignore[no-untyped-def]
    statements = _alb_statements(prod)
    actions = [a for s in statements for a in _actions(s)]
    assert "shield:DeleteProtection" not in actions
    by_action = {a: s for s in statements for a in _actions(s)}
    assert by_action["wafv2:DisassociateWebACL"] == by_action["wafv2:AssociateWebACL"] == {
        "Effect": "Allow", "Action": ["wafv2:AssociateWebACL", "wafv2:DisassociateWebACL"],
        "Resource": [f"arn:aws:wafv2:us-east-2:{ACCOUNT}:regional/webacl/*/*", f"{ELB}:loadbalancer/app/*/*"]}
    for action in ("elasticloadbalancing:SetWebAcl", "elasticloadbalancing:ModifyListener",
                   "elasticloadbalancing:DeleteListener", "elasticloadbalancing:ModifyRule",
                   "elasticloadbalancing:DeleteRule", "elasticloadbalancing:SetRulePriorities",
                   "elasticloadbalancing:AddListenerCertificates", "elasticloadbalancing:RemoveListenerCertificates",
                   "elasticloadbalancing:SetSecurityGroups", "elasticloadbalancing:DeleteLoadBalancer",
                   "elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"):
        assert by_action[action]["Condition"] == MINE, action
    assert by_action["elasticloadbalancing:RegisterTargets"]["Resource"] == f"{ELB}:targetgroup/*/*"
    create = by_action["elasticloadbalancing:CreateLoadBalancer"]
    assert create["Condition"] == {"StringEquals": {"aws:RequestTag/elbv2.k8s.aws/cluster": NAME}}
    on_create, existing = (s for s in statements if s["Action"] in ("elasticloadbalancing:AddTags",
                           ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"]))
    assert on_create["Condition"] == {"StringEquals": {
        "elasticloadbalancing:CreateAction": ["CreateTargetGroup", "CreateLoadBalancer", "CreateListener",
                                              "CreateRule"], "aws:RequestTag/elbv2.k8s.aws/cluster": NAME}}
    assert existing["Condition"] == {"Null": {"aws:RequestTag/elbv2.k8s.aws/cluster": "true"}, **MINE}
    assert f"{ELB}:listener/app/*/*/*" in existing["Resource"]
    # What stays on "*" without a condition: reads, and what upstream leaves so (nothing to scope a new
    # listener, rule or empty group by; adding Shield protection takes nothing away).
    unconditioned = sorted(a for s in statements if "Condition" not in s and s["Resource"] == "*"
                           for a in _actions(s) if not a.split(":")[1].startswith(("Describe", "Get", "List")))
    assert unconditioned == ["ec2:CreateSecurityGroup", "elasticloadbalancing:CreateListener",
                             "elasticloadbalancing:CreateRule", "shield:CreateProtection"]


def test_admission_policies_bound_to_deny_and_waited_for(prod) -> None:  # type: ignore[no-untyped-def]
    policies = {r.inputs["metadata"]["name"]: r.inputs["spec"]
                for r in prod.of_type("kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy")}
    bindings = {r.inputs["metadata"]["name"]: r.inputs["spec"]
                for r in prod.of_type("kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding")}
    assert bindings == {name: {"policyName": name, "validationActions": ["Deny"]}
                        for name in ("care-load-balancer-exposure", "care-external-secrets-writers")}
    exposure, secrets = policies["care-load-balancer-exposure"], policies["care-external-secrets-writers"]
    assert exposure["failurePolicy"] == secrets["failurePolicy"] == "Fail"
    assert exposure["matchConstraints"]["resourceRules"] == [
        {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["services"]},
        {"apiGroups": ["networking.k8s.io"], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
         "resources": ["ingresses"]}]
    assert "in ['nlfhir/nlfhir'] ||" in exposure["validations"][2]["expression"]
    assert secrets["matchConstraints"]["resourceRules"] == [
        {"apiGroups": ["external-secrets.io"], "apiVersions": ["*"], "operations": ["CREATE", "UPDATE", "DELETE"],
         "resources": ["secretstores", "clustersecretstores", "externalsecrets", "clusterexternalsecrets",
                       "pushsecrets"]},
        {"apiGroups": ["generators.external-secrets.io"], "apiVersions": ["*"],
         "operations": ["CREATE", "UPDATE", "DELETE"], "resources": ["*"]}]
    assert secrets["validations"][0]["expression"].startswith(
        "request.userInfo.username.startsWith('arn:aws:sts::333333333333:assumed-role/care-platform-deployer/')")
    # Through the cluster's provider, the binding after its policy.
    vap = prod.named(f"{NAME}-care-load-balancer-exposure")
    assert vap.urn in prod.named(f"{NAME}-care-load-balancer-exposure-binding").dependencies
    assert vap.provider.startswith(prod.named(f"{NAME}-k8s").urn)


def test_admin_access_is_explicit_for_the_deployer_and_the_admins(prod) -> None:  # type: ignore[no-untyped-def]
    provider = prod.named(f"{NAME}-k8s")
    for short, principal in (("deployer", DEPLOYER), ("admin-0", ADMIN)):
        entry = prod.named(f"{NAME}-{short}")
        assert (entry.inputs["clusterName"], entry.inputs["principalArn"], entry.inputs["type"]) == (
            NAME, principal, "STANDARD")
        association = prod.named(f"{NAME}-{short}-policy")
        assert association.inputs["principalArn"] == principal
        assert association.inputs["policyArn"] == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
        assert association.inputs["accessScope"] == {"type": "cluster"}
        assert entry.urn in association.dependencies
        # Nothing talks to the Kubernetes API before the deployer (and the admins) can.
        assert association.urn in provider.dependencies
    principals = [r.inputs["principalArn"] for r in prod.of_type("aws:eks/accessEntry:AccessEntry")]
    assert sorted(principals) == sorted([DEPLOYER, ADMIN])  # one entry per principal: no 409


def test_private_endpoint_admits_443_from_the_deployer_cidrs_only(prod) -> None:  # type: ignore[no-untyped-def]
    cluster_sg = f"sg-{_digest(f'{NAME}-cluster', 'cluster')}"
    rules = prod.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert [(r.name, r.inputs["securityGroupId"], r.inputs["cidrIpv4"], r.inputs["ipProtocol"],
             r.inputs["fromPort"], r.inputs["toPort"]) for r in rules] == [
        (f"{NAME}-deployer-0", cluster_sg, "10.100.0.0/22", "tcp", 443, 443)]
    assert rules[0].urn in prod.named(f"{NAME}-k8s").dependencies


def test_public_endpoint_stacks_add_no_deployer_rule(dev) -> None:  # type: ignore[no-untyped-def]
    assert dev.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule") == []


def test_oidc_provider_and_secret_kubeconfig(prod) -> None:  # type: ignore[no-untyped-def]
    oidc = prod.named(f"{NAME}-oidc").inputs
    assert oidc["url"] == prod.outputs["oidcIssuer"]
    assert oidc["clientIdLists"] == ["sts.amazonaws.com"]
    assert prod.outputs["kubeconfig"] == "[secret]"
    provider = prod.named(f"{NAME}-k8s")
    assert provider.inputs["kubeconfig"] == "[secret]"
    kubeconfig = json.loads(provider.unmasked_inputs()["kubeconfig"])
    assert kubeconfig["users"][0]["user"]["exec"]["args"] == [
        "eks", "get-token", "--cluster-name", NAME, "--region", "us-east-2", "--output", "json"]
    assert kubeconfig["clusters"][0]["cluster"]["server"].endswith(".gr7.us-east-2.eks.amazonaws.com")


def test_helm_releases_pinned_through_the_cluster_provider(prod) -> None:  # type: ignore[no-untyped-def]
    provider = prod.named(f"{NAME}-k8s")
    provider_ref = f"{provider.urn}::{provider.id}"
    releases = {r.inputs["name"]: r for r in prod.of_type(RELEASE)}
    assert {name: (r.inputs["chart"], r.inputs["version"], r.inputs["repositoryOpts"]["repo"], r.inputs["namespace"])
            for name, r in releases.items()} == {
        "aws-load-balancer-controller": ("aws-load-balancer-controller", "1.17.1",
                                         "https://aws.github.io/eks-charts", "kube-system"),
        "cluster-autoscaler": ("cluster-autoscaler", "9.59.0", "https://kubernetes.github.io/autoscaler",
                               "kube-system"),
        "metrics-server": ("metrics-server", "3.13.0", "https://kubernetes-sigs.github.io/metrics-server/",
                           "kube-system"),
        "external-secrets": ("external-secrets", "2.6.0", "https://charts.external-secrets.io", "external-secrets"),
        "istio-base": ("base", "1.31.0", "https://istio-release.storage.googleapis.com/charts", "istio-system"),
        "istio-cni": ("cni", "1.31.0", "https://istio-release.storage.googleapis.com/charts", "istio-system"),
        "istiod": ("istiod", "1.31.0", "https://istio-release.storage.googleapis.com/charts", "istio-system"),
        "argo-rollouts": ("argo-rollouts", "2.41.1", "https://argoproj.github.io/argo-helm", "argo-rollouts"),
    }
    for release in releases.values():
        assert release.provider == provider_ref
        assert release.inputs["atomic"] is True
    # Every other release waits for the controller, so that its webhook claims their LoadBalancer Services (the
    # admission policy refuses unclaimed ones).
    alb_urn = releases["aws-load-balancer-controller"].urn
    assert [name for name, r in releases.items() if alb_urn not in r.dependencies] == ["aws-load-balancer-controller"]
    alb = releases["aws-load-balancer-controller"].inputs["values"]
    assert (alb["clusterName"], alb["vpcId"], alb["region"]) == (NAME, "vpc-123", "us-east-2")
    # The controller claims every LoadBalancer Service, internal and pod targets by default; its webhook does not
    # gate every Service on the controller being up (the admission policy fails closed instead).
    assert alb["enableServiceMutatorWebhook"] is True
    assert alb["serviceMutatorWebhookConfig"] == {"failurePolicy": "Ignore"}
    assert (alb["defaultLoadBalancerScheme"], alb["defaultTargetType"]) == ("internal", "ip")
    assert alb["enableBackendSecurityGroup"] is True
    assert alb["controllerConfig"] == {"featureGates": {"ListenerRulesTagging": True}}
    assert alb["serviceAccount"] == {"create": True, "name": "aws-load-balancer-controller", "annotations": {
        "eks.amazonaws.com/role-arn": f"arn:aws:iam::123456789012:role/{NAME}-alb-controller-irsa"}}
    autoscaler = releases["cluster-autoscaler"].inputs["values"]
    assert autoscaler["autoDiscovery"] == {"clusterName": NAME}
    # Region explicit (IMDS hop limit 1), image on the cluster's minor (the chart's default trails it).
    assert (autoscaler["awsRegion"], autoscaler["image"]) == ("us-east-2", {"tag": "v1.36.1"})
    assert autoscaler["rbac"]["serviceAccount"]["annotations"] == {
        "eks.amazonaws.com/role-arn": f"arn:aws:iam::123456789012:role/{NAME}-cluster-autoscaler-irsa"}
    assert releases["external-secrets"].inputs["values"]["installCRDs"] is True
    # Kubernetes' edit/admin roles get no write access to SecretStores and ExternalSecrets.
    assert releases["external-secrets"].inputs["values"]["rbac"] == {"aggregateToEdit": False}
    assert releases["istiod"].inputs["values"]["pilot"]["cni"] == {"enabled": True}
    assert releases["istio-base"].urn in releases["istiod"].dependencies
    # Argo Rollouts: its CRDs installed (and kept on uninstall: deleting them would delete every Rollout).
    argo = releases["argo-rollouts"].inputs
    assert argo["values"] == {"installCRDs": True, "keepCRDs": True, "dashboard": {"enabled": False},
                              "controller": {"replicas": 2, "nodeSelector": {"care.platform/pool": "app"}}}
    assert argo["createNamespace"] is True


def test_mesh_wide_strict_mtls_after_istiod(prod) -> None:  # type: ignore[no-untyped-def]
    peer = prod.named(f"{NAME}-mesh-mtls")
    assert peer.inputs["metadata"] == {"name": "default", "namespace": "istio-system"}
    assert peer.inputs["spec"] == {"mtls": {"mode": "STRICT"}}
    assert prod.named(f"{NAME}-istiod").urn in peer.dependencies


def test_default_storage_class_encrypted_gp3_backed_up(prod) -> None:  # type: ignore[no-untyped-def]
    sc = prod.named(f"{NAME}-sc-gp3-encrypted").inputs
    assert sc["metadata"] == {"name": "gp3-encrypted",
                              "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}
    assert sc["provisioner"] == "ebs.csi.aws.com"
    assert sc["parameters"] == {
        "type": "gp3", "encrypted": "true", "kmsKeyId": EBS_KEY, "csi.storage.k8s.io/fstype": "ext4",
        "tagSpecification_1": "Backup=true", "tagSpecification_2": "Environment=prod",
        "tagSpecification_3": "Project=care-platform"}
    assert sc["volumeBindingMode"] == "WaitForFirstConsumer"
    assert sc["reclaimPolicy"] == "Retain"
    assert sc["allowVolumeExpansion"] is True


def test_workload_namespaces_are_meshed_restricted_and_default_deny(prod) -> None:  # type: ignore[no-untyped-def]
    for ns in ("nlfhir", "prm"):
        labels = prod.named(f"{NAME}-ns-{ns}").inputs["metadata"]["labels"]
        assert labels["istio-injection"] == "enabled"
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
        assert labels["elbv2.k8s.aws/pod-readiness-gate-inject"] == "enabled"  # ALB readiness gates
        deny = prod.named(f"{NAME}-ns-{ns}-default-deny").inputs
        assert deny["metadata"] == {"name": "default-deny-ingress", "namespace": ns}
        assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}


# -- configuration errors ---------------------------------------------------------------------------

def _errors(stack: str, **overrides: object) -> list[str]:
    raw = with_overrides(stack_raw(stack), {k.replace("__", "."): v for k, v in overrides.items()})
    with pytest.raises(config.ConfigError) as info:
        config.validate(stack, raw)
    return info.value.lines


def test_public_endpoint_in_a_stack_that_requires_private() -> None:
    assert _errors("prod", eks__endpointPublicAccess=True, eks__publicAccessCidrs=["198.51.100.0/24"]) == [
        "prod: eks.endpointPublicAccess: true: must be false: this stack requires a private API endpoint "
        "(eks.requirePrivateEndpoint)"]


def test_public_endpoint_needs_a_real_allow_list() -> None:
    assert _errors("dev", eks__publicAccessCidrs=[]) == [
        "dev: eks.publicAccessCidrs: []: a public endpoint needs an allow-list of CIDRs (EKS would otherwise "
        "admit 0.0.0.0/0)"]
    assert _errors("dev", eks__publicAccessCidrs=["0.0.0.0/0", "10.0.0.1/8"]) == [
        "dev: eks.publicAccessCidrs.0: '0.0.0.0/0': must be an allow-list: a prefix of /8 or longer, never 0.0.0.0/0",
        "dev: eks.publicAccessCidrs.1: '10.0.0.1/8': must be an IPv4 CIDR like 203.0.113.0/24"]
    assert _errors("prod", eks__publicAccessCidrs=["198.51.100.0/24"]) == [
        "prod: eks.publicAccessCidrs: [\"198.51.100.0/24\"]: only applies when endpointPublicAccess is true; "
        "remove it"]


def test_node_pool_scaling_and_versions_errors() -> None:
    assert _errors("prod", **{"eks__nodePools__app__min": 8, "eks__nodePools__worker__maxUnavailable": 9}) == [
        "prod: eks.nodePools.app.min: 8: must be at most desired (6)",
        "prod: eks.nodePools.worker.maxUnavailable: 9: must be at most max (6)"]
    assert _errors("prod", eks__addons__kubeProxy="v1.31.3-eksbuild.2") == [
        "prod: eks.addons.kubeProxy: 'v1.31.3-eksbuild.2': must match the cluster's Kubernetes version 1.36 "
        "(v1.36.x-eksbuild.N)"]
    assert _errors("prod", eks__charts__clusterAutoscalerImageTag="v1.35.0") == [
        "prod: eks.charts.clusterAutoscalerImageTag: 'v1.35.0': must match the cluster's Kubernetes version 1.36 "
        "(v1.36.x): the Cluster Autoscaler supports only its own Kubernetes minor"]
    assert _errors("prod", eks__version="1.29", eks__addons__kubeProxy="v1.29.10-eksbuild.3",
                   eks__charts__clusterAutoscalerImageTag="v1.29.4") == [
        "prod: eks.version: '1.29': must be 1.30 or newer: the app services' preStop hooks use the Kubernetes "
        "sleep action"]
    assert _errors("prod", eks__charts__externalSecrets="0.10.7") == [
        "prod: eks.charts.externalSecrets: '0.10.7': must be 0.16.0 or newer: the versions that serve "
        "external-secrets.io/v1, which the app service's ExternalSecret and SecretStore use"]
    assert _errors("prod", eks__adminRoleArns=["arn:aws:iam::333333333333:user/alice"]) == [
        "prod: eks.adminRoleArns.0: 'arn:aws:iam::333333333333:user/alice': must be an IAM role ARN like "
        "arn:aws:iam::123456789012:role/platform-admin"]


def test_deployer_cidrs_required_with_a_private_endpoint_and_never_open() -> None:
    assert _errors("prod", eks__deployerCidrs=[]) == [
        "prod: eks.deployerCidrs: []: a private-only API endpoint needs the CIDRs `pulumi up` runs from (CI runner "
        "subnet, VPN client pool): the cluster security group admits 443 from them and nothing else"]
    assert _errors("prod", eks__deployerCidrs=["0.0.0.0/0", "10.100.0.1/22", "not-a-cidr"]) == [
        "prod: eks.deployerCidrs.0: '0.0.0.0/0': must be an allow-list: a prefix of /8 or longer, never 0.0.0.0/0",
        "prod: eks.deployerCidrs.1: '10.100.0.1/22': must be an IPv4 CIDR like 203.0.113.0/24",
        "prod: eks.deployerCidrs.2: 'not-a-cidr': must be an IPv4 CIDR like 203.0.113.0/24"]


def test_deployer_role_is_a_role_and_not_also_an_admin_entry() -> None:
    assert _errors("prod", eks__deployerRoleArn="arn:aws:sts::333333333333:assumed-role/deployer/ci") == [
        "prod: eks.deployerRoleArn: 'arn:aws:sts::333333333333:assumed-role/deployer/ci': must be an IAM role ARN "
        "like arn:aws:iam::123456789012:role/care-platform-deployer (the role, not an assumed-role session ARN)"]
    assert _errors("prod", eks__adminRoleArns=[DEPLOYER]) == [
        f"prod: eks.adminRoleArns.0: '{DEPLOYER}': is eks.deployerRoleArn already: one access entry per principal "
        "(EKS answers a second one with 409)"]
    assert _errors("prod", eks__deployerRoleArn=DELETE) == ["prod: eks.deployerRoleArn: missing: a value is required"]


# -- the cluster as the prod program wires it ----------------------------------------------------------

def test_prod_program_wires_the_cluster_into_the_network_and_keys() -> None:
    plan = rendered_stack("prod")
    cluster = plan.named("care-prod-eks-cluster").inputs
    private = [plan.named(f"care-prod-private-us-east-2{az}").id for az in "abc"]
    assert cluster["vpcConfig"]["subnetIds"] == private == plan.outputs["privateSubnetIds"]
    assert cluster["vpcConfig"]["endpointPublicAccess"] is False
    key_ids = {r.name: r.id for r in plan.of_type("aws:kms/key:Key")}
    assert cluster["encryptionConfig"]["provider"]["keyArn"].endswith(key_ids["care-prod-kms-eks"])
    workload_sg = plan.named("care-prod-workload-sg").id
    for pool, scaling in (("app", {"desiredSize": 6, "minSize": 3, "maxSize": 12}),
                          ("worker", {"desiredSize": 3, "minSize": 2, "maxSize": 6})):
        assert plan.named(f"care-prod-eks-{pool}").inputs["scalingConfig"] == scaling
        template = plan.named(f"care-prod-eks-{pool}-lt").inputs
        assert template["vpcSecurityGroupIds"][1] == workload_sg
        assert template["blockDeviceMappings"][0]["ebs"]["kmsKeyId"].endswith(key_ids["care-prod-kms-ebs"])
    releases = plan.of_type(RELEASE)
    provider = plan.named("care-prod-eks-k8s")
    assert releases and all(r.provider == f"{provider.urn}::{provider.id}" for r in releases)
    assert plan.outputs["kubeconfig"] == "[secret]"
    assert plan.outputs["eksClusterName"] == "care-prod-eks"
