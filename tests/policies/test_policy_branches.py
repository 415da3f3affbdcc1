# ruff: noqa: E501  (the expected messages are asserted verbatim)
"""Each condition of a policy pinned on its own: boundaries (443 vs 444, the threshold and one below),
alternative shapes (Allow vs Deny, a list holding '*', a container overriding its pod, clusters as well
as instances) and unknowns. Each test names the code it pins; breaking that line makes it fail.

The four policies that only component assertions guarded before (IMDS hop limit, NetworkPolicy sources,
pod-level runAsNonRoot, DR backup-replication retention) are here in full.
"""

from __future__ import annotations

import json

import pytest

from tests.policies.support import DROP, U, check, check_stack, edit
from tests.policies.test_stack_policies import DATA, POLICY_T, bucket_stack, tls_policy
from tests.policies.wire import ACCOUNT, DB_KEY, DEPLOYMENT, DR, KEY_POLICY, LAUNCH_TEMPLATE, SG_ALB, TAGS

RDS_T, CLUSTER_T = "aws:rds/instance:Instance", "aws:rds/cluster:Cluster"
SG_T, SGI_T = "aws:ec2/securityGroup:SecurityGroup", "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
LT_T, EC2_T = "aws:ec2/launchTemplate:LaunchTemplate", "aws:ec2/instance:Instance"
KEY_POLICY_T, DEP_T = "aws:kms/keyPolicy:KeyPolicy", "kubernetes:apps/v1:Deployment"
NETPOL_T = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
REPL_T = "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication"
C0 = "spec__template__spec__containers__0"
POD = "spec__template__spec__securityContext"


# --- transit: s3-deny-insecure-transport counts only Deny statements -----------------------------------

NO_TLS_POLICY = ("no bucket policy denies insecure transport: PHI could be read over plain HTTP. Attach a BucketPolicy with a Deny of s3:* for Principal '*' when aws:SecureTransport is 'false'.", f"{DATA}-bucket")


def _tls_statement(**changes: object) -> str:
    document = json.loads(tls_policy(DATA))
    document["Statement"][0].update(changes)
    return json.dumps(document)


