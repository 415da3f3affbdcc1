"""The stack configuration, typed and validated: the only module that reads ``pulumi.Config``.

Every difference between dev, staging and prod is a value in ``Pulumi.<stack>.yaml``; this module
turns those values into frozen pydantic models. A bad configuration is reported all at once, one
line per problem naming the stack, the key path, the value given and what is allowed, and the
program stops before it registers a single resource.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
import pulumi.runtime.config as runtime_config
from pydantic import BaseModel, Field, ValidationError, model_validator

from components.app_service import AppsConfig
from components.backup import BackupConfig
from components.cache import CacheConfig
from components.chromadb import ChromaDbConfig
from components.common import ConfigModel
from components.database import DatabasesConfig
from components.edge import EdgeConfig
from components.eks import EksConfig
from components.encryption import EncryptionConfig
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
    edge: EdgeConfig = EdgeConfig()
    apps: AppsConfig
    chromadb: ChromaDbConfig = ChromaDbConfig()
    backup: BackupConfig = BackupConfig()
    observability: ObservabilityConfig = ObservabilityConfig()

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
        self._backup_schedule(problems)
        msk_azs = min(net.az_count, 3)
        if net.az_count < 2:
            problems.add(("streaming", "brokerCount"), self.streaming.broker_count,
                         f"MSK needs client subnets in 2 or 3 AZs: network.azCount is {net.az_count}")
        elif self.streaming.broker_count % msk_azs:
            problems.add(("streaming", "brokerCount"), self.streaming.broker_count,
                         f"must be a multiple of the {msk_azs} AZs MSK spreads brokers over")
        problems.raise_if_any()
        return self

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
SECRET_KEYS: tuple[str, ...] = ("pagerdutyIntegrationKey",)


@dataclass(frozen=True)
class StackSecrets:
    pagerduty_integration_key: pulumi.Output[str]


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


def _describe(value: Any) -> str:
    text = json.dumps(value, default=str, sort_keys=True) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """The keys a section accepts, found by walking the models along an error's location."""
    model: type[BaseModel] | None = StackConfig
    for part in loc[:-1]:
        if model is None or isinstance(part, int):
            continue
        field = next((f for n, f in model.model_fields.items() if part in (n, f.alias)), None)
        if field is None:
            return []
        annotation = field.annotation
        model = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    if model is None:
        return []
    return sorted(f.alias or n for n, f in model.model_fields.items())


def format_errors(stack: str, error: ValidationError) -> list[str]:
    """One line per problem: ``<stack>: <key.path>: <value given>: <what is allowed>``."""
    lines: list[str] = []
    for err in error.errors(include_url=False):
        loc = tuple(err["loc"])
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
            lines.append(f"{stack}: {path}: unknown key (given {_describe(err['input'])}); allowed keys here: "
                         f"{', '.join(allowed)}")
        elif kind == "missing":
            lines.append(f"{stack}: {path}: missing: a value is required")
        elif kind == "string_pattern_mismatch":
            lines.append(f"{stack}: {path}: {_describe(err['input'])}: must match the pattern "
                         f"{err['ctx']['pattern']}")
        else:
            message = err["msg"].removeprefix("Value error, ")
            lines.append(f"{stack}: {path}: {_describe(err['input'])}: {message}")
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


def load() -> Settings:
    """Read and validate the current stack's configuration, secrets included."""
    stack = pulumi.get_stack()
    cfg = pulumi.Config(PROJECT)
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
    try:
        config = validate(stack, raw)
    except ConfigError as exc:
        lines = exc.lines + lines
    if lines:
        raise ConfigError(stack, lines)
    secrets = StackSecrets(pagerduty_integration_key=cfg.require_secret("pagerdutyIntegrationKey"))
    return Settings(stack=stack, config=config, secrets=secrets)
