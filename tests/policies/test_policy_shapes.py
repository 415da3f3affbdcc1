# ruff: noqa: E501  (the expected messages are asserted verbatim)
"""Alternative wire shapes and per-field unknowns for the resource policies: the other ways an input can
arrive (a list where a map is usual, another sink, another engine), each pinned to its outcome."""

from __future__ import annotations

import pytest

from tests.policies.support import DROP, U, check, edit
from tests.policies.wire import EBS_KEY, EKS, LAUNCH_TEMPLATE, MSK, RDS_PRIMARY, STORAGE_CLASS

EKS_T, LT_T, VOLUME_T = "aws:eks/cluster:Cluster", "aws:ec2/launchTemplate:LaunchTemplate", "aws:ebs/volume:Volume"
SC_T, MSK_T = "kubernetes:storage.k8s.io/v1:StorageClass", "aws:msk/cluster:Cluster"
RDS_T, CLUSTER_T = "aws:rds/instance:Instance", "aws:rds/cluster:Cluster"

NO_SECRETS = ["encryptionConfig.resources does not include \"secrets\": Kubernetes secrets (database credentials) must be envelope-encrypted. Set encryptionConfig={resources: ['secrets'], provider: {keyArn: keys.arn('eks')}} in components/eks/control_plane.py."]


@pytest.mark.parametrize(("config", "expected"), [
    ([EKS["encryptionConfig"]], []),  # pulumi-aws < 6: a list of one
    ([{**EKS["encryptionConfig"], "resources": ["configmaps"]}], NO_SECRETS),
    ([], NO_SECRETS),
    (U, []),
    ({**EKS["encryptionConfig"], "resources": U}, []),
    ({"resources": ["secrets"], "provider": U}, []),
    ({"resources": ["secrets"], "provider": {"keyArn": U}}, []),
], ids=["list-of-one", "list-without-secrets", "empty-list", "unknown", "unknown-resources", "unknown-provider",
        "unknown-key"])
def test_eks_secrets_encryption_shapes(config: object, expected: list[str]) -> None:
    assert check("eks-secrets-encryption", EKS_T, edit(EKS, encryptionConfig=config)) == expected


def test_eks_secrets_encryption_without_a_provider_key() -> None:
    found = check("eks-secrets-encryption", EKS_T, edit(EKS, encryptionConfig={"resources": ["secrets"]}))
    assert len(found) == 1 and found[0].startswith("encryptionConfig.provider.keyArn is not set")
    assert found[0].endswith(": secrets must be encrypted with the KeyRing's 'eks' key. Set encryptionConfig.provider.keyArn=keys.arn('eks').")


UNENCRYPTED = "{}: encrypted is not true: every EBS volume of a node that runs PHI workloads must be encrypted. Set encrypted='true' with kmsKeyId=keys.arn('ebs')."
ROOT = LAUNCH_TEMPLATE["blockDeviceMappings"][0]


@pytest.mark.parametrize(("mappings", "expected"), [
    ([{"deviceName": "/dev/sdb", "virtualName": "ephemeral0"}, ROOT], []),  # instance store first: no EBS to check
    ([U, ROOT], []),
    ([{**ROOT, "ebs": U}, ROOT], []),
    ([{**ROOT, "ebs": {**ROOT["ebs"], "encrypted": U}}], []),
    ([{"ebs": {**ROOT["ebs"], "encrypted": "false"}}], [UNENCRYPTED.format("?")]),
    ([ROOT, {"deviceName": "/dev/xvdb", "ebs": {**ROOT["ebs"], "encrypted": "false"}}], [UNENCRYPTED.format("/dev/xvdb")]),
    (U, []),
], ids=["ephemeral-first", "unknown-mapping", "unknown-ebs", "unknown-encrypted", "no-device-name", "second-volume",
        "unknown-mappings"])
