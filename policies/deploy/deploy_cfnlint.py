"""Independent cross-check: the core resources' inputs, translated to CloudFormation resource properties,
linted in-process with cfn-lint (AWS's resource schemas and RDS engine-version data, maintained by AWS).

Every cfn-lint error, and the warnings that mean "AWS rejects this for a new resource" (``W3691``
deprecated RDS engine versions), is a mandatory violation that names the resource and the config key.
Inputs unknown during preview are left out of the template (``translate`` returns a note for each) and
cfn-lint's "required property" check is not used: the translation maps the properties that carry AWS
constraints, not every required one (the provider already requires those). cfn-lint's data lists RDS minor
versions only, so a bare major (``"16"``, with automatic minor upgrades) is left out of its version check
and judged by ``rds-engine-version-supported`` instead. If cfn-lint cannot be imported or run, the policy
fails (fail closed).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from deploy_common import (
    CACHE_RG,
    EKS_CLUSTER,
    KMS_KEY,
    LAUNCH_TEMPLATE,
    MSK,
    RDS_INSTANCE,
    S3_BUCKETS,
    Report,
    Resource,
    Settings,
    get,
    has_unknown,
    is_unknown,
    parse_json,
    policies_of,
    region_of,
    stack_policy,
)
from deploy_versions import db_key

SOURCE = "https://github.com/aws-cloudformation/cfn-lint"
#: cfn-lint warnings that are API rejections for new resources, so mandatory here.
MANDATORY_WARNINGS = frozenset({"W3691", "W3690"})
#: Checks that are about template completeness, not AWS constraints (the translation is partial on purpose).
IGNORED = frozenset({"E3003", "E1001"})
DEFAULT_REGION = "us-east-1"

Spec = tuple[str, str, str]  # (pulumi input path, CloudFormation property path, config key or hint)


@dataclass
class Translated:
    resource: Resource
    cfn_type: str
    properties: dict[str, Any]
    keys: dict[str, str]  # CloudFormation property path -> config key to change
    notes: list[str] = field(default_factory=list)


def _put(target: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node = target
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


def _integral(value: Any) -> Any:
    """Wire numbers arrive as doubles (protobuf ``Struct``); CloudFormation integers must not read ``20.0``."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_integral(v) for v in value]
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    return value


def _map(resource: Resource, cfn_type: str, specs: list[Spec],
         extra: Callable[[Resource, Translated], None] | None = None) -> Translated:
    out = Translated(resource, cfn_type, {}, {})
    for source, target, key in specs:
        value = get(resource.props, source)
        if value is None:
            continue
        if is_unknown(value) or has_unknown(value):
            out.notes.append(f"{resource.name}: {source} is unknown during preview; not checked by cfn-lint")
            continue
        _put(out.properties, target, _integral(value))
        out.keys.setdefault(target, key)
    if extra is not None:
        extra(resource, out)
    return out


def _rds(r: Resource) -> Translated:
    k = db_key(r)
    specs: list[Spec] = [
        ("identifier", "DBInstanceIdentifier", f"{k} (the identifier)"), ("engine", "Engine", f"{k}.engine"),
        ("engineVersion", "EngineVersion", f"{k}.engineVersion"),
        ("instanceClass", "DBInstanceClass", f"{k}.instanceClass"),
        ("allocatedStorage", "AllocatedStorage", f"{k}.allocatedStorageGib"),
        ("maxAllocatedStorage", "MaxAllocatedStorage", f"{k}.maxAllocatedStorageGib"),
        ("storageType", "StorageType", f"{k}.storageType"), ("iops", "Iops", f"{k}.iops"),
        ("storageEncrypted", "StorageEncrypted", "components/database.py"),
        ("kmsKeyId", "KmsKeyId", "components/database.py"),
        ("multiAz", "MultiAZ", f"{k}.multiAz"),
        ("backupRetentionPeriod", "BackupRetentionPeriod", f"{k}.backupRetentionDays"),
        ("backupWindow", "PreferredBackupWindow", f"{k}.backupWindow"),
        ("maintenanceWindow", "PreferredMaintenanceWindow", f"{k}.maintenanceWindow"),
        ("publiclyAccessible", "PubliclyAccessible", "components/database.py"),
        ("replicateSourceDb", "SourceDBInstanceIdentifier", f"{k}.replicas"),
        ("manageMasterUserPassword", "ManageMasterUserPassword", "components/database.py"),
        ("performanceInsightsEnabled", "EnablePerformanceInsights", "components/database.py"),
        ("performanceInsightsRetentionPeriod", "PerformanceInsightsRetentionPeriod", "components/database.py"),
        ("monitoringInterval", "MonitoringInterval", f"{k}.monitoringIntervalSeconds"),
        ("enabledCloudwatchLogsExports", "EnableCloudwatchLogsExports", "components/database.py"),
        ("caCertIdentifier", "CACertificateIdentifier", "components/database.py"),
        ("deletionProtection", "DeletionProtection", "protection.deletionProtection"),
        ("autoMinorVersionUpgrade", "AutoMinorVersionUpgrade", f"{k}.autoMinorVersionUpgrade"),
        ("iamDatabaseAuthenticationEnabled", "EnableIAMDatabaseAuthentication", "components/database.py"),
        ("copyTagsToSnapshot", "CopyTagsToSnapshot", "components/database.py"),
        ("port", "Port", "components/database.py"), ("dbName", "DBName", "components/database.py"),
    ]

    def bare_major(_: Resource, out: Translated) -> None:
        version = out.properties.get("EngineVersion")
        if isinstance(version, str) and "." not in version:
            del out.properties["EngineVersion"]
            out.notes.append(f"{r.name}: EngineVersion {version!r} is a bare major; cfn-lint lists minors only "
                             "(judged by rds-engine-version-supported)")
        if "SourceDBInstanceIdentifier" in out.properties and out.properties.pop("StorageEncrypted", None) is not None:
            out.notes.append(f"{r.name}: StorageEncrypted left out: a replica inherits it and the provider does not "
                             "send it to CreateDBInstanceReadReplica")
        for prop in ("AllocatedStorage", "Port"):
            if prop in out.properties:
                out.properties[prop] = str(out.properties[prop])

    return _map(r, "AWS::RDS::DBInstance", specs, bare_major)


