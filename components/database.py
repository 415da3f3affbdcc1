"""RDS PostgreSQL: Multi-AZ, encrypted, IAM auth, a stack-managed master secret, replicas and DR backups.

Credentials. RDS refuses read replicas of an instance whose master password it manages in Secrets
Manager ("Creating a read replica when the source DB or DB cluster manages credentials with Secrets
Manager" is unsupported for every engine but SQL Server:
https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-secrets-manager.html#rds-secrets-manager-limitations).
So the master password is a pulumi-random secret, stored in a Secrets Manager secret encrypted with the
secrets key, and used only by the bootstrap Job (components/db_bootstrap.py) that creates the apps'
database users. Apps log in as their own user with IAM database authentication (rds-db:connect through
their IRSA role; ``PostgresBinding`` in components/app_service/bindings.py), never as the master user,
and hold no database password.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

import pulumi
import pulumi_aws as aws
import pulumi_random as random
from pydantic import AfterValidator, Field, model_validator

from components.app_service.bindings import PostgresBinding
from components.common import (
    BACKUP_TAG_KEY,
    ConfigModel,
    PinnedImage,
    child_opts,
    client_security_group,
    service_role_trust,
    tags_for,
)
from components.instance_classes import RdsInstanceClass
from components.problems import ProblemCollector
from components.rds_ca import CA_CERT_IDENTIFIER
from components.windows import check_lead_time, check_windows

#: Classes on which RDS offers no Performance Insights (the burstable micro/small sizes).
NO_PERFORMANCE_INSIGHTS = ("db.t2.micro", "db.t2.small", "db.t3.micro", "db.t3.small", "db.t4g.micro",
                           "db.t4g.small")

#: The CloudWatch log exports PostgreSQL offers; RDS writes them to /aws/rds/instance/<id>/<type>.
LOG_EXPORTS: tuple[str, ...] = ("postgresql", "upgrade")

#: PostgreSQL majors RDS offers for new instances and not deprecated in cfn-lint's RDS data (see engine_version).
OFFERED_MAJORS: tuple[str, ...] = ("18",)

ENHANCED_MONITORING_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"


def _rds_retention(value: int) -> int:
    if not 1 <= value <= 35:
        raise ValueError("RDS keeps automated backups (and so point-in-time recovery) for 1 to 35 days; "
                         "keep longer copies with AWS Backup (backup.retentionDays)")
    return value


def _pi_retention(value: int) -> int:
    if not (value in (7, 731) or (value % 31 == 0 and 31 <= value <= 713)):
        raise ValueError("Performance Insights keeps data for 7 days or a multiple of 31 days up to 731")
    return value


class DatabaseInstanceConfig(ConfigModel):
    instance_class: RdsInstanceClass
    #: The MAJOR version only: RDS picks the newest minor and upgrades minors in the maintenance window
    #: (autoMinorVersionUpgrade). 18 is the offered major with the longest standard support: cfn-lint's
    #: RDS data (cfnlint/data/schemas/extensions/aws_rds_dbinstance/engine_version*.json) offers
    #: 18 and lists 16 and 17 majors and 16.1-16.8 as deprecated for new instances; the calendar is at
    #: https://docs.aws.amazon.com/AmazonRDS/latest/PostgreSQLReleaseNotes/postgresql-release-calendar.html
    #: The provider compares engine_version by prefix when autoMinorVersionUpgrade is on ("you can provide
    #: a prefix of the version such as 8.0 ... the actual engine version used is returned in
    #: engineVersionActual": https://www.pulumi.com/registry/packages/aws/api-docs/rds/instance/), so a
    #: minor upgrade by AWS is no diff (a full pin is: github.com/briancaffey/terraform-aws-django/issues/59).
    engine_version: str = "18"
    multi_az: bool = True
    read_replicas: int = Field(default=0, ge=0, le=5)
    #: Class of the read replicas; the primary's class when not given.
    replica_instance_class: RdsInstanceClass | None = None
    allocated_storage_gib: int = Field(default=100, ge=20, le=65536)
    max_allocated_storage_gib: int = Field(default=500, ge=20, le=65536)
    backup_retention_days: Annotated[int, AfterValidator(_rds_retention)] = 30
    #: Daily UTC window for automated backups; must not overlap the maintenance window.
    backup_window: str = "03:00-03:30"
    #: Weekly UTC maintenance window.
    maintenance_window: str = "sun:05:00-sun:06:00"
    #: Off: changes wait for the maintenance window instead of restarting the database now.
    apply_immediately: bool = False
    #: On: AWS applies minor versions in the maintenance window; the major is pinned by engineVersion.
    auto_minor_version_upgrade: bool = True
    database_name: str = Field(default="app", pattern=r"^[a-z][a-z0-9_]{0,62}$")
    master_username: str = Field(default="care_admin", pattern=r"^[a-z][a-z0-9_]{0,62}$")
    #: The app's own database user (IAM authentication, created by the bootstrap Job); never the master.
    app_username: str = Field(default="app_user", pattern=r"^[a-z][a-z0-9_]{0,62}$")
    port: int = Field(default=5432, ge=1150, le=65535)
    performance_insights: bool = True
    performance_insights_retention_days: Annotated[int, AfterValidator(_pi_retention)] = 7
    monitoring_interval_seconds: Literal[0, 1, 5, 10, 15, 30, 60] = 60
    #: PostgreSQL ``log_statement``: which statements the server log records.
    log_statement: Literal["none", "ddl", "mod", "all"] = "ddl"
    log_connections: bool = True
    #: ``log_min_duration_statement`` in ms: statements slower than this are logged (-1: off).
    log_min_duration_statement_ms: int = Field(default=1000, ge=-1, le=3_600_000)
    #: Replicate automated backups (and so point-in-time recovery) to the DR region.
    replicate_backups_to_dr: bool = True

    @model_validator(mode="after")
    def _combinations(self) -> DatabaseInstanceConfig:
        problems = ProblemCollector()
        if self.engine_version not in OFFERED_MAJORS:
            problems.add("engineVersion", self.engine_version,
                         "must be a PostgreSQL major version RDS offers for new instances "
                         f"({', '.join(OFFERED_MAJORS)}), "
                         "the major only: autoMinorVersionUpgrade applies the minors")
        if not self.auto_minor_version_upgrade:
            problems.add("autoMinorVersionUpgrade", False,
                         "must be true: engineVersion pins the major only, and AWS's minor upgrades must not fight "
                         "the stack")
        if self.app_username == self.master_username or self.app_username.startswith(("rds", "pg_")):
            problems.add("appUsername", self.app_username,
                         f"must differ from masterUsername ({self.master_username}) and not start with rds or pg_ "
                         "(reserved): apps never log in as the master user")
        if self.max_allocated_storage_gib < self.allocated_storage_gib:
            problems.add("maxAllocatedStorageGib", self.max_allocated_storage_gib,
                         f"must be at least allocatedStorageGib ({self.allocated_storage_gib})")
        check_windows(problems, daily_key="backupWindow", daily=self.backup_window,
                      weekly_key="maintenanceWindow", weekly=self.maintenance_window)
        check_lead_time(problems, daily_key="backupWindow", daily=self.backup_window,
                        weekly_key="maintenanceWindow", weekly=self.maintenance_window)
        if self.performance_insights:
            for key, cls in (("instanceClass", self.instance_class),
                             ("replicaInstanceClass", self.replica_instance_class)):
                if cls in NO_PERFORMANCE_INSIGHTS:
                    problems.add(key, cls, "RDS offers no Performance Insights on this class: choose "
                                           "db.t4g.medium or larger, or set performanceInsights: false")
        problems.raise_if_any()
        return self


class DbBootstrapConfig(ConfigModel):
    """The Job that creates each database's app user (components/db_bootstrap.py)."""

    #: A psql client of the databases' major version (pinned; the official image on ECR Public).
    image: PinnedImage = "public.ecr.aws/docker/library/postgres:18.1-alpine"
    namespace: str = Field(default="db-bootstrap", pattern=r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
    timeout_seconds: int = Field(default=600, ge=60, le=3600)


class DatabasesConfig(ConfigModel):
    prm: DatabaseInstanceConfig
    nlfhir: DatabaseInstanceConfig
    #: The Job that creates each database's app user (components/db_bootstrap.py).
    bootstrap: DbBootstrapConfig = DbBootstrapConfig()


def _parameters(config: DatabaseInstanceConfig, *, replica: bool) -> list[aws.rds.ParameterGroupParameterArgs]:
    """Dynamic parameters only, so none of them needs a reboot."""
    values = {
        "rds.force_ssl": "1",
        "log_statement": config.log_statement,
        "log_connections": "1" if config.log_connections else "0",
        "log_disconnections": "1" if config.log_connections else "0",
        "log_min_duration_statement": str(config.log_min_duration_statement_ms),
    }
    if replica:
        # Fewer cancelled reads on the replicas when the primary vacuums rows they still need.
        values["hot_standby_feedback"] = "1"
    return [aws.rds.ParameterGroupParameterArgs(name=k, value=v, apply_method="immediate")
            for k, v in values.items()]


#: Printable ASCII but the characters RDS refuses in a master password ("/", '"', "@" and space).
_PASSWORD_SPECIALS = "!#$%&*()-_=+[]{}<>:?"


class PostgresDatabase(pulumi.ComponentResource):
    """RDS PostgreSQL, Multi-AZ, encrypted, with read replicas and cross-region automated backups."""

    endpoint: pulumi.Output[str]
    reader_endpoints: list[pulumi.Output[str]]
    port: int
    master_secret_arn: pulumi.Output[str]
    resource_ids: list[pulumi.Output[str]]
    security_group_id: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        config: DatabaseInstanceConfig,
        *,
        vpc_id: pulumi.Input[str],
        subnet_ids: Sequence[pulumi.Input[str]],
        availability_zones: Sequence[str],
        client_security_group_ids: Sequence[pulumi.Input[str]],
        account_id: str,
        region: str,
        kms_key_arn: pulumi.Input[str],
        secret_kms_key_arn: pulumi.Input[str],
        logs_kms_key_arn: pulumi.Input[str],
        log_retention_days: int,
        dr_kms_key_arn: pulumi.Input[str] | None = None,
        dr_provider: pulumi.ProviderResource | None = None,
        protect: bool = True,
        deletion_protection: bool = True,
        skip_final_snapshot: bool = False,
        tags: Mapping[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("care:data:PostgresDatabase", name, None, opts)
        child = child_opts(self)
        zones = list(availability_zones)

        self.security_group = client_security_group(
            f"{name}-sg", vpc_id=vpc_id, description=f"PostgreSQL {name}: port {config.port} from its clients only",
            ports=[(config.port, config.port, "PostgreSQL from clients")],
            client_security_group_ids=client_security_group_ids, tags=tags, opts=child,
        )
        self.security_group_id = self.security_group.id

        self.subnet_group = aws.rds.SubnetGroup(
            f"{name}-subnets",
            aws.rds.SubnetGroupArgs(
                # A prefix, not a fixed name: a replacement is created before the old one is deleted.
                name_prefix=f"{name}-subnets-", description=f"{name}: the database tier", subnet_ids=list(subnet_ids),
                tags=tags_for(tags, f"{name}-subnets"),
            ),
            child,
        )
        family = "postgres" + config.engine_version.split(".")[0]
        self.parameter_group = aws.rds.ParameterGroup(
            f"{name}-params",
            aws.rds.ParameterGroupArgs(
                # A prefix: a family change (major upgrade) replaces the group, create-before-delete.
                name_prefix=f"{name}-params-", family=family, description=f"{name}: TLS only, statement logging",
                parameters=_parameters(config, replica=False), tags=tags_for(tags, f"{name}-params"),
            ),
            child,
        )

        monitoring_role_arn: pulumi.Output[str] | None = None
        monitoring_deps: list[pulumi.Resource] = []
        if config.monitoring_interval_seconds:
            # Confused-deputy guard: RDS assumes the role for this account's instances only, the primary and
            # its replicas ("Protecting against the confused deputy problem",
            # https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_Monitoring.OS.Enabling.html#USER_Monitoring.OS.confused-deputy).
            instances = f"arn:aws:rds:{region}:{account_id}:db:{name}"
            role = aws.iam.Role(
                f"{name}-monitoring-role",
                aws.iam.RoleArgs(
                    description=f"RDS enhanced monitoring for {name}",
                    assume_role_policy=service_role_trust("monitoring.rds.amazonaws.com", source_account=account_id,
                                                          source_arns=[instances, f"{instances}-replica-*"]),
                    tags=tags_for(tags, f"{name}-monitoring-role"),
                ),
                child,
            )
            attachment = aws.iam.RolePolicyAttachment(
                f"{name}-monitoring-policy",
                aws.iam.RolePolicyAttachmentArgs(role=role.name, policy_arn=ENHANCED_MONITORING_POLICY),
                child,
            )
            monitoring_role_arn = role.arn
            monitoring_deps = [attachment]

        def log_groups(identifier: str) -> list[aws.cloudwatch.LogGroup]:
            # Created before the instance, so RDS finds them encrypted and with a retention.
            return [
                aws.cloudwatch.LogGroup(
                    f"{identifier}-log-{export}",
                    aws.cloudwatch.LogGroupArgs(
                        name=f"/aws/rds/instance/{identifier}/{export}", retention_in_days=log_retention_days,
                        kms_key_id=logs_kms_key_arn, tags=tags_for(tags, f"{identifier}-log-{export}"),
                    ),
                    child,
                )
                for export in LOG_EXPORTS
            ]

        pi_args: dict[str, Any] = dict(
            performance_insights_enabled=config.performance_insights,
            performance_insights_kms_key_id=kms_key_arn if config.performance_insights else None,
            performance_insights_retention_period=(config.performance_insights_retention_days
                                                   if config.performance_insights else None),
            monitoring_interval=config.monitoring_interval_seconds,
            monitoring_role_arn=monitoring_role_arn,
        )

        self.master_password = random.RandomPassword(
            f"{name}-master-password",
            random.RandomPasswordArgs(length=40, special=True, override_special=_PASSWORD_SPECIALS, min_lower=1,
                                      min_upper=1, min_numeric=1),
            child,
        )

        self.primary = aws.rds.Instance(
            f"{name}-primary",
            aws.rds.InstanceArgs(
                identifier=name,
                engine="postgres",
                engine_version=config.engine_version,
                instance_class=config.instance_class,
                db_name=config.database_name,
                username=config.master_username,
                # Not manage_master_user_password: RDS refuses replicas of such an instance (module docstring).
                password=self.master_password.result,
                iam_database_authentication_enabled=True,
                port=config.port,
                storage_type="gp3",
                allocated_storage=config.allocated_storage_gib,
                max_allocated_storage=config.max_allocated_storage_gib,
                storage_encrypted=True,
                kms_key_id=kms_key_arn,
                db_subnet_group_name=self.subnet_group.name,
                vpc_security_group_ids=[self.security_group.id],
                publicly_accessible=False,
                multi_az=config.multi_az,
                # RDS picks the AZs of a Multi-AZ pair; a single instance goes to the first AZ.
                availability_zone=None if config.multi_az else zones[0],
                parameter_group_name=self.parameter_group.name,
                enabled_cloudwatch_logs_exports=list(LOG_EXPORTS),
                backup_retention_period=config.backup_retention_days,
                backup_window=config.backup_window,
                maintenance_window=config.maintenance_window,
                copy_tags_to_snapshot=True,
                delete_automated_backups=False,
                deletion_protection=deletion_protection,
                skip_final_snapshot=skip_final_snapshot,
                final_snapshot_identifier=f"{name}-final",
                apply_immediately=config.apply_immediately,
                auto_minor_version_upgrade=config.auto_minor_version_upgrade,
                allow_major_version_upgrade=False,
                ca_cert_identifier=CA_CERT_IDENTIFIER,
                tags=tags_for(tags, name, **{BACKUP_TAG_KEY: "true"}),
                **pi_args,
            ),
            # The monitoring role's policy is attached before RDS assumes it; the log groups exist first.
            child_opts(self, protect=protect, depends_on=[*log_groups(name), *monitoring_deps]),
        )
        self._master_secret(name, config, secret_kms_key_arn, protect, tags)

        self.replicas: list[aws.rds.Instance] = []
        if config.read_replicas:
            self.replica_parameter_group = aws.rds.ParameterGroup(
                f"{name}-replica-params",
                aws.rds.ParameterGroupArgs(
                    name_prefix=f"{name}-replica-params-", family=family,
                    description=f"{name} read replicas: TLS only, statement logging, hot standby feedback",
                    parameters=_parameters(config, replica=True), tags=tags_for(tags, f"{name}-replica-params"),
                ),
                child,
            )
        for index in range(config.read_replicas):
            identifier = f"{name}-replica-{index + 1}"
            # Round-robin from the second AZ: replicas spread over the AZs, away from the first.
            zone = zones[(index + 1) % len(zones)]
            # A replica inherits engine, credentials, database name, subnet group and storage size from
            # its source; AWS rejects or ignores those here, and a replica takes no final snapshot.
            self.replicas.append(aws.rds.Instance(
                f"{name}-replica-{index + 1}",
                aws.rds.InstanceArgs(
                    identifier=identifier,
                    replicate_source_db=self.primary.identifier,
                    instance_class=config.replica_instance_class or config.instance_class,
                    availability_zone=zone,
                    multi_az=False,
                    storage_type="gp3",
                    max_allocated_storage=config.max_allocated_storage_gib,
                    # Encrypted with the source's key: RDS rejects a KmsKeyId on a same-region replica
                    # ("Your request does not require the KMS key parameter"); only cross-region ones take it.
                    storage_encrypted=True,
                    vpc_security_group_ids=[self.security_group.id],
                    publicly_accessible=False,
                    parameter_group_name=self.replica_parameter_group.name,
                    iam_database_authentication_enabled=True,
                    enabled_cloudwatch_logs_exports=list(LOG_EXPORTS),
                    maintenance_window=config.maintenance_window,
                    copy_tags_to_snapshot=True,
                    deletion_protection=deletion_protection,
                    skip_final_snapshot=True,
                    apply_immediately=config.apply_immediately,
                    auto_minor_version_upgrade=config.auto_minor_version_upgrade,
                    ca_cert_identifier=CA_CERT_IDENTIFIER,
                    tags=tags_for(tags, identifier, Role="read-replica"),
                    **pi_args,
                ),
                child_opts(self, protect=protect, depends_on=[*log_groups(identifier), *monitoring_deps]),
            ))

        self.backup_replication: aws.rds.InstanceAutomatedBackupsReplication | None = None
        if config.replicate_backups_to_dr and dr_provider is not None and dr_kms_key_arn is not None:
            self.backup_replication = aws.rds.InstanceAutomatedBackupsReplication(
                f"{name}-backup-replication",
                aws.rds.InstanceAutomatedBackupsReplicationArgs(
                    source_db_instance_arn=self.primary.arn,
                    kms_key_id=dr_kms_key_arn,
                    retention_period=config.backup_retention_days,
                ),
                child_opts(self, provider=dr_provider),
            )

        self.endpoint = self.primary.address
        self.port = config.port
        self.reader_endpoints = [replica.address for replica in self.replicas]
        self.resource_ids = [self.primary.resource_id, *(replica.resource_id for replica in self.replicas)]
        self.app_username = config.app_username
        self.database_name = config.database_name
        self.binding = PostgresBinding(host=self.endpoint, port=self.port, database_name=config.database_name,
                                       username=config.app_username, resource_ids=self.resource_ids,
                                       reader_hosts=self.reader_endpoints)
        # Point-in-time recovery is what a non-zero backup retention buys: restore to any second in it.
        self.point_in_time_recovery: dict[str, object] = {
            "enabled": config.backup_retention_days > 0,
            "retentionDays": config.backup_retention_days,
            "replicatedToDr": self.backup_replication is not None,
        }
        self.latest_restorable_time = self.primary.latest_restorable_time
        self.register_outputs({
            "endpoint": self.endpoint,
            "readerEndpoints": self.reader_endpoints,
            "port": self.port,
            "masterSecretArn": self.master_secret_arn,
            "resourceIds": self.resource_ids,
            "securityGroupId": self.security_group_id,
            "pointInTimeRecovery": self.point_in_time_recovery,
            "latestRestorableTime": self.latest_restorable_time,
        })


    def _master_secret(self, name: str, config: DatabaseInstanceConfig, kms_key_arn: pulumi.Input[str],
                       protect: bool, tags: Mapping[str, str]) -> None:
        """The master credentials in Secrets Manager (encrypted with the secrets key), for the bootstrap Job only."""
        self.master_secret = aws.secretsmanager.Secret(
            f"{name}-master-secret",
            aws.secretsmanager.SecretArgs(
                # A prefix: a deleted secret's name stays reserved for its recovery window.
                name_prefix=f"{name}-master-",
                description=f"{name}: PostgreSQL master user (bootstrap only; apps use IAM authentication)",
                kms_key_id=kms_key_arn,
                recovery_window_in_days=30 if protect else 7,
                tags=tags_for(tags, f"{name}-master-secret"),
            ),
            child_opts(self, protect=protect),
        )
        self.master_secret_version = aws.secretsmanager.SecretVersion(
            f"{name}-master-secret-value",
            aws.secretsmanager.SecretVersionArgs(
                secret_id=self.master_secret.id,
                # The keys RDS's own secrets use, so standard tooling and rotation templates read it.
                secret_string=pulumi.Output.secret(pulumi.Output.json_dumps({
                    "engine": "postgres", "host": self.primary.address, "port": config.port,
                    "dbname": config.database_name, "username": config.master_username,
                    "password": self.master_password.result,
                })),
            ),
            child_opts(self),
        )
        self.master_secret_arn = self.master_secret.arn