def test_launch_template_volumes(mappings: object, expected: list[str]) -> None:
    assert check("ebs-volume-encrypted", LT_T, edit(LAUNCH_TEMPLATE, blockDeviceMappings=mappings)) == expected


def test_a_standalone_volume() -> None:
    volume = {"availabilityZone": "us-east-2a", "size": 20, "encrypted": True, "kmsKeyId": EBS_KEY}
    assert check("ebs-volume-encrypted", VOLUME_T, volume) == []
    assert check("ebs-volume-encrypted", VOLUME_T, edit(volume, encrypted=False)) == [UNENCRYPTED.format("volume")]
    assert check("ebs-volume-encrypted", VOLUME_T, edit(volume, encrypted=U)) == []


@pytest.mark.parametrize(("changes", "count"), [
    ({"provisioner": "kubernetes.io/aws-ebs", "parameters__encrypted": "false"}, 1),
    ({"provisioner": "efs.csi.aws.com", "parameters__encrypted": "false"}, 0),
    ({"provisioner": U, "parameters__encrypted": "false"}, 0),
    ({"parameters": U}, 0),
    ({"parameters__encrypted": U}, 0),
    ({"parameters": DROP}, 2),
], ids=["in-tree-provisioner", "not-ebs", "unknown-provisioner", "unknown-parameters", "unknown-encrypted",
        "no-parameters"])
def test_storage_class_shapes(changes: dict, count: int) -> None:
    assert len(check("storage-class-encrypted", SC_T, edit(STORAGE_CLASS, **changes))) == count


NO_PG_LOGS = ["enabledCloudwatchLogsExports does not include \"postgresql\": connection and statement logs (the database's audit trail) would stay on the instance. Set enabledCloudwatchLogsExports=['postgresql', 'upgrade'] in components/database.py."]


@pytest.mark.parametrize(("type_", "engine", "exports", "expected"), [
    (RDS_T, "postgres", ["upgrade"], NO_PG_LOGS),
    (CLUSTER_T, "aurora-postgresql", ["upgrade"], NO_PG_LOGS),
    (CLUSTER_T, "aurora-postgresql", ["postgresql"], []),
    (RDS_T, "mysql", ["upgrade"], []),  # not PostgreSQL: its log names differ
    (RDS_T, DROP, [], NO_PG_LOGS),  # a replica names no engine: it is the primary's
    (RDS_T, U, [], []),
    (RDS_T, "postgres", U, []),
], ids=["postgres", "aurora", "aurora-ok", "mysql", "replica-no-engine", "unknown-engine", "unknown-exports"])
def test_rds_log_exports_by_engine(type_: str, engine: object, exports: object, expected: list[str]) -> None:
    props = edit(RDS_PRIMARY, engine=engine, enabledCloudwatchLogsExports=exports)
    assert check("rds-log-exports", type_, props) == expected


NO_BROKER_LOGS = ["loggingInfo.brokerLogs enables no destination: broker connection and authorization events would be lost. Set loggingInfo.brokerLogs.cloudwatchLogs={enabled: True, logGroup: <KMS-encrypted group>}."]


@pytest.mark.parametrize(("logs", "expected"), [
    ({"s3": {"enabled": True, "bucket": "logs"}}, []),
    ({"firehose": {"enabled": True, "deliveryStream": "logs"}}, []),
    ({"cloudwatchLogs": {"enabled": False}, "s3": {"enabled": False}, "firehose": {"enabled": True}}, []),
    ({"cloudwatchLogs": {"enabled": False}, "s3": {"enabled": "true"}}, []),
    ({"cloudwatchLogs": {"enabled": False}, "s3": {"enabled": False}}, NO_BROKER_LOGS),
    ({"cloudwatchLogs": {"enabled": False}, "s3": U}, []),
    ({"cloudwatchLogs": {"enabled": U}}, []),
    ({}, NO_BROKER_LOGS),
    (U, []),
], ids=["s3", "firehose", "third-sink", "string-true", "none-enabled", "unknown-sink", "unknown-enabled", "empty",
        "unknown"])
