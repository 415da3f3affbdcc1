"""What every deploy-stage module shares: its own registry, the policy constructors and the catalogue.

The deploy pack is a second CrossGuard pack beside the HIPAA pack in ``policies/``. The engine runs it
with ``policies/deploy/`` as its working directory and first ``sys.path`` entry, so its modules import
by bare name, prefixed ``deploy_`` so that they never shadow a HIPAA module when the tests import both.

Wire-value helpers (``plain``, ``get``, ``UNKNOWN``, the ``Resource`` view and the resource-type
constants) are the HIPAA pack's: ``policies/common.py`` is imported from the parent directory, which is
appended (not prepended) to ``sys.path``. Both packs live in one repository and are run from local paths
(``--policy-pack policies --policy-pack policies/deploy``), so the parent is always there; publishing the
deploy pack on its own (``pulumi policy publish``) would need ``common.py`` copied in. The HIPAA
registry is not shared: importing ``common`` registers nothing, and this module keeps its own
``REGISTRY`` so neither pack's README table or tests see the other's policies.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:
    sys.path.append(str(HERE.parent))

import yaml  # noqa: E402
from common import (  # noqa: E402,F401  (re-exported for the deploy modules)
    UNKNOWN,
    Resource,
    as_int,
    as_list,
    get,
    has_unknown,
    is_false,
    is_true,
    is_unknown,
    of_type,
    parse_json,
    plain,
)
from pulumi_policy import (  # noqa: E402
    EnforcementLevel,
    PolicyConfigSchema,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

#: The deploy stage's concerns, in the order the README table lists them.
CONCERNS: tuple[str, ...] = ("versions", "credentials", "ordering", "naming", "reachability", "access",
                             "kubernetes", "schedules", "limits", "crosscheck")

CATALOGUE_PATH = HERE / "lifecycle.yaml"

Report = Callable[..., None]
Settings = Mapping[str, Any]


@dataclass(frozen=True)
class DeployPolicyInfo:
    name: str
    concern: str
    source: str
    description: str
    kind: str  # "resource" or "stack"
    module: str
    resource_types: tuple[str, ...]
    config: Mapping[str, Mapping[str, Any]]
    level: str  # the pack's default enforcement level
    policy: ResourceValidationPolicy | StackValidationPolicy = field(compare=False, repr=False)


#: Every deploy-stage policy, by name, in registration order.
REGISTRY: dict[str, DeployPolicyInfo] = {}

#: The run's date: ``asOf`` (YYYY-MM-DD) in the pack config, else today's UTC date. Tests inject it.
AS_OF = {"asOf": {"type": "string", "default": "", "pattern": r"^(\d{4}-\d{2}-\d{2})?$",
                  "description": "The date the lifecycle is judged on (YYYY-MM-DD); empty means today (UTC)."}}


def as_of(settings: Settings) -> dt.date:
    given = settings.get("asOf") or ""
    return dt.date.fromisoformat(given) if given else dt.datetime.now(dt.UTC).date()


def _check(name: str, concern: str, source: str) -> None:
    if name in REGISTRY:
        raise ValueError(f"deploy policy {name!r} is registered twice")
    if concern not in CONCERNS:
        raise ValueError(f"deploy policy {name!r}: unknown concern {concern!r}")
    if not source.startswith("https://"):
        raise ValueError(f"deploy policy {name!r}: its source must be a URL")


def _settings(config: Mapping[str, Mapping[str, Any]], given: Mapping[str, Any] | None) -> dict[str, Any]:
    merged = {key: schema.get("default") for key, schema in config.items()}
    merged.update({k: v for k, v in (given or {}).items() if k in merged and v is not None})
    return merged


def _level(level: str) -> EnforcementLevel:
    return EnforcementLevel.ADVISORY if level == "advisory" else EnforcementLevel.MANDATORY


@dataclass
class DeployResource(Resource):
    """The HIPAA pack's resource view plus the option the deploy stage needs (sent by the engine)."""

    delete_before_replace: bool = False


def _stack_resources(args: StackValidationArgs) -> list[Resource]:
    return [
        DeployResource(
            type=r.resource_type, props=plain(r.props), name=r.name, urn=r.urn,
            protect=bool(getattr(r.opts, "protect", False)),
            provider_props=(plain(r.provider.props) or {}) if r.provider is not None else {},
            parent=r.parent.urn if r.parent is not None else getattr(r.opts, "parent", None),
            dependencies=[d.urn for d in r.dependencies],
            property_dependencies={k: [d.urn for d in v] for k, v in r.property_dependencies.items()},
            delete_before_replace=bool(getattr(r.opts, "delete_before_replace", False)),
        )
        for r in args.resources
    ]


