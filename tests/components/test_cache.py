"""RedisCluster: the prod replication group (3 shards x 1 replica, Multi-AZ, TLS, one RBAC user per app) and a
dev-shaped one."""

from __future__ import annotations

import pulumi
import pytest

from components.cache import CacheConfig, RedisCluster, RedisUser, password_slots
from tests.helpers import PROD_TAGS, render, stack_config, stack_raw, untagged

KEY = "arn:aws:kms:us-east-2:333333333333:key/cache"
SECRETS_KEY = "arn:aws:kms:us-east-2:333333333333:key/secrets"
LOGS_KEY = "arn:aws:kms:us-east-2:333333333333:key/logs"
CLIENT_SG = "sg-0workload"
COMPONENT = "care:data:RedisCluster"
RG = "aws:elasticache/replicationGroup:ReplicationGroup"
USERS = {"prm-api": RedisUser("on ~prm-api:* +@all -@dangerous"),
         "prm-worker": RedisUser("on ~prm-worker:* +@all -@dangerous")}


def _render(config, *, protect: bool, name: str, users: dict[str, RedisUser] = USERS):
    def program() -> None:
        redis = RedisCluster(
            name, config, vpc_id="vpc-0abc", subnet_ids=["subnet-a", "subnet-b", "subnet-c"],
            client_security_group_ids=[CLIENT_SG], kms_key_arn=KEY, secret_kms_key_arn=SECRETS_KEY,
            logs_kms_key_arn=LOGS_KEY, users=users, log_retention_days=365, protect=protect,
            skip_final_snapshot=not protect, tags=PROD_TAGS,
        )
        pulumi.export("endpoint", redis.configuration_endpoint)
        pulumi.export("secretArns", redis.user_secret_arns)

    return render(program)


@pytest.fixture(scope="module")
def prod():
    return _render(stack_config("prod").cache, protect=True, name="care-prod-redis")


@pytest.fixture(scope="module")
def dev():
    return _render(CacheConfig.model_validate(stack_raw("dev")["cache"]), protect=False, name="care-dev-redis")


def test_children(prod):
    component = prod.of_type(COMPONENT)[0]
    assert sorted(r.type for r in prod.resources if r.parent == component.urn) == sorted([
        "aws:ec2/securityGroup:SecurityGroup", "aws:elasticache/subnetGroup:SubnetGroup",
        "aws:elasticache/parameterGroup:ParameterGroup", "aws:cloudwatch/logGroup:LogGroup",
        RG, "aws:elasticache/userGroup:UserGroup", *["aws:elasticache/user:User"] * 3,
        # The default user's password, and two slots per app user.
        *["random:index/randomPassword:RandomPassword"] * 5,
        *["aws:secretsmanager/secret:Secret", "aws:secretsmanager/secretVersion:SecretVersion"] * 2,
    ])
    assert untagged(prod, PROD_TAGS) == []


def test_cluster_mode_multi_az_sizes(prod):
    group = prod.named("care-prod-redis-group")
    i = group.inputs
    assert (i["replicationGroupId"], i["engine"], i["engineVersion"], i["nodeType"]) == (
        "care-prod-redis", "redis", "7.1", "cache.r6g.large")
    assert (i["clusterMode"], i["numNodeGroups"], i["replicasPerNodeGroup"]) == ("enabled", 3, 1)
    assert "numCacheClusters" not in i
    assert (i["automaticFailoverEnabled"], i["multiAzEnabled"]) == (True, True)
    assert i["subnetGroupName"] == "care-prod-redis-subnets"
    assert prod.named("care-prod-redis-subnets").inputs["subnetIds"] == ["subnet-a", "subnet-b", "subnet-c"]
    assert group.protect is True


def test_encryption_and_rbac_instead_of_an_auth_token(prod):
    i = prod.named("care-prod-redis-group").inputs
    assert (i["atRestEncryptionEnabled"], i["kmsKeyId"]) == (True, KEY)
    assert i["transitEncryptionEnabled"] is True
    assert "authToken" not in i
    # DELETE: the one ModifyReplicationGroup that migrates an AUTH group adds the user group and drops the token.
    assert (i["userGroupIds"], i["authTokenUpdateStrategy"]) == (["care-prod-redis-users"], "DELETE")
    group = prod.named("care-prod-redis-users")
    assert group.inputs == {"userGroupId": "care-prod-redis-users", "engine": "redis",
                            "userIds": ["care-prod-redis-default", "care-prod-redis-prm-api",
                                        "care-prod-redis-prm-worker"],
                            "tags": {**PROD_TAGS, "Name": "care-prod-redis-users"}}
    assert group.urn in prod.named("care-prod-redis-group").dependencies


