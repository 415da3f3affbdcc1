"""Create-before-use: resources AWS rejects, or silently skips, unless what they need exists first, and
physical names that collide when Pulumi replaces a resource (create-before-delete is its default).

Dependencies are read as the engine gives them to ``AnalyzeStack``: each resource's ``dependencies`` and
``propertyDependencies`` (a resource that only *names* another by a string has no edge, and Pulumi may
create both at once).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from deploy_common import (
    BACKUP_PLAN,
    BACKUP_REGION_SETTINGS,
    BACKUP_SELECTION,
    CACHE_PARAMETER_GROUP,
    CACHE_RG,
    K8S_STORAGE_CLASS,
    KMS_KEY,
    KMS_KEY_POLICY,
    MSK_CONFIGURATION,
    RDS_CLUSTER_PARAMETER_GROUP,
    RDS_INSTANCE,
    RDS_PARAMETER_GROUP,
    S3_BUCKETS,
    S3_REPLICATION,
    S3_VERSIONING,
    SERVICE_LINKED_ROLE,
    Report,
    Resource,
    Settings,
    as_list,
    has_unknown,
    is_true,
    is_unknown,
    of_type,
    parse_json,
    policies_of,
    region_of,
    stack_policy,
)

S3_REPLICATION_SOURCE = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-requirements.html"
SLR_SOURCE = "https://docs.aws.amazon.com/autoscaling/ec2/userguide/key-policy-requirements-EBS-encryption.html"
BACKUP_OPT_IN_SOURCE = "https://docs.aws.amazon.com/aws-backup/latest/devguide/service-opt-in.html"
#: Issue #8 item 7 asks for the opt-in "in both regions": the selection's and its plan's copy destination.
NAMING_SOURCE = "https://www.pulumi.com/docs/iac/concepts/resources/names/#autonaming"


def _linked(user: Resource, other: Resource) -> bool:
    """Whether the engine orders ``user`` after ``other`` (a dependency or a property dependency)."""
    return other.urn in user.dependencies or any(other.urn in urns for urns in user.property_dependencies.values())


def _bucket_named(resources: list[Resource], value: Any) -> Resource | None:
    if not isinstance(value, str) or not value:
        return None
    name = value.split(":::", 1)[-1]
    return next((b for b in of_type(resources, *S3_BUCKETS) if b.get("bucket") == name), None)


def _versioning_of(resources: list[Resource], bucket: Resource) -> list[Resource]:
    return [v for v in of_type(resources, *S3_VERSIONING)
            if v.get("bucket") == bucket.get("bucket") or bucket.urn in v.property_dependencies.get("bucket", [])]


@stack_policy(
    "s3-replication-after-versioning", concern="ordering", source=S3_REPLICATION_SOURCE,
    types=(S3_REPLICATION, *S3_VERSIONING),
    description="An S3 replication configuration depends on the source's and every destination's BucketVersioning.",
)
def s3_replication_after_versioning(resources: list[Resource], report: Report, _: Settings) -> None:
    for config in of_type(resources, S3_REPLICATION):
        ends: list[tuple[str, Any]] = [("source", config.get("bucket"))]
        rules = as_list(config.get("rules"))
        if is_unknown(rules):
            continue
        ends += [("destination", (rule or {}).get("destination", {}).get("bucket")) for rule in rules]
        for role, value in ends:
            bucket = _bucket_named(resources, value)
            if bucket is None:
                continue  # unknown, or a bucket outside this stack
            versionings = _versioning_of(resources, bucket)
            if not versionings:
                report(f"replicates {role} bucket {bucket.get('bucket')}, which has no BucketVersioning in the stack: "
                       "S3 rejects replication unless both buckets have versioning enabled. Keep "
                       "storage.replicateToDr only with versioned buckets (SecureBucket).", config.urn)
            elif not any(_linked(config, v) for v in versionings):
                report(f"does not depend on the {role} bucket's BucketVersioning ({versionings[0].name}): Pulumi may "
                       "create it first and S3 rejects replication before versioning is enabled. Add "
                       f"depends_on=[{versionings[0].name}] (components/storage.py).", config.urn)


_SLR = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/aws-service-role/([^/]+)/([^\"/]+)")


def _service_linked_roles(document: Any) -> Iterator[tuple[str, str]]:
    """(service, role name) for every service-linked role a policy document names as a principal."""
    for statement in as_list((document or {}).get("Statement")):
        principal = (statement or {}).get("Principal") if isinstance(statement, dict) else None
        names = principal.get("AWS") if isinstance(principal, dict) else principal
        for arn in as_list(names) if not is_unknown(names) else []:
            match = _SLR.match(arn) if isinstance(arn, str) else None
            if match:
                yield match.group(1), match.group(2)


@stack_policy(
    "kms-key-service-linked-role-first", concern="ordering", source=SLR_SOURCE,
    types=(KMS_KEY, KMS_KEY_POLICY, SERVICE_LINKED_ROLE),
    description="A key policy naming a service-linked role depends on a ServiceLinkedRole resource for it.",
)
def kms_key_service_linked_role_first(resources: list[Resource], report: Report, _: Settings) -> None:
    roles = list(of_type(resources, SERVICE_LINKED_ROLE))
    for key in of_type(resources, KMS_KEY, KMS_KEY_POLICY):
        document = parse_json(key.get("policy"))
        for service, role in sorted(set(_service_linked_roles(document))):
            owners = [r for r in roles if r.get("awsServiceName") == service]
            if not owners:
                report(f"its key policy names {role} ({service}), but the stack has no aws.iam.ServiceLinkedRole for "
                       f"{service}: in a fresh account the role does not exist yet and KMS rejects the policy "
                       "(MalformedPolicyDocumentException). Create or adopt the role in the stack (components/"
                       "encryption.py) and make the key depend on it.", key.urn)
            elif not any(_linked(key, owner) for owner in owners):
                report(f"its key policy names {role} but the key does not depend on {owners[0].name}: Pulumi may "
                       "create the key first. Add depends_on on the ServiceLinkedRole.", key.urn)


#: AWS Backup resource types (RegionSettings' keys) of the stack's resource types that tag selections can pick.
BACKUP_TYPES: dict[str, str] = {
    RDS_INSTANCE: "RDS", "aws:rds/cluster:Cluster": "Aurora", "aws:s3/bucket:Bucket": "S3",
    "aws:s3/bucketV2:BucketV2": "S3", "aws:ebs/volume:Volume": "EBS", "aws:dynamodb/table:Table": "DynamoDB",
    "aws:efs/fileSystem:FileSystem": "EFS", "aws:ec2/instance:Instance": "EC2",
}
_ARN_TYPES = {"rds": "RDS", "s3": "S3", "ec2": "EBS", "dynamodb": "DynamoDB", "elasticfilesystem": "EFS"}


def _selected_types(selection: Resource, resources: list[Resource], region: str | None) -> set[str]:
    """The Backup resource types a selection picks in its region: by ARN and by the tags it selects on."""
    types: set[str] = set()
    for arn in as_list(selection.get("resources")) if not is_unknown(selection.get("resources")) else []:
        parts = arn.split(":") if isinstance(arn, str) else []
        if len(parts) > 2 and parts[2] in _ARN_TYPES:
            types.add(_ARN_TYPES[parts[2]])
    wanted = [(t.get("key"), t.get("value")) for t in as_list(selection.get("selectionTags"))
              if isinstance(t, dict) and t.get("type") == "STRINGEQUALS"]
    if not wanted:
        return types
    for resource in resources:
        kind = BACKUP_TYPES.get(resource.type)
        tags = resource.get("tags") if kind else None
        if isinstance(tags, dict) and region_of(resource) == region and any(tags.get(k) == v for k, v in wanted):
            types.add(kind)  # type: ignore[arg-type]
    for sc in of_type(resources, K8S_STORAGE_CLASS):  # EBS volumes the CSI driver tags for backup
        params = sc.get("parameters") or {}
        if isinstance(params, dict) and any(f"{k}={v}" in params.values() for k, v in wanted):
            types.add("EBS")
    return types


@stack_policy(
    "backup-region-opt-in", concern="ordering", source=BACKUP_OPT_IN_SOURCE,
    types=(BACKUP_SELECTION, BACKUP_REGION_SETTINGS),
    description="Every resource type a backup selection picks is opted in by a RegionSettings of that region.",
)
def backup_region_opt_in(resources: list[Resource], report: Report, _: Settings) -> None:
    settings = list(of_type(resources, BACKUP_REGION_SETTINGS))

    def opted_in(region: str | None) -> set[str]:
        opted: set[str] = set()
        for s in settings:
            prefs = s.get("resourceTypeOptInPreference") if region_of(s) == region else None
            opted |= {k for k, v in prefs.items() if is_true(v)} if isinstance(prefs, dict) else set()
        return opted

    for selection in of_type(resources, BACKUP_SELECTION):
        region = region_of(selection)
        selected = _selected_types(selection, resources, region)
        for where in [region, *sorted(_copy_regions(selection, resources) - {region})]:
            missing = sorted(selected - opted_in(where))
            if missing:
                role = "" if where == region else " (the copy destination of its plan)"
                report(f"selects {', '.join(missing)} resources, which no aws.backup.RegionSettings of "
                       f"{where or 'its region'}{role} opts in: AWS Backup silently skips resource types a region "
                       "has not opted in. Add a RegionSettings with resourceTypeOptInPreference "
                       f"{{{', '.join(f'{m}: true' for m in missing)}}} in both regions (components/backup.py).",
                       selection.urn)


def _copy_regions(selection: Resource, resources: list[Resource]) -> set[str]:
    """Regions of the vaults the selection's plan copies to (``copyActions[].destinationVaultArn``)."""
    regions: set[str] = set()
    plan_id = selection.get("planId")
    for plan in of_type(resources, BACKUP_PLAN):
        if not (plan_id in (plan.get("name"), plan.name) or plan.urn in selection.dependencies):
            continue
        for rule in as_list(plan.get("rules")) if not is_unknown(plan.get("rules")) else []:
            for action in as_list((rule or {}).get("copyActions")) if isinstance(rule, dict) else []:
                arn = (action or {}).get("destinationVaultArn") if isinstance(action, dict) else None
                parts = arn.split(":") if isinstance(arn, str) else []
                if len(parts) > 3 and parts[3]:
                    regions.add(parts[3])
    return regions