@pytest.mark.parametrize(("changes", "caught"), [
    ({}, False),
    ({"Effect": "Allow"}, True),  # stack.py: `s.get("Effect") != "Deny"` - an Allow enforces nothing
    ({"Principal": {"AWS": "*"}}, False),
    ({"Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}}, True),
    ({"Action": ["s3:GetObject", "s3:*"]}, False),
    ({"Action": "*"}, False),
    ({"Action": "s3:GetObject"}, True),
    ({"Condition": {"Bool": {"aws:SecureTransport": "true"}}}, True),
    ({"Condition": {"Bool": {"aws:SecureTransport": False}}}, False),
    ({"Condition": {}}, True),
], ids=["deny", "allow", "aws-star", "one-account", "action-list", "star-action", "get-only", "true-condition",
        "bool-false", "no-condition"])
def test_tls_only_bucket_policy_counts_only_a_deny_for_every_principal_and_action(changes: dict, caught: bool) -> None:
    found = check_stack("s3-deny-insecure-transport", bucket_stack(policy=_tls_statement(**changes)))
    assert found == ([NO_TLS_POLICY] if caught else [])


def test_tls_only_bucket_policy_as_a_single_statement_object() -> None:
    document = json.loads(tls_policy(DATA))
    document["Statement"] = document["Statement"][0]
    assert check_stack("s3-deny-insecure-transport", bucket_stack(policy=json.dumps(document))) == []
    assert check_stack("s3-deny-insecure-transport", [r for r in bucket_stack() if r.type != POLICY_T]) == [NO_TLS_POLICY]


# --- exposure: sg-no-public-ingress, HTTPS to a load balancer is exactly 443/tcp -------------------------

def _open(message_ports: str) -> list[str]:
    return [f"ingress from 0.0.0.0/0, ::/0 on {message_ports}: only HTTPS (443) to a load balancer's security group (tagged Purpose=load-balancer) may be open to the internet. Restrict the source to a security group or the VPC CIDR (network.vpcCidr)."]


@pytest.mark.parametrize(("low", "high", "protocol", "expected"), [
    (443, 443, "tcp", []),
    (443, 443, "6", []),
    (443, 444, "tcp", _open("ports 443-444")),  # exposure.py: `as_int(to_port) == 443`, not `>= 443`
    (443, 65535, "tcp", _open("ports 443-65535")),
    (442, 443, "tcp", _open("ports 442-443")),  # `as_int(from_port) == 443`
    (444, 444, "tcp", _open("port 444")),
    (443, 443, "udp", _open("port 443")),
    (0, 0, "-1", _open("all ports")),
], ids=["https", "https-proto-number", "to-444", "to-65535", "from-442", "444", "udp", "all"])
def test_load_balancer_group_may_open_only_tcp_443(low: int, high: int, protocol: str, expected: list[str]) -> None:
    props = edit(SG_ALB, ingress__0__fromPort=low, ingress__0__toPort=high, ingress__0__protocol=protocol)
    assert check("sg-no-public-ingress", SG_T, props) == expected


def test_a_vpc_ingress_rule_of_a_load_balancer_is_held_to_the_same_ports() -> None:
    rule = {"securityGroupId": "sg-1", "ipProtocol": "tcp", "fromPort": 443, "toPort": 444, "cidrIpv6": "::/0",
            "tags": {**TAGS, "Purpose": "load-balancer"}}
    assert check("sg-no-public-ingress", SGI_T, rule) == [
        "ingress from ::/0 on ports 443-444: only HTTPS (443) to a load balancer's security group (tagged Purpose=load-balancer) may be open to the internet. Restrict the source to a security group or the VPC CIDR (network.vpcCidr)."]
    assert check("sg-no-public-ingress", SGI_T, edit(rule, toPort=443)) == []


# --- exposure: no-wildcard-principals, '*' anywhere in the AWS principal list ------------------------

def _key_policy(principal: object, condition: dict | None = None) -> dict:
    statement = {"Sid": "Wide", "Effect": "Allow", "Principal": principal, "Action": "kms:Decrypt", "Resource": "*"}
    if condition is not None:
        statement["Condition"] = condition
    return {"keyId": "k", "policy": json.dumps({**KEY_POLICY, "Statement": [statement]})}


WIDE = ["statement Wide allows Principal '*' without an aws:PrincipalAccount, aws:SourceAccount, aws:PrincipalOrgID or kms:CallerAccount condition: anyone could use it. Name the account root or role ARNs (encryption.keyAdminArns) or add such a condition."]


@pytest.mark.parametrize(("principal", "condition", "expected"), [
    ({"AWS": [f"arn:aws:iam::{ACCOUNT}:root", "*"]}, None, WIDE),  # exposure.py: `"*" in values`, not `values == ["*"]`
    ({"AWS": ["*"]}, None, WIDE),
    ({"AWS": "*"}, None, WIDE),
    ("*", None, WIDE),
    ({"AWS": [f"arn:aws:iam::{ACCOUNT}:root"]}, None, []),
    ({"Service": "logs.amazonaws.com"}, None, []),
    ({"AWS": "*"}, {"StringEquals": {"kms:CallerAccount": ACCOUNT}}, []),
    ({"AWS": "*"}, {"StringEquals": {"AWS:SourceAccount": ACCOUNT}}, []),
    ({"AWS": "*"}, {"StringEquals": {"kms:ViaService": "rds.us-east-2.amazonaws.com"}}, WIDE),
    ({"AWS": "*"}, {"StringEquals": "aws:PrincipalAccount"}, WIDE),
], ids=["list-with-star", "list-star", "aws-star", "bare-star", "account", "service", "caller-account",
        "source-account-any-case", "via-service-only", "malformed-condition"])
def test_wildcard_principals(principal: object, condition: dict | None, expected: list[str]) -> None:
    assert check("no-wildcard-principals", KEY_POLICY_T, _key_policy(principal, condition)) == expected


def test_a_deny_with_a_wildcard_principal_is_not_an_exposure() -> None:
    props = _key_policy({"AWS": "*"})
    document = json.loads(props["policy"])
    document["Statement"][0]["Effect"] = "Deny"
    assert check("no-wildcard-principals", KEY_POLICY_T, {**props, "policy": json.dumps(document)}) == []
    document["Statement"] = {**document["Statement"][0], "Effect": "Allow"}  # one statement, not a list
    assert check("no-wildcard-principals", KEY_POLICY_T, {**props, "policy": json.dumps(document)}) == WIDE


# --- backup: rds-backup-retention covers Aurora clusters, at the threshold and one below -----------------

def _short(days: int, needed: int) -> list[str]:
    return [f"backupRetentionPeriod is {days} day(s); this stack requires at least {needed}. Set database.<name>.backupRetentionDays: {needed} or more in Pulumi.<stack>.yaml."]


AURORA = {"engine": "aurora-postgresql", "clusterIdentifier": "care-prod-aurora", "storageEncrypted": True,
          "kmsKeyId": DB_KEY, "backupRetentionPeriod": 30, "deletionProtection": True, "tags": TAGS}


@pytest.mark.parametrize(("days", "expected"), [(30, []), (29, _short(29, 30)), (31, []), (1, _short(1, 30))])
def test_aurora_cluster_backup_retention_at_the_threshold_and_one_below(days: int, expected: list[str]) -> None:
    assert check("rds-backup-retention", CLUSTER_T, edit(AURORA, backupRetentionPeriod=days)) == expected


@pytest.mark.parametrize(("days", "needed", "expected"), [(14, 14, []), (13, 14, _short(13, 14)), (7, 7, []),
                                                          (6, 7, _short(6, 7))])
def test_rds_backup_retention_uses_the_stacks_threshold(days: int, needed: int, expected: list[str]) -> None:
    assert check("rds-backup-retention", RDS_T, {"backupRetentionPeriod": days, "engine": "postgres"},
                 config={"minRetentionDays": needed}) == expected


def test_an_aurora_cluster_without_retention_gets_the_aws_default() -> None:
    assert check("rds-backup-retention", CLUSTER_T, edit(AURORA, backupRetentionPeriod=DROP)) == [
        "backupRetentionPeriod is not set (AWS default 1 day); this stack requires at least 30. Set database.<name>.backupRetentionDays: 30 or more in Pulumi.<stack>.yaml."]
    assert check("rds-backup-retention", CLUSTER_T, edit(AURORA, backupRetentionPeriod=U)) == []


# --- kubernetes: runAsNonRoot, container settings override the pod's ----------------------------------

NOT_NON_ROOT = ["container nlfhir: runAsNonRoot is not true (pod or container securityContext): the kubelet would start an image whose user is root. Set securityContext.runAsNonRoot=True."]
ROOT_USER = ["container nlfhir: runAsUser is 0: the container would run as root. Set securityContext.runAsUser to the image's non-root UID with runAsNonRoot=True."]


@pytest.mark.parametrize(("pod", "container", "expected"), [
    ({"runAsNonRoot": True}, {"runAsNonRoot": False}, NOT_NON_ROOT),  # the container's false wins over the pod's true
    ({"runAsNonRoot": False}, {"runAsNonRoot": True}, []),  # ... and its true over the pod's false
    ({"runAsNonRoot": True}, {"runAsNonRoot": DROP}, []),  # unset: the pod's value applies
    ({"runAsNonRoot": DROP}, {"runAsNonRoot": DROP}, NOT_NON_ROOT),
    ({"runAsNonRoot": True, "runAsUser": 0}, {"runAsNonRoot": True}, ROOT_USER),  # the pod's user applies
    ({"runAsNonRoot": True, "runAsUser": 0}, {"runAsNonRoot": True, "runAsUser": 1000}, []),
    ({"runAsNonRoot": True, "runAsUser": 10001}, {"runAsNonRoot": True, "runAsUser": 0}, ROOT_USER),
    ({"runAsNonRoot": True}, {"runAsNonRoot": "true"}, []),
    ({"runAsNonRoot": True}, {"runAsNonRoot": U}, []),
    ({"runAsNonRoot": U}, {"runAsNonRoot": DROP}, []),
], ids=["container-false-pod-true", "container-true-pod-false", "pod-true", "neither", "pod-root-user",
        "container-user-overrides", "container-root-user", "string-true", "container-unknown", "pod-unknown"])
def test_run_as_non_root_container_overrides_pod(pod: dict, container: dict, expected: list[str]) -> None:
    changes = {f"{POD}__{k}": v for k, v in pod.items()} | {f"{C0}__securityContext__{k}": v for k, v in container.items()}
    assert check("k8s-run-as-non-root", DEP_T, edit(DEPLOYMENT, **changes)) == expected


def test_run_as_non_root_with_an_unknown_pod_context_or_spec_reports_nothing() -> None:
    assert check("k8s-run-as-non-root", DEP_T, edit(DEPLOYMENT, **{POD: U, f"{C0}__securityContext__runAsNonRoot": False})) == []
    assert check("k8s-run-as-non-root", DEP_T, edit(DEPLOYMENT, spec__template__spec=U)) == []
    assert check("k8s-run-as-non-root", DEP_T, edit(DEPLOYMENT, **{f"{C0}__securityContext": U})) == []


POD_NOT_SET = "pod securityContext.runAsNonRoot is {}: a container added without its own securityContext (a sidecar, a debug container) would start as root. Set the pod's securityContext.runAsNonRoot=True."
OVERRIDE = "container nlfhir: securityContext.runAsNonRoot is false: the container overrides the pod's setting and may run as root. Remove the override or set it to True."


@pytest.mark.parametrize(("pod", "container", "expected"), [
    (True, True, []),
    (True, DROP, []),
    ("true", True, []),
    (True, False, [OVERRIDE]),
    (True, "false", [OVERRIDE]),
    (False, True, [POD_NOT_SET.format("False")]),
    (DROP, True, [POD_NOT_SET.format("not set")]),
    (DROP, False, [POD_NOT_SET.format("not set"), OVERRIDE]),
    (U, True, []),
    (True, U, []),
], ids=["both", "pod-only", "pod-string", "container-false", "container-string-false", "pod-false", "pod-unset",
        "neither", "pod-unknown", "container-unknown"])
def test_pod_run_as_non_root(pod: object, container: object, expected: list[str]) -> None:
    props = edit(DEPLOYMENT, **{f"{POD}__runAsNonRoot": pod, f"{C0}__securityContext__runAsNonRoot": container})
    assert check("k8s-pod-run-as-non-root", DEP_T, props) == expected


def test_pod_run_as_non_root_checks_init_containers_and_needs_a_pod_spec() -> None:
    init = {"name": "migrate", "image": "m:1", "securityContext": {"runAsNonRoot": False}}
    props = edit(DEPLOYMENT, spec__template__spec__initContainers=[init])
    assert check("k8s-pod-run-as-non-root", DEP_T, props) == [
        "init container migrate: securityContext.runAsNonRoot is false: the container overrides the pod's setting and may run as root. Remove the override or set it to True."]
    assert check("k8s-pod-run-as-non-root", DEP_T, edit(DEPLOYMENT, **{POD: U})) == []
    assert check("k8s-pod-run-as-non-root", DEP_T, edit(DEPLOYMENT, spec__template__spec=U)) == []
    assert check("k8s-pod-run-as-non-root", DEP_T, edit(DEPLOYMENT, **{POD: DROP})) == [POD_NOT_SET.format("not set")]


# --- kubernetes: NetworkPolicy sources name their namespaces ---------------------------------------

PEER = {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "nlfhir"}},
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "nlfhir"}}}
NETPOL = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
          "metadata": {"name": "chromadb", "namespace": "nlfhir"},
          "spec": {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "chromadb"}}, "policyTypes": ["Ingress"],
                   "ingress": [{"from": [PEER], "ports": [{"port": 8000, "protocol": "TCP"}]}]}}