def test_default_user_is_disabled_and_each_app_has_its_own_user(prod):
    default = prod.named("care-prod-redis-user-default").inputs
    assert (default["userId"], default["userName"], default["engine"], default["accessString"]) == (
        "care-prod-redis-default", "default", "redis", "off -@all")
    assert default["authenticationMode"] == {"type": "password", "passwords": ["[secret]"]}
    for app in ("prm-api", "prm-worker"):
        user = prod.named(f"care-prod-redis-user-{app}").inputs
        assert (user["userId"], user["userName"], user["engine"], user["accessString"]) == (
            f"care-prod-redis-{app}", app, "redis", f"on ~{app}:* +@all -@dangerous")
        # Two passwords: the current one and the one the running pods may still hold.
        assert user["authenticationMode"] == {"type": "password", "passwords": ["[secret]", "[secret]"]}
        for slot, keeper in (("a", "1"), ("b", "0")):
            password = prod.named(f"care-prod-redis-{app}-password-{slot}").inputs
            assert (password["length"], password["special"], password["keepers"]) == (64, False, {"generation": keeper})
        secret = prod.named(f"care-prod-redis-{app}-credentials").inputs
        assert (secret["name"], secret["kmsKeyId"], secret["recoveryWindowInDays"]) == (
            f"care-prod-redis/users/{app}", SECRETS_KEY, 30)
        assert prod.named(f"care-prod-redis-{app}-credentials-version").inputs["secretString"] == "[secret]"


def test_a_group_moving_from_the_auth_token_keeps_the_old_token_on_the_default_user_until_phase_2():
    config = stack_config("prod").cache.model_copy(update={"legacy_auth_token_generation": 3})
    plan = _render(config, protect=True, name="care-prod-redis",
                   users={"prm-api": RedisUser("on ~prm-api:* +@all")})
    # The pre-RBAC token resource exactly as it was (same URN and inputs, so Pulumi keeps its value): old pods'
    # one-argument AUTH lands on the default user, which has the access the token had.
    token = plan.named("care-prod-redis-auth-token")
    assert token.urn == ("urn:pulumi:test::care-platform::care:data:RedisCluster$random:index/randomPassword:"
                         "RandomPassword::care-prod-redis-auth-token")
    assert (token.inputs["length"], token.inputs["special"]) == (64, False)
    assert token.inputs["keepers"] == {"generation": "3"}
    default = plan.named("care-prod-redis-user-default")
    assert default.inputs["accessString"] == "on ~* +@all"
    assert token.urn in default.property_dependencies["authenticationMode"]
    assert [r.name for r in plan.resources if r.name == "care-prod-redis-user-default-password"] == []
    # Phase 2 (unset): the default user is off again with a password nobody holds.
    assert _render(stack_config("prod").cache, protect=True, name="care-prod-redis", users={
        "prm-api": RedisUser("on ~prm-api:* +@all")}).named("care-prod-redis-user-default").inputs["accessString"] == (
        "off -@all")


def test_password_generations_renew_one_slot_at_a_time():
    # (slot a, slot b) keepers: each bump renews exactly one slot, the other is the password pods still hold.
    assert [password_slots(g) for g in (1, 2, 3, 4)] == [(1, 0), (1, 1), (2, 1), (2, 2)]
    rotated = _render(stack_config("prod").cache, protect=True, name="care-prod-redis",
                      users={"prm-api": RedisUser("on ~prm-api:* +@all", password_generation=2)})
    assert rotated.named("care-prod-redis-prm-api-password-a").inputs["keepers"] == {"generation": "1"}
    assert rotated.named("care-prod-redis-prm-api-password-b").inputs["keepers"] == {"generation": "1"}
    assert rotated.named("care-prod-redis-users").inputs["userIds"] == ["care-prod-redis-default",
                                                                        "care-prod-redis-prm-api"]


