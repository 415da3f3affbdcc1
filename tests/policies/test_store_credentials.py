"""Store credentials (issue #16): MSK client policies name their topics and groups; Redis uses RBAC users.

Policies ``msk-client-scoped`` and ``elasticache-rbac`` (policies/network_access.py), on the documents the program
renders (components/app_service/bindings.py msk_client_policy) and on hand-broken variants.
"""

from __future__ import annotations

import json

from components.app_service import KAFKA_PREFIX_TAG, KafkaAccessConfig, msk_client_document
from components.app_service.config import KAFKA_PREFIX
from tests.policies.support import ACCOUNT, U, check, load_pack

POLICY_T = "aws:iam/policy:Policy"
CACHE_T = "aws:elasticache/replicationGroup:ReplicationGroup"
CLUSTER = f"arn:aws:kafka:us-east-2:{ACCOUNT}:cluster/care-prod-kafka-cluster/uuid-1"
TOPIC = f"arn:aws:kafka:us-east-2:{ACCOUNT}:topic/care-prod-kafka-cluster/uuid-1"
GROUP = f"arn:aws:kafka:us-east-2:{ACCOUNT}:group/care-prod-kafka-cluster/uuid-1"
WORKER = KafkaAccessConfig(owned_prefix="prm-worker.", read_topics=("prm-worker.*", "prm.events"),
                           write_topics=("prm-worker.*",), consumer_groups=("prm-worker",))
SCOPE = "an app may use only the topics and consumer groups it names, or <ownedPrefix>* of its own (apps.<app>.kafka)."
ADMIN = ("an MSK client never creates, alters or deletes topics or groups (topics are provisioned; auto-creation is "
         "off). Grant ReadData/WriteData/AlterGroup on named topics and groups (components/app_service/bindings.py "
         "msk_client_policy).")


def _document(access: KafkaAccessConfig) -> str:
    return msk_client_document(CLUSTER, access)


def _statement(sid: str, actions: list[str], resources: list[str] | str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}]})


def _msk(policy: str, prefix: str | None = "prm-worker.") -> list[str]:
    tags = {"Name": "care-prod-prm-worker-irsa-policy", **({KAFKA_PREFIX_TAG: prefix} if prefix else {})}
    return check("msk-client-scoped", POLICY_T, {"policy": policy, "tags": tags})