NAME_IT = ": name the callers' namespace explicitly (namespaceSelector.matchLabels kubernetes.io/metadata.name: <namespace>)."


@pytest.mark.parametrize(("peer", "expected"), [
    (PEER, []),
    ({**PEER, "namespaceSelector": {"matchExpressions": [{"key": "team", "operator": "In", "values": ["prm"]}]}}, []),
    ({"podSelector": PEER["podSelector"]}, [f"ingress rule #0 source #0 has no namespaceSelector (the policy's own namespace, implicitly){NAME_IT}"]),
    ({**PEER, "namespaceSelector": {}}, [f"ingress rule #0 source #0 has an empty namespaceSelector (every namespace){NAME_IT}"]),
    ({**PEER, "namespaceSelector": {"matchLabels": {}}}, [f"ingress rule #0 source #0 has an empty namespaceSelector (every namespace){NAME_IT}"]),
    ({"ipBlock": {"cidr": "0.0.0.0/0"}}, [f"ingress rule #0 source #0 admits ipBlock 0.0.0.0/0 (the internet){NAME_IT}"]),
    ({"ipBlock": {"cidr": "::/0"}}, [f"ingress rule #0 source #0 admits ipBlock ::/0 (the internet){NAME_IT}"]),
    ({"ipBlock": {"cidr": "10.30.0.0/16"}}, []),
    ({**PEER, "namespaceSelector": U}, []),
], ids=["named", "expressions", "no-namespace-selector", "empty-selector", "empty-labels", "internet-v4",
        "internet-v6", "vpc-block", "unknown-selector"])
