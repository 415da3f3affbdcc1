"""The app service's configuration: one typed ``AppConfig`` per app (``apps.<app>`` in the stack file)."""

from __future__ import annotations

import ipaddress
import re
from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from components.app_service.flags import load_flags
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


class AnalysisConfig(ConfigModel):
    """The SLO a new version must hold before it takes all the traffic (Argo Rollouts' AnalysisTemplate).

    The thresholds default to the seed's SLOs (EPIC-024: error rate 0.1 %, API p99 500 ms); the analysis
    reads the SLO recording rules (``components/app_service/analysis.py``) every ``intervalSeconds``,
    ``count`` times; more than ``failureLimit`` failed measurements abort the rollout (automatic rollback).
    """

    max_error_ratio: float = Field(default=0.001, gt=0, lt=1)
    max_p99_latency_seconds: float = Field(default=0.5, gt=0, le=60)
    interval_seconds: int = Field(default=60, ge=30, le=600)
    count: int = Field(default=5, ge=1, le=60)
    failure_limit: int = Field(default=1, ge=0, le=10)

    @property
    def duration_seconds(self) -> int:
        """How long one analysis run takes (its measurements, one interval apart)."""
        return self.interval_seconds * self.count


class FlagStrategyConfig(ConfigModel):
    """How a flag change reaches the app's pods: AppConfig's deployment strategy (API bounds: durations
    0-1440 minutes, growth 1-100 %; https://docs.aws.amazon.com/appconfig/2019-10-09/APIReference/API_CreateDeploymentStrategy.html).

    The default is linear 20 % every 6 minutes (5 steps over 30 minutes), then 10 minutes of bake time
    in which the environment's alarms still roll the change back.
    """

    growth_type: Literal["LINEAR", "EXPONENTIAL"] = "LINEAR"
    growth_factor: float = Field(default=20, ge=1, le=100)
    deployment_duration_minutes: int = Field(default=30, ge=0, le=1440)
    final_bake_time_minutes: int = Field(default=10, ge=0, le=1440)


class FeatureFlagsConfig(ConfigModel):
    """The app's feature flags in AWS AppConfig: definitions from the repository, rolled out gradually."""

    #: The AWS.AppConfig.FeatureFlags document, relative to the repository root (validated at load).
    file: str = Field(pattern=r"^flags/[a-z0-9][a-z0-9-]*\.json$")
    strategy: FlagStrategyConfig = FlagStrategyConfig()

    @field_validator("file")
    @classmethod
    def _valid_document(cls, value: str) -> str:
        load_flags(value)  # one line naming the file and each problem
        return value

    @property
    def content(self) -> str:
        """The validated document as compact JSON (what the hosted configuration version stores)."""
        return load_flags(self.file)


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


class AppMetricsConfig(ConfigModel):
    """Where the app serves Prometheus metrics (prometheus-fastapi-instrumentator: ``/metrics`` on its own port)."""

    #: None: the app's own ``port``.
    port: int | None = Field(default=None, ge=1024, le=65535)
    path: str = Field(default="/metrics", pattern=r"^/[\w./-]*$")
class EgressDestinationConfig(ConfigModel):
    """A named destination outside the cluster an app may reach (its NetworkPolicy egress allow-list)."""

    name: str = Field(pattern=DNS_LABEL)
    cidr: ipaddress.IPv4Network
    ports: tuple[int, ...] = Field(default=(443,), min_length=1)
    why: str = Field(min_length=3)


#: Legal Kafka topic names: ASCII letters, digits, '.', '_' and '-', at most 249 characters, never '.' or '..'
#: (apache/kafka clients/src/main/java/org/apache/kafka/common/internals/Topic.java, ``LEGAL_CHARS`` and
#: ``MAX_NAME_LENGTH``). Consumer group names are held to the same rule: Kafka accepts any string there, but an
#: IAM resource ARN must not carry IAM wildcards (``*``, ``?``) or ``/`` that we did not mean.
KAFKA_NAME = re.compile(r"[a-zA-Z0-9._-]{1,249}")
#: An app-owned prefix: the app's name-like stem and a '.', e.g. ``prm-worker.``; ``<prefix>*`` is the one
#: wildcard an MSK client policy may name (policy ``msk-client-scoped``).
KAFKA_PREFIX = re.compile(r"[a-z][a-z0-9-]{1,62}\.")