def stack_policy(name: str, *, concern: str, source: str, description: str, types: Iterable[str] = (),
                 config: Mapping[str, Mapping[str, Any]] | None = None, level: str = "mandatory",
                 ) -> Callable[[Callable[[list[Resource], Report, Settings], None]], StackValidationPolicy]:
    """Register ``body(resources, report, settings)`` as a stack policy (``report(message, urn)``)."""
    _check(name, concern, source)
    config = dict(config or {})

    def decorate(body: Callable[[list[Resource], Report, Settings], None]) -> StackValidationPolicy:
        def validate(args: StackValidationArgs, report_violation: Report) -> None:
            body(_stack_resources(args), report_violation, _settings(config, args.get_config()))

        policy = StackValidationPolicy(
            name=name, description=description, validate=validate, enforcement_level=_level(level),
            config_schema=PolicyConfigSchema(properties={k: dict(v) for k, v in config.items()}) if config else None)
        REGISTRY[name] = DeployPolicyInfo(name, concern, source, description, "stack", body.__module__,
                                          tuple(types), config, level, policy)
        return policy

    return decorate


def resource_policy(name: str, *, concern: str, source: str, description: str, types: Iterable[str],
                    config: Mapping[str, Mapping[str, Any]] | None = None,
                    ) -> Callable[[Callable[[Resource, Report, Settings], None]], ResourceValidationPolicy]:
    """Register ``body(resource, report, settings)`` as a resource policy for the given types."""
    _check(name, concern, source)
    type_set = tuple(types)
    config = dict(config or {})

    def decorate(body: Callable[[Resource, Report, Settings], None]) -> ResourceValidationPolicy:
        def validate(args: ResourceValidationArgs, report_violation: Report) -> None:
            if args.resource_type not in type_set:
                return
            provider = plain(args.provider.props) if args.provider is not None else {}
            resource = Resource(type=args.resource_type, props=plain(args.props), name=args.name, urn=args.urn,
                                provider_props=provider or {})
            body(resource, report_violation, _settings(config, args.get_config()))

        policy = ResourceValidationPolicy(
            name=name, description=description, validate=validate, enforcement_level=EnforcementLevel.MANDATORY,
            config_schema=PolicyConfigSchema(properties={k: dict(v) for k, v in config.items()}) if config else None)
        REGISTRY[name] = DeployPolicyInfo(name, concern, source, description, "resource", body.__module__,
                                          type_set, config, "mandatory", policy)
        return policy

    return decorate


def policies_of(module: str) -> list[ResourceValidationPolicy | StackValidationPolicy]:
    return [info.policy for info in REGISTRY.values() if info.module == module]


def load_catalogue(path: Path = CATALOGUE_PATH) -> dict[str, Any]:
    """The version lifecycle catalogue (``lifecycle.yaml``); a missing or malformed file raises."""
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or not isinstance(data.get("entries"), dict):
        raise ValueError(f"{path}: expected a mapping with `entries`")
    return data


def region_of(resource: Resource) -> str | None:
    region = resource.region
    return region if isinstance(region, str) and region else None


def minor(version: Any) -> tuple[int, ...] | None:
    """``"1.31"`` / ``"v1.31.3-eksbuild.2"`` / ``"16.4"`` as a tuple of ints; None when not a version."""
    if not isinstance(version, str):
        return None
    text = version.lstrip("v").split("-", 1)[0]
    parts = text.split(".")
    try:
        return tuple(int(p) for p in parts if p != "x")
    except ValueError:
        return None


# Resource types only the deploy stage checks (the shared ones come from common.py).
RDS_INSTANCE = "aws:rds/instance:Instance"
RDS_PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"
RDS_CLUSTER_PARAMETER_GROUP = "aws:rds/clusterParameterGroup:ClusterParameterGroup"
CACHE_RG = "aws:elasticache/replicationGroup:ReplicationGroup"
CACHE_PARAMETER_GROUP = "aws:elasticache/parameterGroup:ParameterGroup"
MSK = "aws:msk/cluster:Cluster"
MSK_CONFIGURATION = "aws:msk/configuration:Configuration"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
EKS_ADDON = "aws:eks/addon:Addon"
EKS_ACCESS_ENTRY = "aws:eks/accessEntry:AccessEntry"
EKS_ACCESS_POLICY = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
S3_BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
S3_VERSIONING = ("aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2")
S3_REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
KMS_KEY = "aws:kms/key:Key"
KMS_KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
SERVICE_LINKED_ROLE = "aws:iam/serviceLinkedRole:ServiceLinkedRole"
BACKUP_PLAN = "aws:backup/plan:Plan"
BACKUP_SELECTION = "aws:backup/selection:Selection"
BACKUP_REGION_SETTINGS = "aws:backup/regionSettings:RegionSettings"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
SG_INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
K8S_STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"
K8S_STATEFULSET = "kubernetes:apps/v1:StatefulSet"
K8S_PVC = "kubernetes:core/v1:PersistentVolumeClaim"