def _eks(r: Resource) -> Translated:
    specs: list[Spec] = [
        ("name", "Name", "the cluster name (components/eks/control_plane.py)"), ("version", "Version", "eks.version"),
        ("roleArn", "RoleArn", "components/eks/control_plane.py"),
        ("vpcConfig.subnetIds", "ResourcesVpcConfig.SubnetIds", "network"),
        ("vpcConfig.securityGroupIds", "ResourcesVpcConfig.SecurityGroupIds", "components/eks/control_plane.py"),
        ("vpcConfig.endpointPublicAccess", "ResourcesVpcConfig.EndpointPublicAccess", "eks.endpointPublicAccess"),
        ("vpcConfig.endpointPrivateAccess", "ResourcesVpcConfig.EndpointPrivateAccess",
         "components/eks/control_plane.py"),
        ("vpcConfig.publicAccessCidrs", "ResourcesVpcConfig.PublicAccessCidrs", "eks.publicAccessCidrs"),
        ("accessConfig.authenticationMode", "AccessConfig.AuthenticationMode", "components/eks/control_plane.py"),
        ("accessConfig.bootstrapClusterCreatorAdminPermissions",
         "AccessConfig.BootstrapClusterCreatorAdminPermissions", "components/eks/control_plane.py"),
        ("upgradePolicy.supportType", "UpgradePolicy.SupportType", "eks.upgradePolicy"),
        ("bootstrapSelfManagedAddons", "BootstrapSelfManagedAddons", "components/eks/control_plane.py"),
    ]

    def nested(_: Resource, out: Translated) -> None:
        logs = r.get("enabledClusterLogTypes")
        if isinstance(logs, list) and not has_unknown(logs):
            _put(out.properties, "Logging.ClusterLogging.EnabledTypes", [{"Type": t} for t in logs])
            out.keys.setdefault("Logging.ClusterLogging.EnabledTypes", "components/eks/control_plane.py")
        enc = r.get("encryptionConfig")
        if isinstance(enc, dict) and not has_unknown(enc):
            out.properties["EncryptionConfig"] = [{"Provider": {"KeyArn": get(enc, "provider.keyArn")},
                                                   "Resources": enc.get("resources", [])}]
            out.keys.setdefault("EncryptionConfig", "components/eks/control_plane.py")  # the whole list

    return _map(r, "AWS::EKS::Cluster", specs, nested)


