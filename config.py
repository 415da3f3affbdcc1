"""The stack configuration, typed and validated: the only module that reads ``pulumi.Config``.

Every difference between dev, staging and prod is a value in ``Pulumi.<stack>.yaml``; this module
turns those values into frozen pydantic models. A bad configuration is reported all at once, one
line per problem naming the stack, the key path, the value given and what is allowed, and the
program stops before it registers a single resource.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
import pulumi.runtime.config as runtime_config
from pydantic import BaseModel, Field, ValidationError, model_validator

from components import instance_classes
from components.alerting import AlertingConfig
from components.app_service import AppsConfig
from components.audit import AuditConfig
from components.backup import BackupConfig
from components.budgets import BudgetConfig
from components.cache import CacheConfig
from components.chromadb import ChromaDbConfig
from components.ci_access import CiAccessConfig
from components.common import ConfigModel
from components.database import DatabasesConfig
from components.edge import EdgeConfig
from components.eks import EksConfig
from components.eks.config import pod_eni_problem
from components.encryption import EncryptionConfig
from components.instance_classes import Service
from components.network import NetworkConfig
from components.observability import ObservabilityConfig
from components.problems import ConfigProblems, ProblemCollector
from components.storage import StorageConfig
from components.streaming import StreamingConfig
from components.windows import BACKUP_LEAD_MINUTES, near_maintenance, parse_backup_schedule, parse_weekly

PROJECT = "care-platform"

_REGION = r"^[a-z]{2}(-gov)?-[a-z]+-\d$"


class EnvironmentConfig(ConfigModel):
    name: str = Field(pattern=r"^[a-z][a-z0-9-]{1,19}$")
    account_id: str = Field(pattern=r"^\d{12}$", description="the 12-digit AWS account id")
    owner: str = Field(min_length=1)
    cost_center: str = Field(min_length=1)
    data_classification: Literal["phi", "confidential", "internal"] = "phi"


class RegionsConfig(ConfigModel):
    primary: str = Field(pattern=_REGION)
    dr: str = Field(pattern=_REGION)
    edge: Literal["us-east-1"] = "us-east-1"

    @model_validator(mode="after")
    def _distinct(self) -> RegionsConfig:
        problems = ProblemCollector()
        if self.dr == self.primary:
            problems.add("dr", self.dr, f"must differ from regions.primary ({self.primary}): backups must leave "
                                        "the region")
        problems.raise_if_any()
        return self


class ProtectionConfig(ConfigModel):
    """Losing data takes two deliberate steps: these default to the safe side."""

    protect: bool = True
    deletion_protection: bool = True
    force_destroy_buckets: bool = False
    skip_final_snapshot: bool = False


class StackConfig(ConfigModel):
    environment: EnvironmentConfig
    regions: RegionsConfig
    protection: ProtectionConfig = ProtectionConfig()
    network: NetworkConfig
    encryption: EncryptionConfig
    eks: EksConfig
    database: DatabasesConfig
    cache: CacheConfig
    streaming: StreamingConfig
    storage: StorageConfig = StorageConfig()
    edge: EdgeConfig
    apps: AppsConfig
    chromadb: ChromaDbConfig = ChromaDbConfig()
    backup: BackupConfig = BackupConfig()
    observability: ObservabilityConfig = ObservabilityConfig()
    ci_access: CiAccessConfig | None = None
    budget: BudgetConfig
    audit: AuditConfig = AuditConfig()
    alerting: AlertingConfig

    @model_validator(mode="after")
    def _cross_section(self) -> StackConfig:
        problems = ProblemCollector()
        net = self.network
        for index, az in enumerate(net.availability_zones):
            if not re.fullmatch(re.escape(self.regions.primary) + r"[a-z]", az):
                problems.add(("network", "availabilityZones", index), az,
                             f"must be an AZ of regions.primary ({self.regions.primary}), like "
                             f"{self.regions.primary}a")
        multi_az_needs = net.az_count < 2
        for db_name in ("prm", "nlfhir"):
            db = getattr(self.database, db_name)
            if multi_az_needs and db.multi_az:
                problems.add(("database", db_name, "multiAz"), True,
                             f"needs network.azCount >= 2 (it is {net.az_count})")
            if multi_az_needs and db.read_replicas:
                problems.add(("database", db_name, "readReplicas"), db.read_replicas,
                             f"replicas must sit in other AZs: needs network.azCount >= 2 (it is {net.az_count})")
        if self.cache.multi_az and (multi_az_needs or self.cache.replicas_per_shard < 1):
            problems.add(("cache", "multiAz"), True,
                         "automatic failover needs network.azCount >= 2 and cache.replicasPerShard >= 1 "
                         f"(they are {net.az_count} and {self.cache.replicas_per_shard})")
        self._classes_offered_in_primary(problems)
        self._backup_schedule(problems)
        if self.eks.deployer_role_arn not in self.encryption.key_admin_arns:
            # KMS's key-policy lockout safety check: CreateKey/PutKeyPolicy fail with
            # MalformedPolicyDocumentException unless the calling principal may still PutKeyPolicy afterwards
            # (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#prevent-unmanageable-key).
            problems.add(("encryption", "keyAdminArns"), list(self.encryption.key_admin_arns),
                         f"must include eks.deployerRoleArn ({self.eks.deployer_role_arn}), the role `pulumi up` runs "
                         "as: KMS refuses a key policy that would lock its creator out of PutKeyPolicy")
        if self.ci_access and self.ci_access.provider_account() not in (None, self.environment.account_id):
            problems.add(("ciAccess", "oidcProviderArn"), self.ci_access.oidc_provider_arn,
                         f"must be a provider of this stack's account ({self.environment.account_id})")
        app_names = {"nlfhir", "prm-api", "prm-worker"}  # the apps' names (tiers/apps.py)
        for service in sorted(set(self.alerting.services) - app_names):
            problems.add(("alerting", "services", service), service,
                         f"not an app of this stack; SLOs are kept for {', '.join(sorted(app_names))}")
        msk_azs = min(net.az_count, 3)
        if net.az_count < 2:
            problems.add(("streaming", "brokerCount"), self.streaming.broker_count,
                         f"MSK needs client subnets in 2 or 3 AZs: network.azCount is {net.az_count}")
        elif self.streaming.broker_count % msk_azs:
            problems.add(("streaming", "brokerCount"), self.streaming.broker_count,
                         f"must be a multiple of the {msk_azs} AZs MSK spreads brokers over")
        problems.raise_if_any()
        return self

    def _classes_offered_in_primary(self, problems: ProblemCollector) -> None:
        """Every instance class must be one AWS offers in regions.primary (the field types checked that it
        exists at all); the lists are cfn-lint's, see components/instance_classes.py."""
        region = self.regions.primary
        wanted: list[tuple[tuple[str | int, ...], Service, str | None]] = []
        for pool in ("app", "worker"):
            for index, itype in enumerate(getattr(self.eks.node_pools, pool).instance_types):
                wanted.append((("eks", "nodePools", pool, "instanceTypes", index), "ec2", itype))
        for db_name in ("prm", "nlfhir"):
            db = getattr(self.database, db_name)
            wanted.append((("database", db_name, "instanceClass"), "rds", db.instance_class))
            wanted.append((("database", db_name, "replicaInstanceClass"), "rds", db.replica_instance_class))
        wanted.append((("cache", "nodeType"), "elasticache", self.cache.node_type))
        wanted.append((("streaming", "instanceType"), "msk", self.streaming.instance_type))
        for path, service, value in wanted:
            message = instance_classes.problem(service, value, region) if value else None
            if not message and service == "ec2" and value:
                message = pod_eni_problem(value)
            if message:
                problems.add(path, value, message)

    def _backup_schedule(self, problems: ProblemCollector) -> None:
        """AWS Backup's daily start window must keep an hour clear of every database's maintenance window."""
        backup = self.backup
        start = parse_backup_schedule(backup.schedule, backup.start_window_minutes)
        if start is None:
            problems.add(("backup", "schedule"), backup.schedule,
                         "must be a daily AWS Backup schedule cron(M H ? * * *) so its start window can be "
                         "checked against the databases' maintenance windows")
            return
        for db_name in ("prm", "nlfhir"):
            weekly_text = getattr(self.database, db_name).maintenance_window
            weekly = parse_weekly(weekly_text)
            if weekly is not None and near_maintenance(start, weekly):
                problems.add(("backup", "schedule"), backup.schedule,
                             f"its start window ({backup.start_window_minutes} minutes) falls in or within "
                             f"{BACKUP_LEAD_MINUTES} minutes before database.{db_name}.maintenanceWindow "
                             f"({weekly_text}), when AWS Backup does not start database backups; move it")

    @property
    def standard_tags(self) -> dict[str, str]:
        env = self.environment
        return {
            "Project": PROJECT,
            "Environment": env.name,
            "Owner": env.owner,
            "CostCenter": env.cost_center,
            "DataClassification": env.data_classification,
            "ManagedBy": "pulumi",
        }