def test_msk_broker_log_sinks(logs: object, expected: list[str]) -> None:
    assert check("msk-broker-logs", MSK_T, edit(MSK, loggingInfo={"brokerLogs": logs})) == expected


def test_msk_broker_logs_absent() -> None:
    assert check("msk-broker-logs", MSK_T, edit(MSK, loggingInfo=DROP)) == NO_BROKER_LOGS



# --- transit: TLS settings by engine, origin and certificate ----------------------------------------

PG_T, CF_T = "aws:rds/parameterGroup:ParameterGroup", "aws:cloudfront/distribution:Distribution"
DEFAULT_GROUP = ["parameterGroupName is 'default.postgres16': the default parameter group cannot set rds.force_ssl=1. Attach the component's custom parameter group (replicas included)."]


@pytest.mark.parametrize(("engine", "group", "expected"), [
    ("postgres", "default.postgres16", DEFAULT_GROUP),
    (DROP, "default.postgres16", DEFAULT_GROUP),  # a replica: the primary's engine
    ("aurora-postgresql", "default.postgres16", DEFAULT_GROUP),
    ("mysql", "default.mysql8.0", []),
    (U, "default.postgres16", []),
    ("postgres", U, []),
    ("postgres", "care-prod-prm-params", []),
], ids=["postgres", "replica", "aurora", "mysql", "unknown-engine", "unknown-group", "custom-group"])
def test_rds_force_ssl_needs_a_custom_group_for_postgres(engine: object, group: object, expected: list[str]) -> None:
    props = edit(RDS_PRIMARY, engine=engine, parameterGroupName=group)
    assert check("rds-force-ssl", RDS_T, props) == expected


def test_rds_force_ssl_parameter_group_values() -> None:
    group = {"family": "postgres16", "name": "g", "parameters": [{"name": "rds.force_ssl", "value": "0"}]}
    assert check("rds-force-ssl", PG_T, group) == [
        "rds.force_ssl is '0' in parameter group family postgres16: PostgreSQL must refuse plaintext connections. Add the parameter {name: 'rds.force_ssl', value: '1'}."]
    assert check("rds-force-ssl", PG_T, edit(group, parameters=[{"name": "rds.force_ssl", "value": U}])) == []
    assert check("rds-force-ssl", PG_T, edit(group, parameters=U)) == []
    assert check("rds-force-ssl", PG_T, edit(group, family="mysql8.0")) == []
    assert check("rds-force-ssl", PG_T, edit(group, parameters=[{"name": "log_connections", "value": "1"}])) == [
        "rds.force_ssl is not set in parameter group family postgres16: PostgreSQL must refuse plaintext connections. Add the parameter {name: 'rds.force_ssl', value: '1'}."]


ORIGIN = {"domainName": "api.care.example", "customOriginConfig": {"httpPort": 80, "httpsPort": 443,
          "originProtocolPolicy": "https-only", "originSslProtocols": ["TLSv1.2"]}}


def test_every_custom_origin_is_checked_after_an_s3_one() -> None:
    s3 = {"originId": "assets", "domainName": "assets.s3.amazonaws.com", "originAccessControlId": "E2"}
    plain_http = {**ORIGIN, "originId": "alb", "customOriginConfig": {**ORIGIN["customOriginConfig"], "originProtocolPolicy": "http-only"}}
    unnamed = {**ORIGIN, "customOriginConfig": {**ORIGIN["customOriginConfig"], "originSslProtocols": ["TLSv1", "TLSv1.2"]}}
    assert check("cloudfront-origin-https", CF_T, {"enabled": True, "origins": [s3, "junk", plain_http, unnamed]}) == [
        "origin alb: originProtocolPolicy is 'http-only': the edge-to-origin hop would carry PHI in plaintext. Set originProtocolPolicy='https-only'.",
        "origin ?: originSslProtocols allows TLSv1: only TLS 1.2 may be used. Set originSslProtocols=['TLSv1.2']."]
    unknown = {**ORIGIN, "originId": "u", "customOriginConfig": {"originProtocolPolicy": U, "originSslProtocols": U}}
    assert check("cloudfront-origin-https", CF_T, {"enabled": True, "origins": [unknown]}) == []
    assert check("cloudfront-origin-https", CF_T, {"enabled": True, "origins": U}) == []