def _msk(r: Resource) -> Translated:
    specs: list[Spec] = [
        ("clusterName", "ClusterName", "components/streaming.py"),
        ("kafkaVersion", "KafkaVersion", "streaming.kafkaVersion"),
        ("numberOfBrokerNodes", "NumberOfBrokerNodes", "streaming.brokerCount"),
        ("brokerNodeGroupInfo.clientSubnets", "BrokerNodeGroupInfo.ClientSubnets", "network"),
        ("brokerNodeGroupInfo.instanceType", "BrokerNodeGroupInfo.InstanceType", "streaming.instanceType"),
        ("brokerNodeGroupInfo.securityGroups", "BrokerNodeGroupInfo.SecurityGroups", "components/streaming.py"),
        ("brokerNodeGroupInfo.storageInfo.ebsStorageInfo.volumeSize",
         "BrokerNodeGroupInfo.StorageInfo.EBSStorageInfo.VolumeSize", "streaming.ebsVolumeGib"),
        ("encryptionInfo.encryptionAtRestKmsKeyArn", "EncryptionInfo.EncryptionAtRest.DataVolumeKMSKeyId",
         "components/streaming.py"),
        ("encryptionInfo.encryptionInTransit.clientBroker", "EncryptionInfo.EncryptionInTransit.ClientBroker",
         "components/streaming.py"),
        ("encryptionInfo.encryptionInTransit.inCluster", "EncryptionInfo.EncryptionInTransit.InCluster",
         "components/streaming.py"),
        ("enhancedMonitoring", "EnhancedMonitoring", "streaming.enhancedMonitoring"),
        ("configurationInfo.arn", "ConfigurationInfo.Arn", "components/streaming.py"),
        ("configurationInfo.revision", "ConfigurationInfo.Revision", "components/streaming.py"),
    ]
    return _map(r, "AWS::MSK::Cluster", specs)


def _cache(r: Resource) -> Translated:
    specs: list[Spec] = [
        ("replicationGroupId", "ReplicationGroupId", "components/cache.py"),
        ("description", "ReplicationGroupDescription", "components/cache.py"), ("engine", "Engine", "cache.engine"),
        ("engineVersion", "EngineVersion", "cache.engineVersion"), ("nodeType", "CacheNodeType", "cache.nodeType"),
        ("numNodeGroups", "NumNodeGroups", "cache.shards"), ("replicasPerNodeGroup", "ReplicasPerNodeGroup",
                                                            "cache.replicasPerShard"),
        ("automaticFailoverEnabled", "AutomaticFailoverEnabled", "cache.multiAz"),
        ("multiAzEnabled", "MultiAZEnabled", "cache.multiAz"),
        ("atRestEncryptionEnabled", "AtRestEncryptionEnabled", "components/cache.py"),
        ("transitEncryptionEnabled", "TransitEncryptionEnabled", "components/cache.py"),
        ("kmsKeyId", "KmsKeyId", "components/cache.py"),
        ("snapshotRetentionLimit", "SnapshotRetentionLimit", "cache.snapshotRetentionDays"),
        ("snapshotWindow", "SnapshotWindow", "cache.snapshotWindow"),
        ("maintenanceWindow", "PreferredMaintenanceWindow", "cache.maintenanceWindow"),
        ("port", "Port", "components/cache.py"),
        ("parameterGroupName", "CacheParameterGroupName", "components/cache.py"),
        ("subnetGroupName", "CacheSubnetGroupName", "components/cache.py"),
        ("securityGroupIds", "SecurityGroupIds", "components/cache.py"),
        ("clusterMode", "ClusterMode", "cache.clusterMode"),
        ("autoMinorVersionUpgrade", "AutoMinorVersionUpgrade", "components/cache.py"),
    ]
    return _map(r, "AWS::ElastiCache::ReplicationGroup", specs)


def _bucket(r: Resource) -> Translated:
    return _map(r, "AWS::S3::Bucket", [("bucket", "BucketName", "components/storage.py"),
                                       ("objectLockEnabled", "ObjectLockEnabled", "storage.auditObjectLock")])


def _key(r: Resource) -> Translated:
    specs: list[Spec] = [
        ("description", "Description", "components/encryption.py"),
        ("enableKeyRotation", "EnableKeyRotation", "components/encryption.py"),
        ("rotationPeriodInDays", "RotationPeriodInDays", "encryption.rotationPeriodDays"),
        ("deletionWindowInDays", "PendingWindowInDays", "encryption.deletionWindowDays"),
        ("customerMasterKeySpec", "KeySpec", "components/encryption.py"),
        ("keyUsage", "KeyUsage", "components/encryption.py"),
        ("multiRegion", "MultiRegion", "components/encryption.py"),
    ]

    def policy(_: Resource, out: Translated) -> None:
        document = r.get("policy")
        if is_unknown(document):
            out.notes.append(f"{r.name}: policy is unknown during preview; not checked by cfn-lint")
        elif (parsed := parse_json(document)) is not None:
            out.properties["KeyPolicy"] = parsed
            out.keys["KeyPolicy"] = "encryption.keyAdminArns (components/encryption.py)"

    return _map(r, "AWS::KMS::Key", specs, policy)