def test_rendered_client_policy_names_exact_topics_groups_and_the_owned_prefix() -> None:
    document = json.loads(_document(WORKER))
    assert document["Statement"] == [
        {"Sid": "Connect", "Effect": "Allow", "Resource": CLUSTER,
         "Action": ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster", "kafka-cluster:WriteDataIdempotently"]},
        {"Sid": "ReadTopics", "Effect": "Allow", "Resource": [f"{TOPIC}/prm-worker.*", f"{TOPIC}/prm.events"],
         "Action": ["kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"]},
        {"Sid": "WriteTopics", "Effect": "Allow", "Resource": [f"{TOPIC}/prm-worker.*"],
         "Action": ["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"]},
        {"Sid": "ConsumerGroups", "Effect": "Allow", "Resource": [f"{GROUP}/prm-worker"],
         "Action": ["kafka-cluster:AlterGroup", "kafka-cluster:DescribeGroup"]},
    ]
    assert _msk(json.dumps(document)) == []
    # A reader only: no write statement and no idempotent write on the cluster.
    reader = json.loads(_document(KafkaAccessConfig(read_topics=("prm.events",), consumer_groups=("prm-audit",))))
    assert [s["Sid"] for s in reader["Statement"]] == ["Connect", "ReadTopics", "ConsumerGroups"]
    assert reader["Statement"][0]["Action"] == ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster"]


def test_wildcards_outside_the_owned_prefix_are_refused() -> None:
    every_topic = _statement("Topics", ["kafka-cluster:ReadData"], f"{TOPIC}/*")
    assert _msk(every_topic) == [
        f"statement Topics grants kafka-cluster:ReadData on {TOPIC}/* (a wildcard topic outside the app's own "
        "prefix: the app's prefix prm-worker.*): an app may use only the topics and consumer groups it names, "
        "or <ownedPrefix>* of its own (apps.<app>.kafka)."]
    other_prefix = _statement("Groups", ["kafka-cluster:AlterGroup"], [f"{GROUP}/prm-worker", f"{GROUP}/prm-api.*"])
    assert _msk(other_prefix) == [
        f"statement Groups grants kafka-cluster:AlterGroup on {GROUP}/prm-api.* (a wildcard group outside the "
        "app's own prefix: the app's prefix prm-worker.*): an app may use only the topics and consumer groups it "
        "names, or <ownedPrefix>* of its own (apps.<app>.kafka)."]
    # Without the tag, no wildcard at all; a wildcard cluster and Resource '*' are never the app's own names.
    assert _msk(_statement("T", ["kafka-cluster:ReadData"], f"{TOPIC}/prm-worker.*"), prefix=None) == [
        f"statement T grants kafka-cluster:ReadData on {TOPIC}/prm-worker.* (a wildcard topic outside the app's "
        f"own prefix: no valid {KAFKA_PREFIX_TAG} tag): {SCOPE}"]
    every_cluster = f"arn:aws:kafka:us-east-2:{ACCOUNT}:cluster/*"
    assert _msk(_statement("C", ["kafka-cluster:Connect"], every_cluster)) == [
        f"statement C grants kafka-cluster:Connect on {every_cluster} (a wildcard cluster): an app may use only the "
        "topics and consumer groups it names, or <ownedPrefix>* of its own (apps.<app>.kafka)."]
    any_cluster = f"arn:aws:kafka:us-east-2:{ACCOUNT}:topic/*/*/prm-worker.x"
    assert _msk(_statement("T", ["kafka-cluster:ReadData"], [any_cluster, "*"])) == [
        f"statement T grants kafka-cluster:ReadData on {any_cluster} (a wildcard cluster); * (any cluster, topic "
        "or group): an app may use only the topics and consumer groups it names, or <ownedPrefix>* of its own "
        "(apps.<app>.kafka)."]


def test_topic_administration_is_refused() -> None:
    create = _statement("Admin", ["kafka-cluster:CreateTopic", "kafka-cluster:DescribeTopic"], f"{TOPIC}/prm-worker.x")
    assert _msk(create) == [
        "statement Admin allows kafka-cluster:CreateTopic: an MSK client never creates, alters or deletes topics "
        "or groups (topics are provisioned; auto-creation is off). Grant ReadData/WriteData/AlterGroup on named "
        "topics and groups (components/app_service/bindings.py msk_client_policy)."]
    assert _msk(_statement("All", ["kafka-cluster:*"], f"{TOPIC}/prm-worker.x"))[0].startswith(
        "statement All allows kafka-cluster:*: an MSK client never creates")
    # Policies without kafka-cluster actions, and unknown documents, are not this policy's business.
    assert _msk(_statement("S3", ["s3:GetObject"], "*")) == []
    assert _msk(_statement("Ceiling", ["*"], "*")) == []  # a boundary / admin: iam-policy-statements' business
    assert _msk(U) == []


def test_elasticache_rbac_required_in_prod_and_never_with_an_auth_token() -> None:
    rbac = {"transitEncryptionEnabled": True, "userGroupIds": ["care-prod-redis-users"]}
    required, optional = {"required": True}, {"required": False}
    assert check("elasticache-rbac", CACHE_T, rbac, config=required) == []
    assert check("elasticache-rbac", CACHE_T, {**rbac, "userGroupIds": U}, config=required) == []
    token = {"transitEncryptionEnabled": True, "authToken": "x" * 32}
    assert check("elasticache-rbac", CACHE_T, token, config=required) == [
        "has no RBAC user group (userGroupIds): with a shared AUTH token (or none) every client may read and write "
        "every key. Give each app its own ElastiCache user in a user group (components/cache.py)."]
    assert check("elasticache-rbac", CACHE_T, token, config=optional) == []
    assert check("elasticache-rbac", CACHE_T, {**rbac, "authToken": "x" * 32}, config=optional) == [
        "sets both userGroupIds and authToken: ElastiCache refuses a user group on a group with an AUTH token "
        "(migrate with authTokenUpdateStrategy DELETE and no authToken; components/cache.py)."]
    assert check("elasticache-rbac", CACHE_T, {"transitEncryptionEnabled": True}, config=optional) == [
        "has neither an RBAC user group nor an AUTH token: any client that reaches the port can read PHI."]



def test_action_names_are_compared_case_insensitively() -> None:
    # IAM action names are case-insensitive:
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html
    mixed = _statement("T", ["Kafka-Cluster:ReadData"], f"{TOPIC}/*")
    assert _msk(mixed) == [
        f"statement T grants Kafka-Cluster:ReadData on {TOPIC}/* (a wildcard topic outside the app's own prefix: "
        f"the app's prefix prm-worker.*): {SCOPE}"]
    assert _msk(_statement("A", ["KAFKA-CLUSTER:*"], f"{TOPIC}/prm-worker.x")) == [
        f"statement A allows KAFKA-CLUSTER:*: {ADMIN}"]
    assert _msk(_statement("A", ["kafka-cluster:createtopic"], f"{TOPIC}/prm-worker.x")) == [
        f"statement A allows kafka-cluster:createtopic: {ADMIN}"]
    # Any wildcard that reaches kafka-cluster actions is one, whatever its shape; a bare "*" stays
    # iam-policy-statements' business, other services' wildcards are not this policy's.
    assert _msk(_statement("A", ["kafka*:*", "Kafka-Cluster:Alter*"], CLUSTER)) == [
        f"statement A allows kafka*:*, Kafka-Cluster:Alter*: {ADMIN}"]
    assert _msk(_statement("S3", ["s3:*", "kafka:Describe*"], "*")) == []


def test_not_action_and_not_resource_are_reported() -> None:
    not_action = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "AllButS3", "Effect": "Allow", "NotAction": ["s3:*"], "Resource": CLUSTER}]})
    assert _msk(not_action) == [
        "statement AllButS3 allows with NotAction: it grants every kafka-cluster action it does not list. Name the "
        "actions in Action (components/app_service/bindings.py msk_client_policy)."]
    # A NotAction that leaves out every kafka-cluster action grants none of them (other services: not ours).
    excludes_kafka = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "X", "Effect": "Allow", "NotAction": ["KAFKA-CLUSTER:*", "iam:*"], "Resource": "*"}]})
    assert _msk(excludes_kafka) == []
    deny = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "D", "Effect": "Deny", "NotAction": ["s3:*"], "Resource": "*"}]})
    assert _msk(deny) == []
    not_resource = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "Read", "Effect": "Allow", "Action": ["kafka-cluster:ReadData"], "NotResource": f"{TOPIC}/other"}]})
    assert _msk(not_resource) == [
        "statement Read grants kafka-cluster:ReadData with NotResource: that is every cluster, topic and group it "
        "does not list. Name the app's topics and groups in Resource (apps.<app>.kafka)."]