#: Config keys whose value must be a Pulumi secret (``pulumi config set --secret``).
SECRET_KEYS: tuple[str, ...] = ("pagerdutyIntegrationKey", "pagerdutyCloudwatchUrl")


@dataclass(frozen=True)
class StackSecrets:
    pagerduty_integration_key: pulumi.Output[str]
    #: PagerDuty's CloudWatch integration URL (https://events.pagerduty.com/integration/<key>/enqueue, exported by
    #: oncall/), which the alert topics' HTTPS subscriptions post to.
    pagerduty_cloudwatch_url: pulumi.Output[str]


@dataclass(frozen=True)
class Settings:
    stack: str
    config: StackConfig
    secrets: StackSecrets


class ConfigError(pulumi.RunError):
    """The stack's configuration is invalid. Raised as a ``RunError``: Pulumi prints it without a traceback."""

    def __init__(self, stack: str, lines: list[str]) -> None:
        self.stack = stack
        self.lines = lines
        super().__init__(
            f"the configuration of stack '{stack}' has {len(lines)} problem(s):\n" + "\n".join(lines)
        )


#: What each string pattern of the models means, in the stack file's terms (never the raw regex).
PATTERN_HINTS: dict[str, str] = {
    _REGION: "must be an AWS region name like us-east-2",
    r"^\d{12}$": 'must be the 12-digit AWS account id, in quotes: "123456789012"',
    r"^[a-z][a-z0-9-]{1,19}$": "must be 2 to 20 lowercase letters, digits or hyphens, starting with a letter",
    r"^\d+(Mi|Gi)$": "must be a Kubernetes memory size like 512Mi or 2Gi",
    r"^\d+(m)?$": 'must be a Kubernetes CPU amount like 500m or "2" (in quotes)',
    r"^1\.\d{2}$": 'must be an EKS Kubernetes version in quotes, like "1.31"',
    r"^16\.\d+$": 'must be a PostgreSQL 16 version in quotes, like "16.4"',
    r"^7\.\d+$": 'must be a Redis 7 version in quotes, like "7.1"',
    r"^v\d+\.\d+\.\d+-eksbuild\.\d+$": "must be an EKS add-on version like v1.19.2-eksbuild.1",
    r"^\d+\.\d+\.\d+$": "must be a Helm chart version like 1.10.1",
    r"^arn:aws:iam::\d{12}:role/[\w+=,.@/-]+$": "must be an IAM role ARN like arn:aws:iam::123456789012:role/name",
    r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$": "must be a Kubernetes name: lowercase letters, digits and hyphens, "
                                          "starting with a letter (at most 63)",
    r"^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$": "must be a lowercase DNS host name like api.example.com",
    r"^arn:aws:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]+$":
        "must be an ACM certificate ARN like arn:aws:acm:us-east-2:123456789012:certificate/<id>",
    r"^ELBSecurityPolicy-(TLS13|FS-1-2)":
        "must be an ELB TLS 1.2+ security policy like ELBSecurityPolicy-TLS13-1-2-2021-06",
    r"^(arn:aws:secretsmanager:[a-z0-9-]+:\d{12}:secret:)?[\w/+=.@!-]+$":
        "must be a Secrets Manager secret name or ARN",
    r"^/[\w./-]*$": "must be a URL path starting with /",
    r"^\d+%?$": "must be a number or a percentage like 25%",
    r"^cron\(.+\)$": "must be an AWS cron expression like cron(0 5 ? * * *)",
    r"^[a-z][a-z0-9_]{0,62}$": "must be lowercase letters, digits or underscores, starting with a letter",
    r"^https?://[^\s]+$": "must be an http(s) URL like http://alert-tickets.monitoring.svc:8080/alertmanager",
    r"^https://[^\s]+[^/]$": "must be an https URL without a trailing slash",
}

