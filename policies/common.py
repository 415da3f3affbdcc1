"""What every policy module shares: the registry, the policy constructors, and wire-value helpers.

Policies read resource inputs by their wire (camelCase) names, as the engine sends them. During a
preview some values are unknown; ``plain`` turns pulumi_policy's unknown-checking proxies into plain
Python values with unknowns replaced by the ``UNKNOWN`` sentinel, so a policy can skip a check it
cannot decide instead of failing the whole policy (or, worse, reporting a violation it cannot prove).

Nothing here constructs the ``PolicyPack``: that happens only in ``__main__.py``, so the modules can
be imported by the tests without starting the analyzer's gRPC server.
"""

from __future__ import annotations

import functools
import inspect
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

try:  # policy metadata (severity, compliance framework) arrived after pulumi-policy 1.13
    from pulumi_policy import PolicyComplianceFramework, Severity
except ImportError:  # pragma: no cover - the pinned dev environment has them
    PolicyComplianceFramework = Severity = None  # type: ignore[assignment,misc]
from pulumi_policy.proxy import _DictProxy, _is_unknown, _ListProxy

#: The concerns, in the order the README and the compliance report list them.
CONCERNS: tuple[str, ...] = (
    "encryption", "transit", "availability", "backup", "exposure", "logging", "kubernetes", "tags",
)

#: HIPAA Security Rule (45 CFR Part 164, Subpart C) sections the policies cite.
HIPAA_SECTIONS: dict[str, str] = {
    "164.308(a)(1)(ii)(D)": "Information system activity review",
    "164.308(a)(7)(ii)(A)": "Contingency plan: data backup plan",
    "164.308(a)(7)(ii)(B)": "Contingency plan: disaster recovery plan",
    "164.308(a)(7)(ii)(C)": "Contingency plan: emergency mode operation plan",
    "164.310(d)(2)(iii)": "Device and media controls: accountability",
    "164.312(a)(1)": "Access control",
    "164.312(a)(2)(iv)": "Access control: encryption and decryption",
    "164.312(b)": "Audit controls",
    "164.312(c)(1)": "Integrity",
    "164.312(e)(1)": "Transmission security",
    "164.312(e)(2)(ii)": "Transmission security: encryption",
}

#: The tag keys every taggable AWS resource carries (kept equal to components.common.STANDARD_TAG_KEYS).
STANDARD_TAG_KEYS: tuple[str, ...] = (
    "Project", "Environment", "Owner", "CostCenter", "DataClassification", "ManagedBy",
)

_FRAMEWORK = "HIPAA Security Rule"
_FRAMEWORK_VERSION = "45 CFR Part 164 Subpart C"


class _Unknown:
    """A value the engine cannot know during preview (an output of a resource not yet created).

    It propagates instead of failing: ``UNKNOWN.get(k)`` and ``UNKNOWN[k]`` are ``UNKNOWN``, it iterates
    as empty and is truthy, so ``(value or {}).get(k)`` stays unknown and no check reports on it.
    Policies test ``is_unknown(value)`` before deciding.
    """

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        return True

    def get(self, _key: Any, _default: Any = None) -> Any:
        return self

    def __getitem__(self, _key: Any) -> Any:
        return self

    def __iter__(self) -> Iterator[Any]:
        return iter(())

    def __contains__(self, _item: Any) -> bool:
        return False

    def items(self) -> Iterator[Any]:
        return iter(())

    def values(self) -> Iterator[Any]:
        return iter(())


UNKNOWN: Any = _Unknown()


def is_unknown(value: Any) -> bool:
    return value is UNKNOWN


def plain(value: Any) -> Any:
    """Unwrap pulumi_policy's proxies recursively; unknown sentinels become ``UNKNOWN``."""
    if isinstance(value, (_DictProxy, _ListProxy)):
        value = value["__target"]
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if _is_unknown(value):
        return UNKNOWN
    return value


