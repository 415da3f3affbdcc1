"""PostgresDatabase: the prod PRM database (Multi-AZ, 2 replicas, DR backups) and a dev-shaped one."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pytest

from components.database import DatabasesConfig, PostgresDatabase
from tests.helpers import PROD_TAGS, render, stack_config, stack_raw, untagged

KEY = "arn:aws:kms:us-east-2:333333333333:key/database"
SECRETS_KEY = "arn:aws:kms:us-east-2:333333333333:key/secrets"
LOGS_KEY = "arn:aws:kms:us-east-2:333333333333:key/logs"
DR_KEY = "arn:aws:kms:us-west-2:333333333333:key/dr-database"
ZONES = ["us-east-2a", "us-east-2b", "us-east-2c"]
CLIENT_SG = "sg-0workload"
COMPONENT = "care:data:PostgresDatabase"


def _build(config, *, dr: bool, protect: bool, name: str = "care-prod-prm") -> dict:
    result: dict = {}

    def program() -> None:
        dr_provider = aws.Provider("aws-dr", region="us-west-2") if dr else None
        db = PostgresDatabase(
            name, config, vpc_id="vpc-0abc", subnet_ids=["subnet-a", "subnet-b", "subnet-c"],
            availability_zones=ZONES, client_security_group_ids=[CLIENT_SG], account_id="333333333333",
            region="us-east-2", kms_key_arn=KEY,
            secret_kms_key_arn=SECRETS_KEY, logs_kms_key_arn=LOGS_KEY, log_retention_days=365,
            dr_kms_key_arn=DR_KEY if dr else None, dr_provider=dr_provider, protect=protect,
            deletion_protection=protect, skip_final_snapshot=not protect, tags=PROD_TAGS,
        )
        pulumi.export("endpoint", db.endpoint)
        pulumi.export("readers", db.reader_endpoints)
        pulumi.export("secret", db.master_secret_arn)
        pulumi.export("resourceIds", db.resource_ids)
        pulumi.export("env", db.binding.environment())
        pulumi.export("connectPolicy", db.binding.connect_policy("us-east-2", "333333333333"))
        result["port"] = db.port
        result["pitr"] = db.point_in_time_recovery

    return {"plan": render(program), **result}


@pytest.fixture(scope="module")
def prod():
    return _build(stack_config("prod").database.prm, dr=True, protect=True)


@pytest.fixture(scope="module")
def dev():
    config = DatabasesConfig.model_validate(stack_raw("dev")["database"]).prm
    return _build(config, dr=False, protect=False, name="care-dev-prm")


def test_children_and_counts(prod):
    plan = prod["plan"]
    component = plan.of_type(COMPONENT)[0]
    children = [r for r in plan.resources if r.parent == component.urn]
    assert sorted(r.type for r in children) == sorted([
        "aws:ec2/securityGroup:SecurityGroup", "aws:rds/subnetGroup:SubnetGroup",
        "aws:rds/parameterGroup:ParameterGroup", "aws:rds/parameterGroup:ParameterGroup",
        "aws:iam/role:Role", "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        *["aws:cloudwatch/logGroup:LogGroup"] * 6,
        "aws:rds/instance:Instance", "aws:rds/instance:Instance", "aws:rds/instance:Instance",
        "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication",
        "random:index/randomPassword:RandomPassword", "aws:secretsmanager/secret:Secret",
        "aws:secretsmanager/secretVersion:SecretVersion",
    ])
    assert all(r.type == COMPONENT or r.parent == component.urn or r.is_provider for r in plan.resources)
    assert untagged(plan, PROD_TAGS) == []


def test_primary_is_the_seeds_instance(prod):
    primary = prod["plan"].named("care-prod-prm-primary")
    i = primary.inputs
    assert (i["identifier"], i["engine"], i["engineVersion"], i["instanceClass"]) == (
        "care-prod-prm", "postgres", "18", "db.r5.xlarge")
    assert i["multiAz"] is True and "availabilityZone" not in i
    assert (i["storageType"], i["allocatedStorage"], i["maxAllocatedStorage"]) == ("gp3", 200, 1000)
    assert (i["storageEncrypted"], i["kmsKeyId"]) == (True, KEY)
    # RDS refuses replicas of an instance whose master password it manages: a stack-generated secret instead.
    assert "manageMasterUserPassword" not in i and "masterUserSecretKmsKeyId" not in i
    assert (i["username"], i["password"]) == ("care_admin", "[secret]")
    assert i["iamDatabaseAuthenticationEnabled"] is True
    assert i["publiclyAccessible"] is False
    assert i["enabledCloudwatchLogsExports"] == ["postgresql", "upgrade"]
    assert primary.protect is True


def test_backups_windows_and_protection(prod):
    i = prod["plan"].named("care-prod-prm-primary").inputs
    assert i["backupRetentionPeriod"] == 30
    assert (i["backupWindow"], i["maintenanceWindow"]) == ("03:00-03:30", "sun:05:00-sun:06:00")
    assert i["copyTagsToSnapshot"] is True
    assert i["deleteAutomatedBackups"] is False
    assert (i["deletionProtection"], i["skipFinalSnapshot"], i["finalSnapshotIdentifier"]) == (
        True, False, "care-prod-prm-final")
    assert i["applyImmediately"] is False
    assert (i["autoMinorVersionUpgrade"], i["allowMajorVersionUpgrade"]) == (True, False)
    assert i["tags"] == {"Name": "care-prod-prm", **PROD_TAGS, "Backup": "true"}


def test_monitoring(prod):
    plan = prod["plan"]
    i = plan.named("care-prod-prm-primary").inputs
    assert (i["performanceInsightsEnabled"], i["performanceInsightsKmsKeyId"],
            i["performanceInsightsRetentionPeriod"]) == (True, KEY, 7)
    assert i["monitoringInterval"] == 60
    assert i["monitoringRoleArn"] == "arn:aws:iam::123456789012:role/care-prod-prm-monitoring-role"
    # Confused-deputy guard: RDS may assume the role only for this account's primary and its replicas.
    assert json.loads(plan.named("care-prod-prm-monitoring-role").inputs["assumeRolePolicy"]) == {
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "monitoring.rds.amazonaws.com"}, "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": "333333333333"},
                          "ArnLike": {"aws:SourceArn": ["arn:aws:rds:us-east-2:333333333333:db:care-prod-prm",
                                                        "arn:aws:rds:us-east-2:333333333333:db:care-prod-prm-replica-*"]}},
        }]}
    assert plan.named("care-prod-prm-monitoring-policy").inputs["policyArn"] == (
        "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole")


def test_parameter_groups(prod):
    plan = prod["plan"]
    params = plan.named("care-prod-prm-params").inputs
    assert (params["namePrefix"], params["family"]) == ("care-prod-prm-params-", "postgres18")
    assert "name" not in params  # a prefix: a replacement (family change) is created before the old is deleted
    values = {p["name"]: (p["value"], p["applyMethod"]) for p in params["parameters"]}
    assert values == {
        "rds.force_ssl": ("1", "immediate"), "log_statement": ("ddl", "immediate"),
        "log_connections": ("1", "immediate"), "log_disconnections": ("1", "immediate"),
        "log_min_duration_statement": ("1000", "immediate"),
    }
    replica = {p["name"]: p["value"] for p in plan.named("care-prod-prm-replica-params").inputs["parameters"]}
    assert replica["rds.force_ssl"] == "1" and replica["hot_standby_feedback"] == "1"
    replica_params = plan.named("care-prod-prm-replica-params").inputs
    assert (replica_params["namePrefix"], replica_params["family"]) == ("care-prod-prm-replica-params-", "postgres18")
    group_name = plan.named("care-prod-prm-primary").inputs["parameterGroupName"]
    assert group_name.startswith("care-prod-prm-params-") and len(group_name) == len("care-prod-prm-params-") + 26


def test_replicas_take_only_what_aws_accepts(prod):
    plan = prod["plan"]
    replicas = [plan.named(f"care-prod-prm-replica-{n}") for n in (1, 2)]
    assert [r.inputs["availabilityZone"] for r in replicas] == ["us-east-2b", "us-east-2c"]
    for n, replica in enumerate(replicas, start=1):
        i = replica.inputs
        assert i["replicateSourceDb"] == "care-prod-prm"
        assert i["identifier"] == f"care-prod-prm-replica-{n}"
        assert i["instanceClass"] == "db.r5.xlarge"
        assert i["storageEncrypted"] is True  # with the source's key: a same-region replica takes no kmsKeyId
        assert i["parameterGroupName"].startswith("care-prod-prm-replica-params-")
        assert (i["copyTagsToSnapshot"], i["autoMinorVersionUpgrade"]) == (True, True)
        assert i["skipFinalSnapshot"] is True
        assert i["multiAz"] is False
        for rejected in ("kmsKeyId", "username", "password", "manageMasterUserPassword", "masterUserSecretKmsKeyId",
                         "dbName", "backupRetentionPeriod", "backupWindow", "dbSubnetGroupName",
                         "engine", "finalSnapshotIdentifier", "allocatedStorage"):
            assert rejected not in i, rejected
        assert "Backup" not in i["tags"]
        assert replica.protect is True


def test_log_groups_exist_before_rds_writes_them(prod):
    plan = prod["plan"]
    groups = {r.inputs["name"]: r for r in plan.of_type("aws:cloudwatch/logGroup:LogGroup")}
    assert sorted(groups) == sorted(f"/aws/rds/instance/{i}/{e}" for i in
                                    ("care-prod-prm", "care-prod-prm-replica-1", "care-prod-prm-replica-2")
                                    for e in ("postgresql", "upgrade"))
    for group in groups.values():
        assert (group.inputs["kmsKeyId"], group.inputs["retentionInDays"]) == (LOGS_KEY, 365)
    primary = plan.named("care-prod-prm-primary")
    assert groups["/aws/rds/instance/care-prod-prm/postgresql"].urn in primary.dependencies


def test_security_group_admits_only_clients(prod):
    sg = prod["plan"].named("care-prod-prm-sg").inputs
    assert sg["ingress"] == [{"protocol": "tcp", "fromPort": 5432, "toPort": 5432, "securityGroups": [CLIENT_SG],
                              "description": "PostgreSQL from clients"}]
    assert sg["egress"] == []
    subnets = prod["plan"].named("care-prod-prm-subnets").inputs
    assert subnets["subnetIds"] == ["subnet-a", "subnet-b", "subnet-c"]
    assert (subnets["namePrefix"], "name" in subnets) == ("care-prod-prm-subnets-", False)


def test_backups_replicate_to_dr(prod):
    plan = prod["plan"]
    replication = plan.of_type(
        "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication")[0]
    assert replication.inputs == {
        "sourceDbInstanceArn": "arn:aws:rds:us-east-2:123456789012:db:care-prod-prm",
        "kmsKeyId": DR_KEY, "retentionPeriod": 30,
    }
    assert replication.provider.startswith(plan.named("aws-dr").urn)


def test_outputs(prod):
    outputs = prod["plan"].outputs
    assert outputs["endpoint"].startswith("care-prod-prm.c") and outputs["endpoint"].endswith(
        ".us-east-2.rds.amazonaws.com")
    assert [r.split(".")[0] for r in outputs["readers"]] == ["care-prod-prm-replica-1", "care-prod-prm-replica-2"]
    assert outputs["secret"].startswith("arn:aws:secretsmanager:us-east-2:123456789012:secret:care-prod-prm-master-")
    assert [rid.startswith("db-") for rid in outputs["resourceIds"]] == [True, True, True]
    assert prod["pitr"] == {"enabled": True, "retentionDays": 30, "replicatedToDr": True}
    assert prod["port"] == 5432


def test_dev_shape_is_single_az_and_unprotected(dev):
    plan = dev["plan"]
    primary = plan.named("care-dev-prm-primary")
    i = primary.inputs
    assert (i["multiAz"], i["availabilityZone"], i["instanceClass"]) == (False, "us-east-2a", "db.t4g.medium")
    assert (i["deletionProtection"], i["skipFinalSnapshot"], primary.protect) == (False, True, False)
    assert i["storageEncrypted"] is True and i["backupRetentionPeriod"] == 7
    assert plan.of_type("aws:rds/instance:Instance") == [primary]
    assert plan.of_type("aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication") == []
    assert plan.outputs["readers"] == []


def test_master_password_is_a_stack_secret_in_secrets_manager(prod):
    plan = prod["plan"]
    password = plan.named("care-prod-prm-master-password").inputs
    assert password == {"length": 40, "special": True, "overrideSpecial": "!#$%&*()-_=+[]{}<>:?", "minLower": 1,
                        "minUpper": 1, "minNumeric": 1}
    assert not set(password["overrideSpecial"]) & set('/"@ ')  # RDS refuses these in a master password
    secret = plan.named("care-prod-prm-master-secret")
    assert secret.inputs == {
        "namePrefix": "care-prod-prm-master-", "kmsKeyId": SECRETS_KEY, "recoveryWindowInDays": 30,
        "description": "care-prod-prm: PostgreSQL master user (bootstrap only; apps use IAM authentication)",
        "tags": {"Name": "care-prod-prm-master-secret", **PROD_TAGS},
    }
    assert secret.protect is True
    version = plan.named("care-prod-prm-master-secret-value")
    assert version.inputs["secretString"] == "[secret]"
    assert plan.named("care-prod-prm-primary").urn in version.dependencies
    value = json.loads(version.unmasked_inputs()["secretString"])
    assert {k: v for k, v in value.items() if k not in ("host", "password")} == {
        "engine": "postgres", "port": 5432, "dbname": "app", "username": "care_admin"}
    assert value["password"] == "[offline random care-prod-prm-master-password]"


def test_apps_bind_with_their_own_iam_user_never_the_master(prod):
    outputs = prod["plan"].outputs
    env = outputs["env"]
    assert {k: v for k, v in env.items() if k not in ("DATABASE_HOST", "DATABASE_READER_HOSTS")} == {
        "DATABASE_PORT": "5432", "DATABASE_NAME": "app", "DATABASE_USER": "prm_api",
        "DATABASE_IAM_AUTH": "true", "DATABASE_SSLMODE": "require"}
    assert env["DATABASE_HOST"] == outputs["endpoint"]
    assert env["DATABASE_READER_HOSTS"] == ",".join(outputs["readers"])
    policy = json.loads(outputs["connectPolicy"])
    assert policy["Statement"] == [{
        "Sid": "ConnectAsAppUser", "Effect": "Allow", "Action": "rds-db:connect",
        "Resource": [f"arn:aws:rds-db:us-east-2:333333333333:dbuser:{rid}/prm_api" for rid in outputs["resourceIds"]],
    }]


def test_monitoring_role_policy_is_attached_before_rds_uses_it(prod):
    plan = prod["plan"]
    attachment = plan.named("care-prod-prm-monitoring-policy").urn
    for name in ("care-prod-prm-primary", "care-prod-prm-replica-1", "care-prod-prm-replica-2"):
        assert attachment in plan.named(name).dependencies, name


def test_the_pinned_major_is_offered_and_not_deprecated_in_cfn_lints_rds_data():
    """cfn-lint ships AWS's RDS engine-version data (and flags 16.4 and 17 with W3691 for new instances)."""
    from pathlib import Path

    import cfnlint

    from components.database import OFFERED_MAJORS

    data = Path(cfnlint.__file__).parent / "data/schemas/extensions/aws_rds_dbinstance"

    def postgres_versions(file: str) -> set[str]:
        for block in json.loads((data / file).read_text())["allOf"]:
            condition = block["if"]["properties"]
            if condition.get("Engine", {}).get("const") == "postgres" and "EngineVersion" in condition:
                return set(condition["EngineVersion"]["enum"])
        raise AssertionError(f"no postgres block in {file}")

    def offered(file: str) -> set[str]:
        for block in json.loads((data / file).read_text())["allOf"]:
            if block.get("if", {}).get("properties", {}).get("Engine", {}).get("const") == "postgres":
                return set(block["then"]["properties"]["EngineVersion"]["enum"])
        raise AssertionError(f"no postgres block in {file}")

    deprecated = postgres_versions("engine_version_deprecated.json")
    assert {"16.4", "17"} <= deprecated
    assert OFFERED_MAJORS == ("18",)
    for major in OFFERED_MAJORS:
        assert major in offered("engine_version.json") and major not in deprecated