#: Pydantic's error types for "wrong kind of value", in the stack file's words.
_KIND_HINTS: dict[str, str] = {
    "dict_type": "must be a mapping of key: value",
    "model_type": "must be a mapping of settings",
    "model_attributes_type": "must be a mapping of settings",
    "tuple_type": "must be a list, like [a, b]",
    "list_type": "must be a list, like [a, b]",
    "set_type": "must be a list, like [a, b]",
    "frozen_set_type": "must be a list, like [a, b]",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
}


def _describe(value: Any) -> str:
    text = json.dumps(value, default=str, sort_keys=True) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model of the section at ``loc``, found by walking the models (``None`` if not a section)."""
    model: type[BaseModel] | None = StackConfig
    for part in loc:
        if model is None:
            return None
        if isinstance(part, int):
            continue
        field = next((f for n, f in model.model_fields.items() if part in (n, f.alias)), None)
        if field is None:
            return None
        annotation = field.annotation
        model = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    return model


def _keys_of(model: type[BaseModel] | None) -> list[str]:
    return sorted(f.alias or n for n, f in model.model_fields.items()) if model is not None else []


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """The keys a section accepts, found by walking the models along an error's location."""
    return _keys_of(_model_at(loc[:-1]))


def did_you_mean(given: str, choices: list[str]) -> str | None:
    """The closest of ``choices`` to a misspelt ``given`` (difflib; case-insensitive), if any is close."""
    by_lower = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(given.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[close[0]] if close else None


def _as_string_hint(path: str, value: Any, pattern: str | None) -> str:
    """For a number where a string belongs (YAML reads 1.30 as the number 1.3): the quoted form to write."""
    candidates = [str(value), f"{value:.2f}"] if isinstance(value, float) else [str(value)]
    written = next((c for c in candidates if pattern is None or re.fullmatch(pattern, c)), candidates[0])
    what = "the version" if "version" in path.rsplit(".", 1)[-1].lower() else "it"
    return f'write {what} as a string, "{written}"'


def _pattern_of(loc: tuple[Any, ...]) -> str | None:
    model = _model_at(loc[:-1])
    if model is None or not loc or isinstance(loc[-1], int):
        return None
    field = next((f for n, f in model.model_fields.items() if loc[-1] in (n, f.alias)), None)
    for meta in field.metadata if field is not None else []:
        pattern = getattr(meta, "pattern", None)
        if isinstance(pattern, str):
            return pattern
    return None


def _plain_words(err: Any, path: str, loc: tuple[Any, ...]) -> str:
    """What is expected, for one pydantic error, without pydantic's vocabulary."""
    kind, given = err["type"], err.get("input")
    if kind == "string_pattern_mismatch":
        pattern = err["ctx"]["pattern"]
        return PATTERN_HINTS.get(pattern, "is not in the expected format")
    if kind == "string_type" and isinstance(given, int | float) and not isinstance(given, bool):
        return _as_string_hint(path, given, _pattern_of(loc))
    if kind == "string_type":
        return "must be a text value"
    if kind in ("model_type", "model_attributes_type"):
        keys = _keys_of(_model_at(loc))
        return _KIND_HINTS[kind] + (f" ({', '.join(keys)})" if keys else "")
    if kind in _KIND_HINTS:
        return _KIND_HINTS[kind]
    message = str(err["msg"]).removeprefix("Value error, ")
    return re.sub(r" or instance of \w+", "", message)


def format_errors(stack: str, error: ValidationError) -> list[str]:
    """One line per problem: ``<stack>: <key.path>: <value given>: <what is allowed>``."""
    lines: list[str] = []
    errors = error.errors(include_url=False)
    item_errors = {tuple(e["loc"])[:-1] for e in errors if e["loc"] and isinstance(e["loc"][-1], int)}
    for err in errors:
        loc = tuple(err["loc"])
        if err["type"] == "too_short" and loc in item_errors:
            continue  # "should have at least 1 item after validation": its bad items are reported already
        ctx_error = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_error, ConfigProblems):
            for problem in ctx_error.problems:
                path = ".".join(str(p) for p in (*loc, *problem.path))
                lines.append(f"{stack}: {path}: {_describe(problem.value)}: {problem.allowed}")
            continue
        path = ".".join(str(p) for p in loc) or "(top level)"
        kind = err["type"]
        if kind == "extra_forbidden":
            allowed = _allowed_keys(loc)
            guess = did_you_mean(str(loc[-1]), allowed)
            hint = f"did you mean {guess}?" if guess else f"allowed keys here: {', '.join(allowed)}"
            lines.append(f"{stack}: {path}: unknown key (given {_describe(err['input'])}); {hint}")
        elif kind == "missing":
            lines.append(f"{stack}: {path}: missing: a value is required")
        else:
            lines.append(f"{stack}: {path}: {_describe(err['input'])}: {_plain_words(err, path, loc)}")
    return lines