def get(props: Any, path: str, default: Any = None) -> Any:
    """``props["a"]["b"]`` for ``path="a.b"``: ``UNKNOWN`` if any step is unknown, ``default`` if absent."""
    current = props
    for part in path.split("."):
        if current is UNKNOWN:
            return UNKNOWN
        if not isinstance(current, Mapping) or part not in current or current[part] is None:
            return default
        current = current[part]
    return current


def as_list(value: Any) -> list[Any]:
    """A wire list (absent -> empty). An unknown list stays ``UNKNOWN``: callers must check first."""
    if value is None:
        return []
    if value is UNKNOWN:
        return UNKNOWN
    if isinstance(value, list):
        return value
    return [value]


def is_true(value: Any) -> bool:
    """Known to be true (the SDKs send some booleans as strings, e.g. EBS ``encrypted``)."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


def is_false(value: Any) -> bool:
    """Known to be false (an explicit ``false``, not an absent or unknown value)."""
    return value is False or (isinstance(value, str) and value.lower() == "false")


def as_int(value: Any) -> int | None:
    """A known number as int; None when absent, unknown or not a number."""
    if value is None or value is UNKNOWN or isinstance(value, bool):
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def parse_json(document: Any) -> Any:
    """A policy document given as a JSON string or an object; None when unknown or unparseable."""
    if document is None or document is UNKNOWN:
        return None
    if isinstance(document, Mapping):
        return document
    if isinstance(document, str):
        try:
            return json.loads(document)
        except ValueError:
            return None
    return None


def has_unknown(value: Any) -> bool:
    if value is UNKNOWN:
        return True
    if isinstance(value, Mapping):
        return any(has_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(has_unknown(v) for v in value)
    return False


_AWS_MANAGED_KEY = re.compile(r"(^|:)alias/aws/")


def is_customer_managed_key(value: Any) -> bool:
    """A KMS key reference that is not an AWS-managed key alias (``alias/aws/<service>``)."""
    return isinstance(value, str) and value != "" and not _AWS_MANAGED_KEY.search(value)


# ---------------------------------------------------------------------------------------------
# The views a policy body gets.


@dataclass
class Resource:
    """One resource as a policy sees it: its type, plain wire inputs, name, URN and options."""

    type: str
    props: dict[str, Any]
    name: str
    urn: str
    protect: bool = False
    provider_props: dict[str, Any] = field(default_factory=dict)
    parent: str | None = None
    dependencies: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)

    def get(self, path: str, default: Any = None) -> Any:
        return get(self.props, path, default)

    @property
    def region(self) -> Any:
        """The region of the resource's provider (None if the provider is not known)."""
        return get(self.provider_props, "region")

    def depends_on(self, other: Resource, prop: str | None = None) -> bool:
        """Whether this resource's input ``prop`` (or, without property dependencies, any input) uses ``other``."""
        if prop is not None and self.property_dependencies:
            return other.urn in self.property_dependencies.get(prop, [])
        return other.urn in self.dependencies or any(
            other.urn in urns for urns in self.property_dependencies.values())

    def refers_to(self, other: Resource, prop: str) -> bool:
        """Whether input ``prop`` names ``other``.

        The engine's property dependencies decide when they are present. Otherwise a known value is
        compared with ``other``'s id, name or ARN (an ARN ending in ``:name`` or ``/name`` matches), and
        only when that cannot decide (the value or ``other``'s names are unknown) do the resource's
        dependencies: a resource that depends on two buckets must not count as a companion of both.
        """
        if self.property_dependencies:
            return other.urn in self.property_dependencies.get(prop, [])
        value = self.get(prop)
        names = other.identities()
        if isinstance(value, str) and value and names:
            return any(value == n or value.endswith((f":{n}", f"/{n}")) for n in names)
        return other.urn in self.dependencies

    def identities(self) -> set[str]:
        """The values another resource may use to name this one (id, ARN, name) where the inputs carry them."""
        names: set[str] = set()
        for key in ("id", "arn", "bucket", "name", "identifier", "keyId", "clusterName"):
            value = self.get(key)
            if isinstance(value, str) and value:
                names.add(value)
        return names