class KafkaAccessConfig(ConfigModel):
    """What the app may do on MSK through IAM access control: the topics it reads, those it writes, its groups.

    Each name is an exact topic (or group) name, or ``<ownedPrefix>*``: every topic/group under the app's own
    prefix (distinct between apps, so no app's wildcard reaches another's names). Nobody's role may create,
    alter or delete topics: the cluster refuses auto-creation (``auto.create.topics.enable=false``) and topics
    are provisioned by the platform, not by an app at runtime (docs/architecture.md). IAM resource ARNs:
    https://docs.aws.amazon.com/msk/latest/developerguide/kafka-actions.html
    """

    owned_prefix: str | None = None
    read_topics: tuple[str, ...] = ()
    write_topics: tuple[str, ...] = ()
    consumer_groups: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _names(self) -> KafkaAccessConfig:
        problems = ProblemCollector()
        if self.owned_prefix is not None and not KAFKA_PREFIX.fullmatch(self.owned_prefix):
            problems.add("ownedPrefix", self.owned_prefix, "must be a lowercase stem ending in '.', like 'prm-worker.' "
                                                           "(letters, digits, '-'; 3 to 64 characters)")
        for key, names in (("readTopics", self.read_topics), ("writeTopics", self.write_topics),
                           ("consumerGroups", self.consumer_groups)):
            for index, name in enumerate(names):
                problem = kafka_name_problem(name, self.owned_prefix)
                if problem:
                    problems.add((key, index), name, problem)
                elif names.index(name) != index:
                    problems.add((key, index), name, "is listed twice")
        if not self.read_topics and not self.write_topics:
            problems.add("readTopics", [], "name at least one topic the app reads or writes (readTopics, writeTopics)")
        if self.read_topics and not self.consumer_groups:
            # ReadData requires AlterGroup (offset commits): https://docs.aws.amazon.com/msk/latest/developerguide/
            # kafka-actions.html
            problems.add("consumerGroups", [], "a consumer of readTopics needs its consumer group(s) named")
        problems.raise_if_any()
        return self

    def names(self) -> tuple[str, ...]:
        return (*self.read_topics, *self.write_topics, *self.consumer_groups)


def kafka_name_problem(name: str, owned_prefix: str | None) -> str | None:
    """Why ``name`` cannot be a topic or group of an MSK client policy (None if it can)."""
    if name.endswith("*"):
        if owned_prefix is None or name != f"{owned_prefix}*":
            return (f"a wildcard is allowed only as '<ownedPrefix>*' ({owned_prefix or 'no ownedPrefix set'}*): "
                    "name exact topics and groups, or set the app's own prefix")
        return None
    if not KAFKA_NAME.fullmatch(name) or name in (".", ".."):
        return "must be a Kafka name: 1 to 249 of a-z A-Z 0-9 . _ - (not '.' or '..')"
    return None


#: Redis ACL command rules (``+@category``, ``-command``, ``+command|subcommand``): no key or channel patterns,
#: no on/off, no passwords (ElastiCache sets those; ``reset`` is refused):
#: https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/Clusters.RBAC.html#Access-string
_REDIS_COMMAND_RULE = re.compile(r"[+-]@?[a-z][a-z-]*(\|[a-z][a-z-]*)?")