def validate(stack: str, raw: dict[str, Any]) -> StackConfig:
    """Validate raw section values (as read from the stack file) or raise :class:`ConfigError`."""
    try:
        config = StackConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(stack, format_errors(stack, exc)) from None
    if config.environment.name != stack:
        raise ConfigError(stack, [f"{stack}: environment.name: {config.environment.name!r}: must equal the stack "
                                  f"name ({stack!r}); each stack carries its own environment's values"])
    return config


def _undeclared_keys(stack: str, given: list[str]) -> tuple[list[str], set[str]]:
    """Lines for ``care-platform:*`` keys that are no setting of the project (a typo, or a value that would be
    silently ignored, like a plain-text password); and the settings the typos were probably meant as."""
    settings = sorted({f.alias or n for n, f in StackConfig.model_fields.items()} | set(SECRET_KEYS))
    lines, meant = [], set()
    for full_key in sorted(given):
        namespace, _, key = full_key.partition(":")
        if namespace != PROJECT or key in settings:
            continue
        guess = did_you_mean(key, settings)
        if guess:
            meant.add(guess)
            lines.append(f"{stack}: {full_key}: not a setting of this project; did you mean {PROJECT}:{guess}?")
        else:
            lines.append(f"{stack}: {full_key}: not a setting of this project (it would be ignored); "
                         f"the settings are: {', '.join(settings)}")
    return lines, meant