Report = Callable[..., None]
Settings = Mapping[str, Any]
ResourceBody = Callable[[Resource, Report, Settings], None]
StackBody = Callable[[list[Resource], Report, Settings], None]


@dataclass(frozen=True)
class PolicyInfo:
    """The registry entry of one policy: what the README table and the compliance report are built from."""

    name: str
    concern: str
    citation: str
    description: str
    kind: str  # "resource" or "stack"
    module: str
    resource_types: tuple[str, ...]
    config: Mapping[str, Mapping[str, Any]]
    policy: ResourceValidationPolicy | StackValidationPolicy = field(compare=False, repr=False)

    @property
    def safeguard(self) -> str:
        return HIPAA_SECTIONS[self.citation]

    @property
    def defaults(self) -> dict[str, Any]:
        return {key: schema["default"] for key, schema in self.config.items() if "default" in schema}


#: Every policy, by name, in registration order.
REGISTRY: dict[str, PolicyInfo] = {}

_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_POLICY_KWARGS = set(inspect.signature(ResourceValidationPolicy.__init__).parameters)


# pragma: no mutate start
def _metadata(concern: str, citation: str) -> dict[str, Any]:
    """severity/framework/tags where this pulumi-policy supports them (1.13 predates some)."""
    extra: dict[str, Any] = {"tags": ["hipaa", concern]}
    if Severity is not None and PolicyComplianceFramework is not None:
        extra["severity"] = Severity.HIGH if concern in ("encryption", "transit", "exposure") else Severity.MEDIUM
        extra["framework"] = PolicyComplianceFramework(name=_FRAMEWORK, version=_FRAMEWORK_VERSION,
                                                       reference=citation)
    return {k: v for k, v in extra.items() if k in _POLICY_KWARGS}


def _check_registration(name: str, concern: str, citation: str) -> None:
    if not _NAME.match(name):
        raise ValueError(f"policy name {name!r} must be kebab-case")
    if name in REGISTRY:
        raise ValueError(f"policy {name!r} is registered twice")
    if concern not in CONCERNS:
        raise ValueError(f"policy {name!r}: unknown concern {concern!r}")
    if citation not in HIPAA_SECTIONS:
        raise ValueError(f"policy {name!r}: unknown HIPAA citation {citation!r}")


# pragma: no mutate end


def _settings(config: Mapping[str, Mapping[str, Any]], given: Mapping[str, Any] | None) -> dict[str, Any]:
    merged = {key: schema.get("default") for key, schema in config.items()}
    for key, value in (given or {}).items():
        if key in merged and value is not None:
            merged[key] = value
    return merged


# pragma: no mutate start
def _schema(config: Mapping[str, Mapping[str, Any]]) -> PolicyConfigSchema | None:
    return PolicyConfigSchema(properties={k: dict(v) for k, v in config.items()}) if config else None


# pragma: no mutate end


def _resource_of(args: ResourceValidationArgs) -> Resource:
    provider = plain(args.provider.props) if args.provider is not None else {}
    return Resource(
        type=args.resource_type, props=plain(args.props), name=args.name, urn=args.urn,
        protect=bool(getattr(args.opts, "protect", False)), provider_props=provider or {},
        parent=getattr(args.opts, "parent", None),
    )


def _validate_resource(type_set: tuple[str, ...], body: ResourceBody, config: Mapping[str, Mapping[str, Any]],
                       args: ResourceValidationArgs, report_violation: Report) -> None:
    """What the engine calls per resource: the body runs only for the policy's types, with its settings."""
    if args.resource_type not in type_set:
        return
    body(_resource_of(args), report_violation, _settings(config, args.get_config()))


def _stack_resource(r: Any) -> Resource:
    return Resource(
        type=r.resource_type, props=plain(r.props), name=r.name, urn=r.urn,
        protect=bool(getattr(r.opts, "protect", False)),
        provider_props=(plain(r.provider.props) or {}) if r.provider is not None else {},
        parent=r.parent.urn if r.parent is not None else getattr(r.opts, "parent", None),
        dependencies=[d.urn for d in r.dependencies],
        property_dependencies={k: [d.urn for d in v] for k, v in r.property_dependencies.items()},
    )