def test_resources_matching_kafka_through_wildcards_are_reported() -> None:
    for broad in ("arn:*:kafka:*", "arn:aws:*:*:*:*", "arn:aws:kafka*", f"arn:aws:kafka:us-east-2:{ACCOUNT}:*",
                  "arn:aws:kafka", "*/prm-worker.x", "arn:aws:Kafka:us-east-2:1:topic/c/u/x"):
        assert _msk(_statement("T", ["kafka-cluster:ReadData"], broad)) == [
            f"statement T grants kafka-cluster:ReadData on {broad} (any cluster, topic or group): {SCOPE}"], broad
    for wildcard_cluster in (f"arn:aws:kafka:*:{ACCOUNT}:cluster/care-prod-kafka-cluster/uuid-1",
                             f"arn:aws:kafka:us-east-2:?{ACCOUNT[1:]}:topic/c/u/prm-worker.x",
                             f"arn:aws:kafka:us-east-2:{ACCOUNT}:cluster/care-prod-kafka-cluster"):
        assert _msk(_statement("C", ["kafka-cluster:Connect"], wildcard_cluster)) == [
            f"statement C grants kafka-cluster:Connect on {wildcard_cluster} (a wildcard cluster): {SCOPE}"]
    # Other partitions' ARNs are Kafka ARNs too: held to the same rule, exact names pass.
    for partition in ("aws-us-gov", "aws-cn"):
        topic = f"arn:{partition}:kafka:us-gov-west-1:{ACCOUNT}:topic/c/uuid-1"
        assert _msk(_statement("T", ["kafka-cluster:ReadData"], [f"{topic}/prm.events", f"{topic}/prm-worker.*"])) == []
        assert _msk(_statement("T", ["kafka-cluster:ReadData"], f"{topic}/*")) == [
            f"statement T grants kafka-cluster:ReadData on {topic}/* (a wildcard topic outside the app's own prefix: "
            f"the app's prefix prm-worker.*): {SCOPE}"]
    # Another service's literal ARN cannot name a Kafka resource.
    assert _msk(_statement("T", ["kafka-cluster:ReadData"], "arn:aws:s3:::care-prod-bucket/*")) == []


def test_the_prefix_tag_must_be_an_owned_prefix() -> None:
    load_pack()
    import network_access  # noqa: PLC0415  (policies/ is on sys.path once the pack is loaded)

    assert network_access.KAFKA_PREFIX.pattern == KAFKA_PREFIX.pattern  # the pack's copy of the config's rule
    short = _statement("T", ["kafka-cluster:ReadData"], f"{TOPIC}/p*")
    assert _msk(short, prefix="p") == [
        f"tag {KAFKA_PREFIX_TAG}='p' is not an owned prefix: it must be a lowercase stem ending in '.', like "
        "'prm-worker.' (apps.<app>.kafka.ownedPrefix; components/app_service/config.py).",
        f"statement T grants kafka-cluster:ReadData on {TOPIC}/p* (a wildcard topic outside the app's own prefix: "
        f"no valid {KAFKA_PREFIX_TAG} tag): {SCOPE}"]
    for bad in ("prm-worker", "Prm.", "*.", "prm-worker.*"):
        assert _msk(_statement("T", ["kafka-cluster:ReadData"], f"{TOPIC}/x"), prefix=bad) == [
            f"tag {KAFKA_PREFIX_TAG}={bad!r} is not an owned prefix: it must be a lowercase stem ending in '.', like "
            "'prm-worker.' (apps.<app>.kafka.ownedPrefix; components/app_service/config.py)."], bad