def _region_matches(stack: str, raw: dict[str, Any]) -> list[str]:
    """``aws:region`` (the default AWS provider's region) must be the stack's primary region."""
    region = runtime_config.get_config("aws:region")
    primary = (raw.get("regions") or {}).get("primary") if isinstance(raw.get("regions"), dict) else None
    if region is None or not isinstance(primary, str) or region == primary:
        return []
    return [f"{stack}: aws:region: {region!r}: must equal regions.primary ({primary}); set both to the region "
            "the stack's workloads run in"]


def load() -> Settings:
    """Read and validate the current stack's configuration, secrets included."""
    stack = pulumi.get_stack()
    cfg = pulumi.Config(PROJECT)
    undeclared, meant = _undeclared_keys(stack, list(runtime_config.CONFIG.get() or {}))
    lines: list[str] = []
    raw: dict[str, Any] = {}
    for name, field in StackConfig.model_fields.items():
        key = field.alias or name
        try:
            value = cfg.get_object(key)
        except (json.JSONDecodeError, pulumi.ConfigTypeError):
            lines.append(f"{stack}: {key}: {_describe(cfg.get(key))}: must be a mapping of settings")
            continue
        if value is not None:
            raw[key] = value
    for key in SECRET_KEYS:
        full_key = f"{PROJECT}:{key}"
        if runtime_config.get_config(full_key) is None:
            lines.append(f"{stack}: {key}: missing: a secret is required; set it with "
                         f"`pulumi config set --secret {key} <value> --stack {stack}`")
        elif not runtime_config.is_config_secret(full_key):
            lines.append(f"{stack}: {key}: given in plain text: it must be a secret; run "
                         f"`pulumi config set --secret {key} <value> --stack {stack}`")
    lines += _region_matches(stack, raw)
    try:
        config = validate(stack, raw)
    except ConfigError as exc:
        # A misspelt section is named once, by its typo, not again as the section that is missing.
        lines = [line for line in exc.lines if not any(line == f"{stack}: {m}: missing: a value is required"
                                                        for m in meant)] + lines
    lines = undeclared + lines
    if lines:
        raise ConfigError(stack, lines)
    secrets = StackSecrets(pagerduty_integration_key=cfg.require_secret("pagerdutyIntegrationKey"),
                           pagerduty_cloudwatch_url=cfg.require_secret("pagerdutyCloudwatchUrl"))
    return Settings(stack=stack, config=config, secrets=secrets)