@pytest.mark.parametrize("generation,current,previous", [(1, "a", "b"), (2, "b", "a"), (3, "a", "b")])
def test_the_apps_secret_holds_the_slot_the_latest_generation_renewed(generation, current, previous):
    # Passwords are masked in the preview, so follow the data: the secret's value must be built from the slot the
    # latest generation renewed (the one pods are about to get), never from the one the next rotation replaces.
    plan = _render(stack_config("prod").cache, protect=True, name="care-prod-redis",
                   users={"prm-api": RedisUser("on ~prm-api:* +@all", password_generation=generation)})
    slot = {s: plan.named(f"care-prod-redis-prm-api-password-{s}").urn for s in ("a", "b")}
    secret_deps = plan.named("care-prod-redis-prm-api-credentials-version").property_dependencies["secretString"]
    assert slot[current] in secret_deps and slot[previous] not in secret_deps
    user_deps = plan.named("care-prod-redis-user-prm-api").property_dependencies["authenticationMode"]
    assert {slot["a"], slot["b"]} <= set(user_deps)  # the user accepts both while pods move to the new one


def test_parameter_group_enables_cluster_mode(prod):
    params = prod.named("care-prod-redis-params")
    assert params.inputs["family"] == "redis7"
    assert params.inputs["parameters"] == [{"name": "cluster-enabled", "value": "yes"}]
    # Auto-named: a replacement (new family) is created before the old group goes, never colliding on a name.
    assert "name" not in params.inputs
    assert params.id.startswith("care-prod-redis-params-") and len(params.id) == len("care-prod-redis-params-") + 7
    assert prod.named("care-prod-redis-group").inputs["parameterGroupName"] == params.id


def test_engine_pinned_to_redis_7_1_with_automatic_minor_upgrades(prod):
    i = prod.named("care-prod-redis-group").inputs
    assert (i["engine"], i["engineVersion"], i["autoMinorVersionUpgrade"]) == ("redis", "7.1", True)


def test_snapshots_windows_and_slow_log(prod):
    i = prod.named("care-prod-redis-group").inputs
    assert (i["snapshotRetentionLimit"], i["snapshotWindow"], i["maintenanceWindow"]) == (
        7, "03:00-04:00", "sun:05:00-sun:06:00")
    assert i["finalSnapshotIdentifier"] == "care-prod-redis-final"
    assert i["applyImmediately"] is False
    assert i["logDeliveryConfigurations"] == [{
        "destination": "/aws/elasticache/care-prod-redis/slow-log", "destinationType": "cloudwatch-logs",
        "logFormat": "json", "logType": "slow-log",
    }]
    log = prod.named("care-prod-redis-slow-log").inputs
    assert (log["kmsKeyId"], log["retentionInDays"]) == (LOGS_KEY, 365)


def test_security_group_admits_only_clients(prod):
    sg = prod.named("care-prod-redis-sg").inputs
    assert sg["ingress"] == [{"protocol": "tcp", "fromPort": 6379, "toPort": 6379, "securityGroups": [CLIENT_SG],
                              "description": "Redis (TLS) from clients"}]
    assert sg["egress"] == []
    assert prod.named("care-prod-redis-group").inputs["securityGroupIds"] == [prod.named("care-prod-redis-sg").id]


def test_outputs(prod):
    assert prod.outputs["endpoint"].startswith("clustercfg.care-prod-redis.")
    assert sorted(prod.outputs["secretArns"]) == ["prm-api", "prm-worker"]
    for app, arn in prod.outputs["secretArns"].items():
        assert arn.startswith(f"arn:aws:secretsmanager:us-east-2:123456789012:secret:care-prod-redis/users/{app}-")


def test_dev_single_shard_no_failover_across_azs(dev):
    group = dev.named("care-dev-redis-group")
    i = group.inputs
    assert (i["numNodeGroups"], i["replicasPerNodeGroup"], i["multiAzEnabled"]) == (1, 0, False)
    assert i["automaticFailoverEnabled"] is True  # cluster mode requires it, even with one node per shard
    assert (i["atRestEncryptionEnabled"], i["transitEncryptionEnabled"]) == (True, True)
    assert "finalSnapshotIdentifier" not in i
    assert group.protect is False
    assert dev.named("care-dev-redis-prm-api-credentials").inputs["recoveryWindowInDays"] == 0