@pytest.mark.parametrize(("cert", "expected"), [
    ({"acmCertificateArn": "arn", "minimumProtocolVersion": "TLSv1.2_2021"}, []),
    ({"acmCertificateArn": "arn"}, ["viewerCertificate.minimumProtocolVersion is not set (TLSv1): viewers must use TLS 1.2 with the 2021 ciphers or newer. Set minimumProtocolVersion='TLSv1.2_2021'."]),
    ({"acmCertificateArn": "arn", "minimumProtocolVersion": "TLSv1.1_2016"}, ["viewerCertificate.minimumProtocolVersion is 'TLSv1.1_2016': viewers must use TLS 1.2 with the 2021 ciphers or newer. Set minimumProtocolVersion='TLSv1.2_2021'."]),
    ({"acmCertificateArn": "arn", "minimumProtocolVersion": U}, []),
    (U, []),
    (DROP, []),
], ids=["tls12", "unset", "tls11", "unknown-version", "unknown-cert", "no-cert"])
def test_cloudfront_minimum_tls(cert: object, expected: list[str]) -> None:
    assert check("cloudfront-tls12", CF_T, edit({"enabled": True}, viewerCertificate=cert)) == expected


# --- availability: ElastiCache replicas by either count ----------------------------------------------

REDIS_T = "aws:elasticache/replicationGroup:ReplicationGroup"
NO_REPLICA = "the replication group has no replica: failover needs at least one replica per shard. Set cache.replicasPerShard: 1 or more in Pulumi.<stack>.yaml."


@pytest.mark.parametrize(("changes", "expected"), [
    ({"replicasPerNodeGroup": 0}, [NO_REPLICA]),
    ({"replicasPerNodeGroup": DROP, "numCacheClusters": 1}, [NO_REPLICA]),
    ({"replicasPerNodeGroup": DROP, "numCacheClusters": 2}, []),
    ({"replicasPerNodeGroup": DROP}, []),
    ({"automaticFailoverEnabled": U, "multiAzEnabled": U}, []),
    ({"automaticFailoverEnabled": False}, ["automaticFailoverEnabled is not true: a replica would not be promoted when the primary fails. Set automaticFailoverEnabled=True (it follows cache.multiAz)."]),
], ids=["no-replicas", "one-cluster", "two-clusters", "counts-unset", "unknown-flags", "no-failover"])
def test_elasticache_replicas(changes: dict, expected: list[str]) -> None:
    from tests.policies.wire import REDIS

    assert check("elasticache-multi-az", REDIS_T, edit(REDIS, **changes)) == expected


# --- exposure and availability edges -----------------------------------------------------------------

SGR_T, MSK_PUBLIC = "aws:ec2/securityGroupRule:SecurityGroupRule", "brokerNodeGroupInfo__connectivityInfo"
OPEN = "ingress from {} on {}: only HTTPS (443) to a load balancer's security group (tagged Purpose=load-balancer) may be open to the internet. Restrict the source to a security group or the VPC CIDR (network.vpcCidr)."


