"""Typed bindings: how an app is bound to a store (PostgreSQL, Redis, Kafka, ChromaDB).

A binding says, in one place, everything an app needs to use a store: the environment variables it
reads, the secrets (Secrets Manager references, delivered by the app's ExternalSecret) and the IAM
permissions its IRSA role gets. ``AppService(..., bindings=[...])`` merges them and refuses a
variable set twice. Build one from the store's component: ``PostgresBinding.of(db)``,
``RedisBinding.of(redis)``, ``KafkaBinding.of(kafka)``, ``ChromaDbBinding.of(chromadb)``;
``EnvironmentBinding`` carries plain values and secret references wired from anywhere else.

IAM policies are keyed by the suffix of their ``aws.iam.RolePolicy`` (``<app>-irsa-<suffix>``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import pulumi

if TYPE_CHECKING:  # the stores' components, for the ``of`` constructors' signatures only
    from components.cache import RedisCluster
    from components.chromadb import ChromaDb
    from components.database import PostgresDatabase
    from components.streaming import KafkaCluster


@dataclass(frozen=True)
class SecretRef:
    """A secret wired from another component (e.g. the Redis AUTH token's secret) and, for JSON, its property."""

    arn: pulumi.Input[str]
    property: str | None = None


class Binding(Protocol):
    """What an app gets from one store: environment, secret references and IAM role policies, together."""

    def environment(self) -> Mapping[str, pulumi.Input[str]]: ...

    def secrets(self) -> Mapping[str, SecretRef]: ...

    def iam_policies(self, region: str, account_id: str) -> Mapping[str, pulumi.Input[str]]: ...


@dataclass(frozen=True)
class EnvironmentBinding:
    """Plain variables and secret references wired from another component (no IAM of its own)."""

    values: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    secret_refs: Mapping[str, SecretRef] = field(default_factory=dict)

    def environment(self) -> Mapping[str, pulumi.Input[str]]:
        return self.values

    def secrets(self) -> Mapping[str, SecretRef]:
        return self.secret_refs

    def iam_policies(self, region: str, account_id: str) -> Mapping[str, pulumi.Input[str]]:
        return {}


def rds_db_user_arn(region: str, account_id: str, resource_id: str, username: str) -> str:
    """The IAM resource for rds-db:connect: the instance's DbiResourceId (not its identifier) and the user.

    https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.IAMPolicy.html
    """
    return f"arn:aws:rds-db:{region}:{account_id}:dbuser:{resource_id}/{username}"


#: Where the app's pods find the RDS CA bundle (a ConfigMap volume, components/app_service/trust.py).
RDS_CA_DIR = "/etc/care/rds-ca"
RDS_CA_PATH = f"{RDS_CA_DIR}/rds-ca.pem"


@dataclass(frozen=True)
class PostgresBinding:
    """How an app binds to a database: its own user through IAM authentication, over TLS, no password."""

    host: pulumi.Input[str]
    port: int
    database_name: str
    username: str
    #: DbiResourceIds of the primary and the replicas (each instance has its own).
    resource_ids: Sequence[pulumi.Input[str]]
    reader_hosts: Sequence[pulumi.Input[str]] = ()
    #: The PEM roots the server certificate is verified against (components/rds_ca.py bundle_for); the app's
    #: pods get it at ``RDS_CA_PATH``. Empty (tests of other parts only): TLS without verification.
    ca_bundle: str = ""

    @classmethod
    def of(cls, db: PostgresDatabase, ca_bundle: str = "") -> PostgresBinding:
        return cls(host=db.endpoint, port=db.port, database_name=db.database_name, username=db.app_username,
                   resource_ids=db.resource_ids, reader_hosts=db.reader_endpoints, ca_bundle=ca_bundle)

    def environment(self) -> dict[str, pulumi.Input[str]]:
        env: dict[str, pulumi.Input[str]] = {
            "DATABASE_HOST": self.host, "DATABASE_PORT": str(self.port), "DATABASE_NAME": self.database_name,
            "DATABASE_USER": self.username, "DATABASE_IAM_AUTH": "true",
            # IAM authentication requires TLS; the parameter group refuses anything else (rds.force_ssl=1).
            # verify-full: the chain up to the RDS root and the host name (https://www.postgresql.org/docs/current/libpq-ssl.html).
            "DATABASE_SSLMODE": "verify-full" if self.ca_bundle else "require",
        }
        if self.ca_bundle:
            env["DATABASE_SSLROOTCERT"] = RDS_CA_PATH
        if self.reader_hosts:
            env["DATABASE_READER_HOSTS"] = pulumi.Output.all(*self.reader_hosts).apply(",".join)
        return env

    def secrets(self) -> Mapping[str, SecretRef]:
        return {}  # IAM database authentication: a 15-minute token from the role, no password

    def iam_policies(self, region: str, account_id: str) -> Mapping[str, pulumi.Input[str]]:
        return {"rds-connect": self.connect_policy(region, account_id)}

    def connect_policy(self, region: str, account_id: str) -> pulumi.Output[str]:
        """IAM policy: rds-db:connect as this user only, on the primary and its replicas."""

        def document(ids: list[str]) -> str:
            return json.dumps({"Version": "2012-10-17", "Statement": [{
                "Sid": "ConnectAsAppUser", "Effect": "Allow", "Action": "rds-db:connect",
                "Resource": [rds_db_user_arn(region, account_id, rid, self.username) for rid in ids],
            }]})

        return pulumi.Output.all(*self.resource_ids).apply(document)


@dataclass(frozen=True)
class RedisBinding:
    """ElastiCache Redis over TLS with its AUTH token (read from the cluster's Secrets Manager secret)."""

    host: pulumi.Input[str]
    port: int
    auth_secret_arn: pulumi.Input[str]

    @classmethod
    def of(cls, redis: RedisCluster) -> RedisBinding:
        return cls(host=redis.configuration_endpoint, port=redis.port, auth_secret_arn=redis.auth_secret_arn)

    def environment(self) -> Mapping[str, pulumi.Input[str]]:
        return {"REDIS_HOST": self.host, "REDIS_PORT": str(self.port), "REDIS_TLS": "true"}

    def secrets(self) -> Mapping[str, SecretRef]:
        return {"REDIS_AUTH_TOKEN": SecretRef(self.auth_secret_arn, "authToken")}

    def iam_policies(self, region: str, account_id: str) -> Mapping[str, pulumi.Input[str]]:
        return {}


def msk_client_policy(cluster_arn: pulumi.Input[str], *, write: bool = False) -> pulumi.Output[str]:
    """IAM access control for an MSK client: connect, read topics and use consumer groups (and write, if asked).

    https://docs.aws.amazon.com/msk/latest/developerguide/iam-access-control.html
    """

    def document(arn: str) -> str:
        topics = arn.replace(":cluster/", ":topic/", 1) + "/*"
        groups = arn.replace(":cluster/", ":group/", 1) + "/*"
        topic_actions = ["kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"]
        if write:
            topic_actions.append("kafka-cluster:WriteData")
        return json.dumps({"Version": "2012-10-17", "Statement": [
            {"Sid": "Connect", "Effect": "Allow", "Resource": arn,
             "Action": ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster"]},
            {"Sid": "Topics", "Effect": "Allow", "Resource": topics, "Action": topic_actions},
            {"Sid": "ConsumerGroups", "Effect": "Allow", "Resource": groups,
             "Action": ["kafka-cluster:AlterGroup", "kafka-cluster:DescribeGroup"]},
        ]})

    return pulumi.Output.from_input(cluster_arn).apply(document)


@dataclass(frozen=True)
class KafkaBinding:
    """MSK over SASL_SSL: IAM access control (an MSK client policy on the role) or SASL/SCRAM."""

    cluster_arn: pulumi.Input[str]
    bootstrap_brokers: pulumi.Input[str]
    iam_auth: bool = True
    write: bool = False

    @classmethod
    def of(cls, kafka: KafkaCluster, *, write: bool = False) -> KafkaBinding:
        return cls(cluster_arn=kafka.arn, bootstrap_brokers=kafka.bootstrap_brokers, iam_auth=kafka.client_auth_iam,
                   write=write)

    def environment(self) -> Mapping[str, pulumi.Input[str]]:
        return {"KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_brokers, "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                "KAFKA_SASL_MECHANISM": "AWS_MSK_IAM" if self.iam_auth else "SCRAM-SHA-512"}

    def secrets(self) -> Mapping[str, SecretRef]:
        return {}

    def iam_policies(self, region: str, account_id: str) -> Mapping[str, pulumi.Input[str]]:
        # The role policy keeps the logical name it had before bindings (``<app>-irsa-policy``).
        return {"policy": msk_client_policy(self.cluster_arn, write=self.write)} if self.iam_auth else {}


@dataclass(frozen=True)
class ChromaDbBinding:
    """The ChromaDB server's URL and its client token (token authentication)."""

    url: pulumi.Input[str]
    token_secret_arn: pulumi.Input[str]

    @classmethod
    def of(cls, chromadb: ChromaDb) -> ChromaDbBinding:
        return cls(url=chromadb.url, token_secret_arn=chromadb.token_secret_arn)

    def environment(self) -> Mapping[str, pulumi.Input[str]]:
        return {"CHROMA_URL": self.url}

    def secrets(self) -> Mapping[str, SecretRef]:
        return {"CHROMA_AUTH_TOKEN": SecretRef(self.token_secret_arn)}

    def iam_policies(self, region: str, account_id: str) -> Mapping[str, pulumi.Input[str]]:
        return {}


@dataclass(frozen=True)
class Wiring:
    """All bindings of one app, merged: each variable and each policy from exactly one binding."""

    environment: dict[str, pulumi.Input[str]]
    secrets: dict[str, SecretRef]
    iam_policies: dict[str, pulumi.Input[str]]

    @classmethod
    def merge(cls, name: str, bindings: Sequence[Binding], region: str, account_id: str) -> Wiring:
        environment: dict[str, pulumi.Input[str]] = {}
        secrets: dict[str, SecretRef] = {}
        policies: dict[str, pulumi.Input[str]] = {}
        for binding in bindings:
            env, refs = binding.environment(), binding.secrets()
            clash = (set(env) | set(refs)) & (set(environment) | set(secrets)) | set(env) & set(refs)
            if clash:
                raise ValueError(f"{name}: variables set twice (bindings): {', '.join(sorted(clash))}")
            own = binding.iam_policies(region, account_id)
            if set(own) & set(policies):
                raise ValueError(f"{name}: IAM policies named twice (bindings): "
                                 f"{', '.join(sorted(set(own) & set(policies)))}")
            environment.update(env)
            secrets.update(refs)
            policies.update(own)
        return cls(environment, secrets, policies)