def test_network_policy_peers(peer: dict, expected: list[str]) -> None:
    assert check("k8s-network-policy-sources", NETPOL_T, edit(NETPOL, spec__ingress__0__from=[peer])) == expected


def test_network_policy_rules_without_sources_and_default_deny() -> None:
    admits_all = "ingress rule #1 has no 'from': it admits every pod in every namespace. Name the callers (apps.<app>.allowFrom in Pulumi.<stack>.yaml)."
    second = {"ports": [{"port": 9000, "protocol": "TCP"}]}
    assert check("k8s-network-policy-sources", NETPOL_T, edit(NETPOL, spec__ingress=[NETPOL["spec"]["ingress"][0], second])) == [admits_all]
    assert check("k8s-network-policy-sources", NETPOL_T, edit(NETPOL, spec__ingress=[NETPOL["spec"]["ingress"][0], {**second, "from": []}])) == [admits_all]
    assert check("k8s-network-policy-sources", NETPOL_T, edit(NETPOL, spec__ingress=[])) == []  # deny all
    assert check("k8s-network-policy-sources", NETPOL_T, edit(NETPOL, spec__ingress=DROP)) == []  # default deny
    assert check("k8s-network-policy-sources", NETPOL_T, edit(NETPOL, spec__ingress=U)) == []
    assert check("k8s-network-policy-sources", NETPOL_T, edit(NETPOL, spec__ingress__0__from=U)) == []
    two = edit(NETPOL, spec__ingress__0__from=[PEER, {"podSelector": {}}])
    assert check("k8s-network-policy-sources", NETPOL_T, two) == [
        f"ingress rule #0 source #1 has no namespaceSelector (the policy's own namespace, implicitly){NAME_IT}"]


