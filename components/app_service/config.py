"""The app service's configuration: one typed ``AppConfig`` per app (``apps.<app>`` in the stack file)."""

from __future__ import annotations

import ipaddress
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from components.common import ConfigModel, PinnedImage
from components.problems import ProblemCollector
from components.reloader import ReloaderConfig

DNS_LABEL = r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$"
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_SECRET_LOOKING = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|PRIVATE_KEY|API_KEY|CREDENTIAL)")
_CRON_FIELD = r"[0-9*/,\-A-Za-z?]+"

#: The ALB security policy: TLS 1.3 and 1.2 only.
DEFAULT_SSL_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"


class SecretRefConfig(ConfigModel):
    """One value from AWS Secrets Manager: a secret (name or ARN) and, for JSON secrets, a property."""

    secret: str = Field(min_length=1, pattern=r"^(arn:aws:secretsmanager:[a-z0-9-]+:\d{12}:secret:)?[\w/+=.@!-]+$")
    property: str | None = None


class AppIngressConfig(ConfigModel):
    """Public (or internal) exposure through an ALB: HTTPS only, with the ACM certificate given."""

    host: str = Field(pattern=r"^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
    certificate_arn: str = Field(pattern=r"^arn:aws:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]+$")
    waf_acl_arn: str | None = None
    scheme: Literal["internet-facing", "internal"] = "internal"
    ssl_policy: str = Field(default=DEFAULT_SSL_POLICY, pattern=r"^ELBSecurityPolicy-(TLS13|FS-1-2)")

    @field_validator("waf_acl_arn")
    @classmethod
    def _regional_acl(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"arn:aws:wafv2:[a-z0-9-]+:\d{12}:regional/webacl/[\w-]+/[\w-]+",
                                                  value):
            raise ValueError("must be a REGIONAL WAFv2 web ACL ARN (arn:aws:wafv2:<region>:<account>:regional/"
                             "webacl/<name>/<id>); an ALB cannot use a CloudFront-scope ACL")
        return value


class PreDeployConfig(ConfigModel):
    """A command run to completion as a Job before each rollout of a new image (database migrations)."""

    command: tuple[str, ...] = Field(min_length=1)
    timeout_seconds: int = Field(default=600, ge=30, le=7200)
    backoff_limit: int = Field(default=1, ge=0, le=6)


class CronJobConfig(ConfigModel):
    name: str = Field(pattern=DNS_LABEL, max_length=30)
    schedule: str
    command: tuple[str, ...] = Field(min_length=1)
    concurrency_policy: Literal["Forbid", "Replace", "Allow"] = "Forbid"
    time_zone: str = "Etc/UTC"
    timeout_seconds: int = Field(default=3600, ge=30, le=86400)

    @field_validator("schedule")
    @classmethod
    def _five_fields(cls, value: str) -> str:
        if value.startswith("@") or not re.fullmatch(rf"{_CRON_FIELD}( {_CRON_FIELD}){{4}}", value):
            raise ValueError("must be a five-field cron expression like '0 3 * * *'")
        return value


class EgressDestinationConfig(ConfigModel):
    """A named destination outside the cluster an app may reach (its NetworkPolicy egress allow-list)."""

    name: str = Field(pattern=DNS_LABEL)
    cidr: ipaddress.IPv4Network
    ports: tuple[int, ...] = Field(default=(443,), min_length=1)
    why: str = Field(min_length=3)


class AppConfig(ConfigModel):
    image: PinnedImage
    cpu: str = Field(default="500m", pattern=r"^\d+(m)?$")
    memory: str = Field(default="512Mi", pattern=r"^\d+(Mi|Gi)$")
    min_replicas: int = Field(default=2, ge=1, le=100)
    max_replicas: int = Field(default=4, ge=1, le=200)
    node_pool: Literal["app", "worker"] = "app"
    namespace: str = Field(default="apps", pattern=DNS_LABEL)
    port: int = Field(default=8080, ge=1024, le=65535)
    health_check_path: str = Field(default="/health", pattern=r"^/[\w./-]*$")
    #: A worker without callers sets this false: no Service, and the NetworkPolicy admits nothing.
    service: bool = True
    env: dict[str, str] = {}
    secrets: dict[str, SecretRefConfig] = {}
    #: Apps (``name`` in this namespace or ``namespace/name``) allowed to call this one.
    allow_from: tuple[str, ...] = ()
    cpu_target_percent: int = Field(default=70, ge=10, le=100)
    memory_target_percent: int | None = Field(default=80, ge=10, le=100)
    max_surge: str = Field(default="25%", pattern=r"^\d+%?$")
    min_ready_seconds: int = Field(default=10, ge=0, le=600)
    termination_grace_seconds: int = Field(default=60, ge=5, le=3600)
    pre_stop_seconds: int = Field(default=10, ge=0, le=120)
    zone_spread: Literal["DoNotSchedule", "ScheduleAnyway"] = "DoNotSchedule"
    run_as_user: int = Field(default=10001, ge=1000)
    tmp_size: str = Field(default="256Mi", pattern=r"^\d+(Mi|Gi)$")
    ingress: AppIngressConfig | None = None
    pre_deploy: PreDeployConfig | None = None
    cron_jobs: tuple[CronJobConfig, ...] = ()
    #: Named destinations outside the cluster (components/egress.py); everything else is denied.
    egress_to: tuple[EgressDestinationConfig, ...] = ()

    @model_validator(mode="after")
    def _replicas(self) -> AppConfig:
        problems = ProblemCollector()
        if self.min_replicas > self.max_replicas:
            problems.add("minReplicas", self.min_replicas, f"must be at most maxReplicas ({self.max_replicas})")
        if int(self.max_surge.rstrip("%")) == 0:
            problems.add("maxSurge", self.max_surge, "must be above 0: maxUnavailable is 0, so a rollout needs surge")
        if self.pre_stop_seconds >= self.termination_grace_seconds:
            problems.add("preStopSeconds", self.pre_stop_seconds,
                         f"must be below terminationGraceSeconds ({self.termination_grace_seconds}) so the app "
                         "still has time to shut down after the preStop pause")
        for key in self.env:
            if not _ENV_NAME.fullmatch(key):
                problems.add(("env", key), self.env[key], "the name must be an environment variable name "
                                                          "(A-Z, 0-9, _; not starting with a digit)")
            elif _SECRET_LOOKING.search(key):
                problems.add(("env", key), "***", "looks like a secret: put it under secrets (read from AWS "
                                                  "Secrets Manager), never in plain config")
        for key in self.secrets:
            if not _ENV_NAME.fullmatch(key):
                problems.add(("secrets", key), key, "the name must be an environment variable name")
            if key in self.env:
                problems.add(("secrets", key), key, "is also set under env; give each variable one source")
        for index, source in enumerate(self.allow_from):
            if not all(re.fullmatch(DNS_LABEL, part) for part in source.split("/", 1)):
                problems.add(("allowFrom", index), source, "must be an app name or namespace/name (DNS labels)")
        names = [job.name for job in self.cron_jobs]
        for index, job_name in enumerate(names):
            if names.index(job_name) != index:
                problems.add(("cronJobs", index, "name"), job_name, "each cron job needs a distinct name")
        if self.ingress is not None and not self.service:
            problems.add("ingress", self.ingress.host, "needs service: true (the Ingress routes to the Service)")
        problems.raise_if_any()
        return self


class AppsConfig(ConfigModel):
    nlfhir: AppConfig
    prm_api: AppConfig
    prm_worker: AppConfig
    #: Restarts pods whose Secret changed (components/reloader.py).
    reloader: ReloaderConfig = ReloaderConfig()