def _validate_stack(body: StackBody, config: Mapping[str, Mapping[str, Any]], args: StackValidationArgs,
                    report_violation: Report) -> None:
    """What the engine calls once per stack: the body gets every resource, with its settings."""
    body([_stack_resource(r) for r in args.resources], report_violation, _settings(config, args.get_config()))


# Registration runs once, when a module is imported: mutmut's workers fork after the import and never
# re-run it, so its mutants could not be killed by any test. The registry tests pin what it produces.
# pragma: no mutate start
def resource_policy(
    name: str, *, concern: str, citation: str, description: str, types: Iterable[str],
    config: Mapping[str, Mapping[str, Any]] | None = None,
) -> Callable[[ResourceBody], ResourceValidationPolicy]:
    """Register ``body(resource, report, settings)`` as a resource policy for the given resource types."""
    _check_registration(name, concern, citation)
    type_set = types if isinstance(types, tuple) else tuple(types)  # a tuple subclass may widen `in`
    config = dict(config or {})

    def decorate(body: ResourceBody) -> ResourceValidationPolicy:
        validate = functools.partial(_validate_resource, type_set, body, config)
        policy = ResourceValidationPolicy(
            name=name, description=description, validate=validate,
            enforcement_level=EnforcementLevel.MANDATORY, config_schema=_schema(config),
            **_metadata(concern, citation),
        )
        REGISTRY[name] = PolicyInfo(name, concern, citation, description, "resource", body.__module__,
                                    tuple(type_set), config, policy)
        return policy

    return decorate


def stack_policy(
    name: str, *, concern: str, citation: str, description: str, types: Iterable[str],
    config: Mapping[str, Mapping[str, Any]] | None = None,
) -> Callable[[StackBody], StackValidationPolicy]:
    """Register ``body(resources, report, settings)`` as a stack policy (``report(message, urn)``)."""
    _check_registration(name, concern, citation)
    type_set = tuple(types)
    config = dict(config or {})

    def decorate(body: StackBody) -> StackValidationPolicy:
        validate = functools.partial(_validate_stack, body, config)
        policy = StackValidationPolicy(
            name=name, description=description, validate=validate,
            enforcement_level=EnforcementLevel.MANDATORY, config_schema=_schema(config),
            **_metadata(concern, citation),
        )
        REGISTRY[name] = PolicyInfo(name, concern, citation, description, "stack", body.__module__,
                                    type_set, config, policy)
        return policy

    return decorate


def policies_of(module: str) -> list[ResourceValidationPolicy | StackValidationPolicy]:
    """The policies a module registered, in order (each module exports this as ``POLICIES``)."""
    return [info.policy for info in REGISTRY.values() if info.module == module]


# pragma: no mutate end


def of_type(resources: Sequence[Resource], *types: str) -> Iterator[Resource]:
    return (r for r in resources if r.type in types)


# ---------------------------------------------------------------------------------------------
# Config-schema snippets shared by several policies.

# pragma: no mutate start (these build the config schemas at registration)
def min_days(default: int, what: str) -> dict[str, dict[str, Any]]:
    return {"minRetentionDays": {"type": "integer", "minimum": 0, "default": default,
                                 "description": f"The fewest days {what} may be kept in this stack."}}


def min_azs(default: int) -> dict[str, dict[str, Any]]:
    return {"minAzCount": {"type": "integer", "minimum": 1, "maximum": 6, "default": default,
                           "description": "The number of availability zones this stack must span."}}


def required_flag(default: bool, what: str) -> dict[str, dict[str, Any]]:
    return {"required": {"type": "boolean", "default": default, "description": f"Whether this stack requires {what}."}}

# pragma: no mutate end