#: type -> (what, the inputs whose change forces replacement and so must be part of a fixed name)
FIXED_NAME_TYPES: dict[str, tuple[str, str]] = {
    RDS_PARAMETER_GROUP: ("RDS parameter group", "family"),
    RDS_CLUSTER_PARAMETER_GROUP: ("RDS cluster parameter group", "family"),
    CACHE_PARAMETER_GROUP: ("ElastiCache parameter group", "family"),
    MSK_CONFIGURATION: ("MSK configuration", "kafkaVersions"),
}


def _name_follows(name: str, resource: Resource, prop: str) -> bool:
    """Whether the fixed name carries every value of ``prop`` (dots may be written as dashes)."""
    values = resource.get(prop)
    values = [values] if isinstance(values, str) else values
    if not isinstance(values, list) or not values or has_unknown(values):
        return False
    return all(isinstance(v, str) and (v in name or v.replace(".", "-") in name) for v in values)


@stack_policy(
    "replaceable-physical-names", concern="naming", source=NAMING_SOURCE, types=tuple(FIXED_NAME_TYPES),
    description="Parameter groups and MSK configurations can be replaced: namePrefix, a name that follows the "
                "replacement trigger (family, Kafka versions), or deleteBeforeReplace.",
)
def replaceable_physical_names(resources: list[Resource], report: Report, _: Settings) -> None:
    users = list(of_type(resources, RDS_INSTANCE, CACHE_RG))
    for resource in of_type(resources, *FIXED_NAME_TYPES):
        what, trigger = FIXED_NAME_TYPES[resource.type]
        name = resource.get("name")
        if (not isinstance(name, str) or not name or resource.get("namePrefix")
                or getattr(resource, "delete_before_replace", False) or _name_follows(name, resource, trigger)):
            continue
        fix = "namePrefix, or " if resource.type in (RDS_PARAMETER_GROUP, RDS_CLUSTER_PARAMETER_GROUP) else ""
        in_use = [u.name for u in users if u.get("parameterGroupName") == name]
        report(f"{what} has the fixed name {name!r}: a change of {trigger} forces a replacement, which creates the "
               f"new one before deleting the old, and AWS rejects the duplicate name"
               f"{' while ' + ', '.join(in_use) + ' reference it' if in_use else ''}. Use {fix}a name that carries "
               f"the {trigger} (components/).", resource.urn)


POLICIES = policies_of(__name__)