def _template(r: Resource) -> Translated:
    base = "LaunchTemplateData"
    specs: list[Spec] = [
        ("metadataOptions.httpEndpoint", f"{base}.MetadataOptions.HttpEndpoint", "components/eks/node_pools.py"),
        ("metadataOptions.httpTokens", f"{base}.MetadataOptions.HttpTokens", "components/eks/node_pools.py"),
        ("metadataOptions.httpPutResponseHopLimit", f"{base}.MetadataOptions.HttpPutResponseHopLimit",
         "components/eks/node_pools.py"),
        ("metadataOptions.instanceMetadataTags", f"{base}.MetadataOptions.InstanceMetadataTags",
         "components/eks/node_pools.py"),
        ("vpcSecurityGroupIds", f"{base}.SecurityGroupIds", "components/eks/node_pools.py"),
        ("monitoring.enabled", f"{base}.Monitoring.Enabled", "components/eks/node_pools.py"),
        ("imageId", f"{base}.ImageId", "components/eks/node_pools.py"),
        ("instanceType", f"{base}.InstanceType", "eks.nodePools"),
    ]

    def devices(_: Resource, out: Translated) -> None:
        mappings = r.get("blockDeviceMappings")
        if isinstance(mappings, list) and not has_unknown(mappings):
            names = {"encrypted": "Encrypted", "kmsKeyId": "KmsKeyId", "volumeSize": "VolumeSize",
                     "volumeType": "VolumeType", "deleteOnTermination": "DeleteOnTermination", "iops": "Iops",
                     "throughput": "Throughput"}
            _put(out.properties, f"{base}.BlockDeviceMappings", [
                {"DeviceName": m.get("deviceName"),
                 "Ebs": {names[k]: v for k, v in (m.get("ebs") or {}).items() if k in names}}
                for m in mappings if isinstance(m, dict)])
        out.keys.setdefault(f"{base}.BlockDeviceMappings", "components/eks/node_pools.py")

    return _map(r, "AWS::EC2::LaunchTemplate", specs, devices)


TRANSLATORS: dict[str, Callable[[Resource], Translated]] = {
    RDS_INSTANCE: _rds, EKS_CLUSTER: _eks, MSK: _msk, CACHE_RG: _cache, KMS_KEY: _key, LAUNCH_TEMPLATE: _template,
    **{t: _bucket for t in S3_BUCKETS},
}


def translate(resources: list[Resource]) -> dict[str | None, dict[str, Translated]]:
    """The core resources as CloudFormation, grouped by region (provider region), keyed by logical id."""
    by_region: dict[str | None, dict[str, Translated]] = {}
    for resource in resources:
        translator = TRANSLATORS.get(resource.type)
        if translator is None:
            continue
        group = by_region.setdefault(region_of(resource), {})
        logical = re.sub(r"[^A-Za-z0-9]", "", resource.name.title()) or "Resource"
        while logical in group:
            logical += "X"
        group[logical] = translator(resource)
    return by_region


_RULES: list[Any] = []


def _rules() -> Any:
    """cfn-lint's rule collection, built once per process (loading it takes about a second)."""
    if not _RULES:
        from cfnlint.config import ConfigMixIn
        from cfnlint.runner import Runner

        rules = Runner(ConfigMixIn(regions=[DEFAULT_REGION])).rules
        for rule_id in INDEXED:  # the indexed checks run here instead (see INDEXED); `run` relinks from `data`
            rules.data.pop(rule_id, None)
        for rule in rules.data.values():
            for child in INDEXED & set(rule.child_rules):
                rule.child_rules[child] = None
        _RULES.append(rules)
    return _RULES[0]


#: E3062 (instance class for engine and version) walks 980 if/then clauses per DBInstance, most of cfn-lint's
#: time here; the same data file is indexed once instead (``instance_class_problems``).
INDEXED = frozenset({"E3062"})


def lint(region: str | None, group: dict[str, Translated]) -> list[tuple[str, str, str, list[Any]]]:
    """(rule id, message, logical id, path) for every cfn-lint match that counts, in one template."""
    from cfnlint.config import ConfigMixIn
    from cfnlint.decode.decode import decode_str
    from cfnlint.runner import run_template_by_data

    document = {"AWSTemplateFormatVersion": "2010-09-09",
                "Resources": {lid: {"Type": t.cfn_type, "Properties": t.properties} for lid, t in group.items()}}
    template, errors = decode_str(json.dumps(document))
    if errors or template is None:
        raise RuntimeError(f"cfn-lint could not decode the translated template: {errors}")
    config = ConfigMixIn(regions=[region or DEFAULT_REGION], ignore_checks=sorted(INDEXED))
    found = instance_class_problems(group)
    for match in run_template_by_data(template, config, _rules()):
        rule = match.rule.id
        if rule in IGNORED or rule in INDEXED or not (rule.startswith("E") or rule in MANDATORY_WARNINGS):
            continue
        path = list(match.path) if getattr(match, "path", None) else []
        logical = path[1] if len(path) > 1 and path[0] == "Resources" else ""
        found.append((rule, match.message, logical, path))
    return found