# --- exposure: IMDS hop limit 1 --------------------------------------------------------------------

HOPS = "metadataOptions.httpPutResponseHopLimit is {}: a pod one network hop away could take the node role's credentials from the instance metadata service. Set httpPutResponseHopLimit=1 on the launch template (pods get AWS credentials from IRSA)."


@pytest.mark.parametrize(("options", "expected"), [
    ({"httpPutResponseHopLimit": 1}, []),
    ({"httpPutResponseHopLimit": "1"}, []),
    ({"httpPutResponseHopLimit": 2}, [HOPS.format("2")]),
    ({"httpPutResponseHopLimit": 64}, [HOPS.format("64")]),
    ({"httpPutResponseHopLimit": DROP}, [HOPS.format("not set (the AMI's default, 2 on EKS-optimized images)")]),
    ({"httpPutResponseHopLimit": U}, []),
    ({"httpPutResponseHopLimit": 2, "httpEndpoint": "disabled"}, []),
], ids=["one", "one-as-string", "two", "sixty-four", "unset", "unknown", "imds-disabled"])
def test_imds_hop_limit_on_launch_templates(options: dict, expected: list[str]) -> None:
    changes = {f"metadataOptions__{k}": v for k, v in options.items()}
    assert check("imds-hop-limit", LT_T, edit(LAUNCH_TEMPLATE, **changes)) == expected


def test_imds_hop_limit_on_instances_and_unknown_options() -> None:
    assert check("imds-hop-limit", EC2_T, {"ami": "ami-1", "instanceType": "t3.micro"}) == [
        HOPS.format("not set (the AMI's default, 2 on EKS-optimized images)")]
    assert check("imds-hop-limit", EC2_T, {"ami": "ami-1", "metadataOptions": {"httpTokens": "required",
                                                                               "httpPutResponseHopLimit": 1}}) == []
    assert check("imds-hop-limit", LT_T, edit(LAUNCH_TEMPLATE, metadataOptions=U)) == []


# --- backup: DR backup replication retention ---------------------------------------------------------

REPLICATION = {"kmsKeyId": f"arn:aws:kms:{DR}:{ACCOUNT}:key/cafaa5d4-f77b-40fc-81a0-e46330a08112", "retentionPeriod": 30,
               "sourceDbInstanceArn": f"arn:aws:rds:us-east-2:{ACCOUNT}:db:care-prod-prm"}


def _replica_short(shown: str, needed: int) -> list[str]:
    return [f"retentionPeriod is {shown}; this stack requires at least {needed} for the DR region's copies. Set database.<name>.backupRetentionDays: {needed} or more in Pulumi.<stack>.yaml (the replication keeps the primary's retention)."]


@pytest.mark.parametrize(("days", "config", "expected"), [
    (30, None, []),
    (29, None, _replica_short("29 day(s)", 30)),
    (14, {"minRetentionDays": 14}, []),
    (13, {"minRetentionDays": 14}, _replica_short("13 day(s)", 14)),
    (DROP, None, _replica_short("not set (AWS default 7 days)", 30)),
    (DROP, {"minRetentionDays": 7}, _replica_short("not set (AWS default 7 days)", 7)),
    (U, None, []),
], ids=["at-threshold", "one-below", "staging-at", "staging-below", "unset", "unset-dev", "unknown"])
def test_backup_replication_retention(days: object, config: dict | None, expected: list[str]) -> None:
    assert check("rds-backup-replication-retention", REPL_T, edit(REPLICATION, retentionPeriod=days),
                 config=config) == expected