class RedisAccessConfig(ConfigModel):
    """The app's own ElastiCache RBAC user: the keys it may touch (its prefixes) and the commands it may run.

    The access string becomes ``on ~<prefix>* ... <commands>`` (components/cache.py): no pub/sub channels, no key
    outside its prefixes. ``passwordGeneration``: bump to rotate the password
    (docs/runbooks/rotate-redis-auth-token.md).
    """

    key_prefixes: tuple[str, ...] = Field(min_length=1, max_length=8)
    commands: str = "+@all -@dangerous"
    password_generation: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _rules(self) -> RedisAccessConfig:
        problems = ProblemCollector()
        for index, prefix in enumerate(self.key_prefixes):
            if not re.fullmatch(r"[a-z][a-z0-9-]{1,62}:", prefix):
                problems.add(("keyPrefixes", index), prefix, "must be a lowercase stem ending in ':', like 'prm-api:' "
                                                            "(letters, digits, '-'; no wildcard: '*' is appended)")
        rules = self.commands.split()
        if not rules or any(not _REDIS_COMMAND_RULE.fullmatch(rule) for rule in rules):
            problems.add("commands", self.commands, "must be Redis ACL command rules only, like '+@all -@dangerous' "
                                                    "(no key/channel patterns, on/off, passwords or reset)")
        problems.raise_if_any()
        return self

    @property
    def access_string(self) -> str:
        """The RBAC user's access string: enabled, its key prefixes, its commands."""
        return " ".join(["on", *(f"~{prefix}*" for prefix in self.key_prefixes), self.commands])


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
    #: Apps (``name`` in this namespace or ``namespace/name``) allowed to call this one: its NetworkPolicy admits
    #: their pods and its Istio AuthorizationPolicy their service accounts' principals (AppsConfig checks each).
    allow_from: tuple[str, ...] = ()
    cpu_target_percent: int = Field(default=70, ge=10, le=100)
    memory_target_percent: int | None = Field(default=80, ge=10, le=100)
    #: How a new version replaces the running one: a rolling Deployment (the default), or an Argo Rollout
    #: (blue-green: a preview stack, then a switch; canary: weighted steps), both gated by the SLO analysis.
    rollout: Literal["rolling", "blueGreen", "canary"] = "rolling"
    #: A rollout that makes no progress for this long fails (and ``pulumi up`` with it, instead of hanging).
    progress_deadline_seconds: int = Field(default=600, ge=60, le=3600)
    analysis: AnalysisConfig = AnalysisConfig()
    #: Canary traffic weights (percent of the pods), each step followed by an analysis run; 100 % comes last.
    canary_weights: tuple[int, ...] = Field(default=(20, 50), min_length=1, max_length=10)
    max_surge: str = Field(default="25%", pattern=r"^\d+%?$")
    min_ready_seconds: int = Field(default=10, ge=0, le=600)
    termination_grace_seconds: int = Field(default=60, ge=5, le=3600)
    pre_stop_seconds: int = Field(default=10, ge=0, le=120)
    zone_spread: Literal["DoNotSchedule", "ScheduleAnyway"] = "DoNotSchedule"
    run_as_user: int = Field(default=10001, ge=1000)
    tmp_size: str = Field(default="256Mi", pattern=r"^\d+(Mi|Gi)$")
    ingress: AppIngressConfig | None = None
    #: Reached from the internet only through the edge (CloudFront + WAF -> an ALB admitting CloudFront only):
    #: the edge gives it its Ingress. Never for a worker or a store.
    published: bool = False
    pre_deploy: PreDeployConfig | None = None
    cron_jobs: tuple[CronJobConfig, ...] = ()
    #: Prometheus metrics (scraped through Istio's merged endpoint); null for an app that serves none.
    metrics: AppMetricsConfig | None = AppMetricsConfig()
    feature_flags: FeatureFlagsConfig | None = None
    #: Named destinations outside the cluster (components/egress.py); everything else is denied.
    egress_to: tuple[EgressDestinationConfig, ...] = ()
    #: Its topics and consumer groups on MSK, if it is bound to Kafka (tiers/identity.py APP_STORES).
    kafka: KafkaAccessConfig | None = None
    #: Its own Redis user (RBAC), if it is bound to Redis.
    redis: RedisAccessConfig | None = None

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
        if any(not 0 < w < 100 for w in self.canary_weights) or list(self.canary_weights) != sorted(
                set(self.canary_weights)):
            problems.add("canaryWeights", list(self.canary_weights),
                         "must be increasing percentages between 1 and 99 (the last step to 100 % is implicit)")
        if self.rollout != "rolling" and not self.service:
            problems.add("rollout", self.rollout, "needs service: true (the analysis reads the service's request "
                                                  "metrics; blue-green switches Services)")
        if self.ingress is not None and not self.service:
            problems.add("ingress", self.ingress.host, "needs service: true (the Ingress routes to the Service)")
        if self.published and not self.service:
            problems.add("published", True, "needs service: true (the edge's Ingress routes to the Service)")
        if self.published and self.ingress is not None:
            problems.add("ingress", self.ingress.host, "must not be set on a published app: the edge gives it its "
                                                        "Ingress (CloudFront and WAF in front)")
        problems.raise_if_any()
        return self


