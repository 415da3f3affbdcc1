"""Deploy stage: ElastiCache RBAC (users, user groups, the replication group's switch from AUTH), issue #16."""

from __future__ import annotations

from typing import Any

from pulumi_policy import ResourceValidationArgs

from tests.policies.deploy.support import REGISTRY, check_stack
from tests.policies.support import Res, U, _opts, _wire, urn

USER_T = "aws:elasticache/user:User"
GROUP_T = "aws:elasticache/userGroup:UserGroup"
RG_T = "aws:elasticache/replicationGroup:ReplicationGroup"
APP_ACCESS = "on ~prm-api:* +@all -@dangerous"


def user(user_id: str, user_name: str, access: str = APP_ACCESS, engine: str = "redis", passwords: int = 2) -> Res:
    return Res(USER_T, user_id, {"userId": user_id, "userName": user_name, "engine": engine, "accessString": access,
                                 "authenticationMode": {"type": "password", "passwords": ["[secret]"] * passwords}})


def group(*members: Res, engine: str = "redis") -> Res:
    return Res(GROUP_T, "care-prod-redis-users", {
        "userGroupId": "care-prod-redis-users", "engine": engine, "userIds": [m.props["userId"] for m in members]},
        property_depends={"userIds": members})


def rg(users: Res | None, **changes: Any) -> Res:
    props = {"engine": "redis", "engineVersion": "7.1", "transitEncryptionEnabled": True,
             "userGroupIds": ["care-prod-redis-users"] if users else [], "authTokenUpdateStrategy": "DELETE", **changes}
    return Res(RG_T, "care-prod-redis-group", props, property_depends={"userGroupIds": (users,)} if users else {})


DEFAULT = user("care-prod-redis-default", "default", "off -@all", passwords=1)
API = user("care-prod-redis-prm-api", "prm-api")


def _rule(resources: list[Res]) -> list[tuple[str, str | None]]:
    return check_stack("elasticache-rbac-user-group", resources)


def test_the_rendered_shape_passes() -> None:
    users = group(DEFAULT, API)
    assert _rule([DEFAULT, API, users, rg(users)]) == []
    # A replication group without RBAC (e.g. the AUTH token still in place) is not this rule's business.
    assert _rule([rg(None, authToken="t" * 32, authTokenUpdateStrategy="ROTATE")]) == []


def test_a_user_group_needs_a_user_named_default() -> None:
    users = group(API)
    assert _rule([API, users, rg(users)]) == [(
        "contains no user whose userName is 'default': ElastiCache requires one in every user group "
        "(DefaultUserRequired). Add a disabled one ('off -@all') with its own userId (components/cache.py).",
        "care-prod-redis-users")]


def test_engines_match() -> None:
    valkey = user("care-prod-redis-x", "x", engine="valkey")
    users = group(DEFAULT, valkey)
    assert _rule([DEFAULT, valkey, users]) == [(
        "has user care-prod-redis-x of engine 'valkey': a 'redis' user group holds only 'redis' users (RBAC page).",
        "care-prod-redis-users")]
    valkey_group = group(DEFAULT, engine="valkey")
    assert _rule([DEFAULT, valkey_group, rg(valkey_group)]) == [(
        "is a Redis OSS group with user group care-prod-redis-users of engine 'valkey': Redis OSS clusters take "
        "only 'redis' user groups (RBAC page).", "care-prod-redis-group")]


def test_the_replication_group_drops_its_token_needs_tls_and_redis_6() -> None:
    users = group(DEFAULT, API)
    assert _rule([DEFAULT, API, users, rg(users, authToken="t" * 32, engineVersion="5.0.6",
                                           transitEncryptionEnabled=False)]) == [
        ("sets authToken and userGroupIds: ElastiCache refuses a user group on a group with an AUTH token. Drop "
         "authToken and set authTokenUpdateStrategy DELETE to migrate (components/cache.py).", "care-prod-redis-group"),
        ("has a user group but transitEncryptionEnabled is not true: RBAC needs in-transit encryption.",
         "care-prod-redis-group"),
        ("uses RBAC on redis 5.0.6: RBAC needs Redis OSS 6.0 or later (Valkey 7.2 or later).",
         "care-prod-redis-group"),
    ]
    assert _rule([DEFAULT, API, users, rg(users, engine="valkey", engineVersion="7.2")]) == []
    assert _rule([DEFAULT, API, users, rg(users, authTokenUpdateStrategy="ROTATE")]) == [(
        "sets authTokenUpdateStrategy 'ROTATE' without an authToken: only DELETE goes without one (the "
        "AUTH-to-RBAC migration).", "care-prod-redis-group")]
    assert _rule([DEFAULT, API, users, rg(users, userGroupIds=U)]) == []  # decided when known


def _user_rule(type_: str, props: dict[str, Any]) -> list[str]:
    messages: list[str] = []
    args = ResourceValidationArgs(type_, _wire(props), urn(type_, "res"), "res", _opts(False), None, {})
    REGISTRY["elasticache-user"].policy.validate(args, lambda message, _urn=None: messages.append(message))
    return messages


def test_users_have_valid_ids_at_most_two_passwords_and_an_api_managed_access_string() -> None:
    assert _user_rule(USER_T, API.props) == []
    assert _user_rule(USER_T, DEFAULT.props) == []
    assert _user_rule(GROUP_T, group(DEFAULT).props) == []
    assert _user_rule(USER_T, {**API.props, "userId": "1-prm_api",
                               "authenticationMode": {"type": "password", "passwords": ["a", "b", "c"]},
                               "accessString": "~prm-api:* +@all >secret reset"}) == [
        "userId '1-prm_api' must start with a letter and hold only letters, digits and '-'.",
        "has 3 passwords: ElastiCache keeps at most two per user.",
        "access string '~prm-api:* +@all >secret reset' says neither 'on' nor 'off': ElastiCache then assigns 'off' "
        "(no access). Say which.",
        "access string '~prm-api:* +@all >secret reset' contains '>secret': ElastiCache sets passwords through the "
        "API and refuses password rules and 'reset' in an access string.",
    ]
    assert _user_rule(USER_T, {**API.props, "authenticationMode": {"type": "password", "passwords": []}}) == [
        "has authenticationMode type 'password' but no password."]
    assert _user_rule(GROUP_T, {"userGroupId": "users_1", "engine": "redis"}) == [
        "userGroupId 'users_1' must start with a letter and hold only letters, digits and '-'."]