@pytest.mark.parametrize(("rule", "expected"), [
    ({"ipv6CidrBlocks": ["::/0"], "protocol": "tcp", "fromPort": 443, "toPort": 443}, [OPEN.format("::/0", "port 443")]),
    ({"cidrBlocks": ["0.0.0.0/0"], "protocol": "all", "fromPort": 0, "toPort": 65535}, [OPEN.format("0.0.0.0/0", "all ports")]),
    ({"cidrBlocks": ["0.0.0.0/0"], "protocol": "tcp", "fromPort": 80, "toPort": 80}, [OPEN.format("0.0.0.0/0", "port 80")]),
    ({"cidrBlocks": ["10.0.0.0/8", U], "protocol": "tcp", "fromPort": 80, "toPort": 80}, []),
    ({"cidrBlocks": U, "ipv6CidrBlocks": ["::/0"], "protocol": "tcp", "fromPort": 22, "toPort": 22}, [OPEN.format("::/0", "port 22")]),
], ids=["rule-ipv6-https-not-lb", "rule-all", "rule-http", "rule-private", "rule-unknown-v4"])
def test_security_group_rules(rule: dict, expected: list[str]) -> None:
    assert check("sg-no-public-ingress", SGR_T, {"type": "ingress", "securityGroupId": "sg-1", **rule}) == expected


def test_security_group_inline_ingress_unknown_and_ipv4_rule() -> None:
    sg = {"vpcId": "vpc-1", "ingress": U}
    assert check("sg-no-public-ingress", "aws:ec2/securityGroup:SecurityGroup", sg) == []
    rule = {"securityGroupId": "sg-1", "ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "cidrIpv6": "::/0"}
    assert check("sg-no-public-ingress", "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", rule) == [
        OPEN.format("::/0", "port 443")]


@pytest.mark.parametrize(("kind", "count"), [("DISABLED", 0), ("disabled", 1), ("SERVICE_PROVIDED_EIPS", 1), (U, 0), (None, 0)])
def test_msk_public_access_types(kind: object, count: int) -> None:
    props = edit(MSK, **{MSK_PUBLIC: {"publicAccess": {"type": kind}} if kind is not None else {}})
    assert len(check("msk-not-public", MSK_T, props)) == count


def test_probes_are_not_required_of_init_containers() -> None:
    from tests.policies.wire import DEPLOYMENT

    init = {"name": "migrate", "image": "m:1"}
    props = edit(DEPLOYMENT, spec__template__spec__initContainers=[init])
    assert check("k8s-probes", "kubernetes:apps/v1:Deployment", props) == []


@pytest.mark.parametrize(("version", "count"), [("TLSv1.3_2025", 0), ("TLSv1.2_2019", 1), ("TLSv1.2_2021", 0), ("TLSv1_2016", 1), ("SSLv3", 1)])
def test_tls_versions(version: str, count: int) -> None:
    cert = {"acmCertificateArn": "arn", "minimumProtocolVersion": version}
    assert len(check("cloudfront-tls12", CF_T, {"enabled": True, "viewerCertificate": cert})) == count


@pytest.mark.parametrize(("minimum", "expected"), [(1, []), (2, []), (0, ["scalingConfig.minSize is 0: a pool that may scale to zero takes its workloads down. Set eks.nodePools.<pool>.min: 1 or more in Pulumi.<stack>.yaml."])])
def test_node_group_minimum_size(minimum: int, expected: list[str]) -> None:
    from tests.policies.wire import NODE_GROUP

    assert check("eks-node-group-az-spread", "aws:eks/nodeGroup:NodeGroup", edit(NODE_GROUP, scalingConfig__minSize=minimum)) == expected


def test_rds_final_snapshot_unknowns() -> None:
    assert check("rds-final-snapshot", RDS_T, edit(RDS_PRIMARY, skipFinalSnapshot=U, finalSnapshotIdentifier=DROP)) == []
    assert check("rds-final-snapshot", RDS_T, edit(RDS_PRIMARY, finalSnapshotIdentifier=U)) == []
    assert check("rds-final-snapshot", RDS_T, edit(RDS_PRIMARY, finalSnapshotIdentifier="")) == [
        "finalSnapshotIdentifier is not set: RDS refuses to delete without it, or the snapshot is lost when skipFinalSnapshot is flipped. Set finalSnapshotIdentifier (e.g. '<name>-final')."]