class AppsConfig(ConfigModel):
    nlfhir: AppConfig
    prm_api: AppConfig
    prm_worker: AppConfig
    #: Restarts pods whose Secret changed (components/reloader.py).
    reloader: ReloaderConfig = ReloaderConfig()

    #: Each app's config key and its name on the cluster (its Kubernetes objects and service account).
    APP_NAMES: ClassVar[dict[str, str]] = {"nlfhir": "nlfhir", "prmApi": "prm-api", "prmWorker": "prm-worker"}

    def by_app_name(self) -> dict[str, AppConfig]:
        return {"nlfhir": self.nlfhir, "prm-api": self.prm_api, "prm-worker": self.prm_worker}

    @model_validator(mode="after")
    def _callers_are_apps(self) -> AppsConfig:
        """``allowFrom`` names the callers the mesh admits by identity (components/app_service/authorization.py):
        each must be one of these apps, in its namespace, and the callee must have a Service to be called."""
        problems = ProblemCollector()
        apps = self.by_app_name()
        for key, app_name in self.APP_NAMES.items():
            config = apps[app_name]
            for index, source in enumerate(config.allow_from):
                source_ns, _, source_app = source.rpartition("/")
                caller = apps.get(source_app)
                if caller is None:
                    problems.add((key, "allowFrom", index), source,
                                 f"must name one of the apps ({', '.join(apps)}), as name or namespace/name")
                elif (source_ns or config.namespace) != caller.namespace:
                    problems.add((key, "allowFrom", index), source,
                                 f"{source_app} runs in namespace {caller.namespace}: write {caller.namespace}/"
                                 f"{source_app}")
                elif source_app == app_name:
                    problems.add((key, "allowFrom", index), source, "an app does not call itself through the mesh")
            if config.allow_from and not config.service:
                problems.add((key, "allowFrom"), list(config.allow_from),
                             "needs service: true (callers reach the app through its Service)")
        problems.raise_if_any()
        return self

    @model_validator(mode="after")
    def _owned_names_distinct(self) -> AppsConfig:
        """No app's prefix (Kafka, Redis) overlaps another's, and no app writes or joins groups in another's."""
        problems = ProblemCollector()
        apps = {"nlfhir": self.nlfhir, "prmApi": self.prm_api, "prmWorker": self.prm_worker}
        kafka = {key: app.kafka for key, app in apps.items() if app.kafka is not None}
        for key, access in kafka.items():
            for other, theirs in kafka.items():
                if other == key or theirs.owned_prefix is None:
                    continue
                if access.owned_prefix is not None and (access.owned_prefix.startswith(theirs.owned_prefix)
                                                        or theirs.owned_prefix.startswith(access.owned_prefix)):
                    problems.add((key, "kafka", "ownedPrefix"), access.owned_prefix,
                                 f"overlaps {other}'s ownedPrefix {theirs.owned_prefix!r}: each app owns its own")
                for field, names in (("writeTopics", access.write_topics), ("consumerGroups", access.consumer_groups)):
                    for index, name in enumerate(names):
                        if name.startswith(theirs.owned_prefix):
                            problems.add((key, "kafka", field, index), name,
                                         f"is under {other}'s ownedPrefix {theirs.owned_prefix!r}: an app writes and "
                                         "joins groups only in its own names (it may read others' topics)")
        # Exact names too: a consumer group joined by two apps lets one take the other's partitions and commit its
        # offsets, and a topic written by two apps has no single owner; the prefix check above cannot see an exact
        # name outside the owner's prefix (prm-worker's group "prm-worker").
        for field in ("writeTopics", "consumerGroups"):
            claims = [(name, key, index) for key, access in kafka.items()
                      for index, name in enumerate(access.write_topics if field == "writeTopics"
                                                   else access.consumer_groups)]
            for name, key, index in claims:
                others = sorted({other for n, other, _ in claims if n == name and other != key})
                if others:
                    problems.add((key, "kafka", field, index), name,
                                 f"is also {' and '.join(others)}'s: each topic has one writing app and each "
                                 "consumer group one app")
        redis = [(key, prefix) for key, app in apps.items() if app.redis is not None
                 for prefix in app.redis.key_prefixes]
        for key, prefix in redis:
            for other, their_prefix in redis:
                if other != key and (prefix.startswith(their_prefix) or their_prefix.startswith(prefix)):
                    problems.add((key, "redis", "keyPrefixes"), prefix, f"overlaps {other}'s key prefix "
                                 f"{their_prefix!r}: each app's Redis user owns its own keys")
        problems.raise_if_any()
        return self