@cache
def _instance_classes() -> dict[str, list[tuple[re.Pattern[str], frozenset[str]]]]:
    """cfn-lint's db_instance_class.json as engine -> [(EngineVersion pattern, allowed DBInstanceClass)]."""
    from importlib import resources as files

    import cfnlint.data.schemas.extensions.aws_rds_dbinstance as data

    document = json.loads(files.files(data).joinpath("db_instance_class.json").read_text())
    index: dict[str, list[tuple[re.Pattern[str], frozenset[str]]]] = {}
    for clause in document["allOf"]:
        props = clause["if"]["properties"]
        allowed = clause["then"]["properties"]["DBInstanceClass"]["enum"]
        index.setdefault(props["Engine"]["const"], []).append(
            (re.compile(props["EngineVersion"]["pattern"]), frozenset(allowed)))
    return index


def instance_class_problems(group: dict[str, Translated]) -> list[tuple[str, str, str, list[Any]]]:
    """E3062, from cfn-lint's own data: the DBInstanceClass must be offered for the Engine and EngineVersion."""
    found = []
    for logical, t in group.items():
        engine, version, cls = (t.properties.get(k) for k in ("Engine", "EngineVersion", "DBInstanceClass"))
        if t.cfn_type != "AWS::RDS::DBInstance" or not all(isinstance(v, str) for v in (engine, version, cls)):
            continue
        for pattern, allowed in _instance_classes().get(engine.lower(), []):
            if pattern.search(version) and cls not in allowed:
                found.append(("E3062", f"{cls!r} is not one of the instance classes RDS offers for {engine} {version}",
                              logical, ["Resources", logical, "Properties", "DBInstanceClass"]))
                break
    return found


@stack_policy(
    "cfn-lint-cross-check", concern="crosscheck", source=SOURCE,
    types=tuple(TRANSLATORS),
    description="Core resources' properties pass cfn-lint (AWS resource schemas, RDS engine versions) in their region.",
)
def cfn_lint_cross_check(resources: list[Resource], report: Report, _: Settings) -> None:
    try:
        groups = translate(resources)
        results = [(group, lint(region, group)) for region, group in sorted(groups.items(), key=lambda g: str(g[0]))]
    except Exception as exc:  # noqa: BLE001 - any failure to run the cross-check is a failure, never a pass
        report(f"cfn-lint could not run, so the deploy-stage cross-check failed closed: {type(exc).__name__}: {exc}")
        return
    for group, matches in results:
        for rule, message, logical, path in matches:
            translated = group.get(logical)
            if translated is None:
                report(f"cfn-lint {rule}: {message}")
                continue
            where = ".".join(str(p) for p in path[3:]) if len(path) > 3 and path[2] == "Properties" else ""
            if rule in MANDATORY_WARNINGS:
                where = "EngineVersion"
            key = _key_for(translated, where)
            report(f"cfn-lint {rule} on {translated.cfn_type} {where}: {_short(message)}. {_change(key)}",
                   translated.resource.urn)


_LONG_LIST = re.compile(r"\[('[^']*'(, )?){8,}\]")


def _short(message: str) -> str:
    """cfn-lint lists every allowed value (hundreds of instance classes); keep one line readable."""
    return _LONG_LIST.sub(lambda m: f"the {m.group(0).count(chr(39)) // 2} allowed values", message)


def _key_for(translated: Translated, where: str) -> str:
    """The config key of the mapped property that contains the reported path (or that it contains)."""
    if where:
        enclosing = [k for k in translated.keys if where == k or where.startswith(k + ".")]
        if enclosing:
            return translated.keys[max(enclosing, key=len)]
        inside = [k for k in translated.keys if k.startswith(where + ".")]
        if inside:
            return translated.keys[inside[0]]
    return "the resource's inputs (components/)"


def _change(key: str) -> str:
    if key.startswith(("components/", "the ", "network")):
        return f"Change {key}."
    return f"Set {key} in Pulumi.<stack>.yaml."


POLICIES = policies_of(__name__)