# Resource types several modules check.
RDS_INSTANCE = "aws:rds/instance:Instance"
RDS_CLUSTER = "aws:rds/cluster:Cluster"
RDS_PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"
RDS_BACKUP_REPLICATION = "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication"
CACHE_RG = "aws:elasticache/replicationGroup:ReplicationGroup"
MSK = "aws:msk/cluster:Cluster"
S3_BUCKET = "aws:s3/bucket:Bucket"
S3_BUCKET_V2 = "aws:s3/bucketV2:BucketV2"
S3_BUCKETS = (S3_BUCKET, S3_BUCKET_V2)
S3_SSE = ("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
          "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2")
S3_VERSIONING = ("aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2")
S3_PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
S3_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
S3_REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
S3_LOGGING = ("aws:s3/bucketLogging:BucketLogging", "aws:s3/bucketLoggingV2:BucketLoggingV2")
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
EC2_INSTANCE = "aws:ec2/instance:Instance"
EBS_VOLUME = "aws:ebs/volume:Volume"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
EKS_NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
SNS_TOPIC = "aws:sns/topic:Topic"
BACKUP_VAULT = "aws:backup/vault:Vault"
BACKUP_PLAN = "aws:backup/plan:Plan"
BACKUP_SELECTION = "aws:backup/selection:Selection"
BACKUP_VAULT_LOCK = "aws:backup/vaultLockConfiguration:VaultLockConfiguration"
SECRET = "aws:secretsmanager/secret:Secret"
KMS_KEY = "aws:kms/key:Key"
KMS_KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
KMS_ALIAS = "aws:kms/alias:Alias"
CLOUDFRONT = "aws:cloudfront/distribution:Distribution"
WEB_ACL = "aws:wafv2/webAcl:WebAcl"
WEB_ACL_LOGGING = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
LOG_DELIVERY_SOURCE = "aws:cloudwatch/logDeliverySource:LogDeliverySource"
LOG_DELIVERY = "aws:cloudwatch/logDelivery:LogDelivery"
TRAIL = "aws:cloudtrail/trail:Trail"
LISTENERS = ("aws:lb/listener:Listener", "aws:alb/listener:Listener")
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
SG_INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SUBNET = "aws:ec2/subnet:Subnet"
VPC = "aws:ec2/vpc:Vpc"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
SNS_TOPIC_POLICY = "aws:sns/topicPolicy:TopicPolicy"

APPCONFIG_DEPLOYMENT_STRATEGY = "aws:appconfig/deploymentStrategy:DeploymentStrategy"

K8S_DEPLOYMENT = "kubernetes:apps/v1:Deployment"
K8S_STATEFULSET = "kubernetes:apps/v1:StatefulSet"
K8S_DAEMONSET = "kubernetes:apps/v1:DaemonSet"
K8S_JOB = "kubernetes:batch/v1:Job"
K8S_CRONJOB = "kubernetes:batch/v1:CronJob"
K8S_POD = "kubernetes:core/v1:Pod"
K8S_PDB = "kubernetes:policy/v1:PodDisruptionBudget"
K8S_HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
K8S_STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"
K8S_NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
K8S_INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
#: Argo Rollouts' replacement for a Deployment (the app service's ``rollout: blueGreen | canary``).
K8S_ROLLOUT = "kubernetes:argoproj.io/v1alpha1:Rollout"
K8S_ANALYSIS_TEMPLATE = "kubernetes:argoproj.io/v1alpha1:AnalysisTemplate"
#: What runs an app's long-lived pods: a Deployment or the Rollout that replaces it.
K8S_APP_WORKLOADS = (K8S_DEPLOYMENT, K8S_ROLLOUT)
K8S_WORKLOADS = (K8S_DEPLOYMENT, K8S_ROLLOUT, K8S_STATEFULSET, K8S_DAEMONSET, K8S_JOB, K8S_CRONJOB, K8S_POD)
K8S_PROMETHEUS_RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"


def is_replica(db: Resource) -> bool:
    """An RDS read replica (its backups, Multi-AZ and deletion settings follow the primary's)."""
    source = db.get("replicateSourceDb")
    return source is UNKNOWN or bool(source)

