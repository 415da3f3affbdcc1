"""Typed bindings (components/app_service/bindings.py): what each store gives an app, and clashes refused."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from components.app_service import (
    KAFKA_PREFIX_TAG,
    ChromaDbBinding,
    EnvironmentBinding,
    KafkaAccessConfig,
    KafkaBinding,
    RedisBinding,
    SecretRef,
)
from components.app_service.bindings import Wiring

REDIS_SECRET = "arn:aws:secretsmanager:us-east-2:333333333333:secret:care-prod-redis/users/prm-api-AbCdEf"
MSK = "arn:aws:kafka:us-east-2:333333333333:cluster/k/uuid-1"
ACCESS = KafkaAccessConfig(owned_prefix="prm-worker.", read_topics=("prm-worker.*",), consumer_groups=("prm-worker",))
CHROMA_SECRET = "arn:aws:secretsmanager:us-east-2:333333333333:secret:care-prod-chromadb-token-AbCdEf"


def test_redis_and_chromadb_give_environment_and_secret_references_without_iam() -> None:
    wiring = Wiring.merge("care-prod-nlfhir", [
        RedisBinding(host="clustercfg.example", port=6379, credentials_secret_arn=REDIS_SECRET),
        ChromaDbBinding(url="http://chromadb.nlfhir.svc.cluster.local:8000", token_secret_arn=CHROMA_SECRET),
    ], "us-east-2", "333333333333")
    assert wiring.environment == {"REDIS_HOST": "clustercfg.example", "REDIS_PORT": "6379", "REDIS_TLS": "true",
                                  "CHROMA_URL": "http://chromadb.nlfhir.svc.cluster.local:8000"}
    # The app's own Redis user: name and password from its own secret (no shared AUTH token).
    assert wiring.secrets == {"REDIS_USERNAME": SecretRef(REDIS_SECRET, "username"),
                              "REDIS_PASSWORD": SecretRef(REDIS_SECRET, "password"),
                              "CHROMA_AUTH_TOKEN": SecretRef(CHROMA_SECRET, None)}
    assert wiring.iam_policies == {} and wiring.iam_policy_tags == {}


def test_kafka_with_scram_has_no_iam_policy() -> None:
    binding = KafkaBinding(cluster_arn=MSK, bootstrap_brokers="b-1.example:9096", access=ACCESS, iam_auth=False)
    assert binding.environment() == {"KAFKA_BOOTSTRAP_SERVERS": "b-1.example:9096",
                                     "KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512"}
    assert binding.iam_policies("us-east-2", "333333333333") == {}
    assert binding.iam_policy_tags() == {}


def test_kafka_with_iam_tags_its_client_policy_with_the_owned_prefix() -> None:
    # iam_policies() would build an Output (the cluster ARN's apply) outside the mock engine: the rendered policy
    # is tested in test_app_service.py; here the tag, and that Wiring.merge carries a binding's policy tags.
    binding = KafkaBinding(cluster_arn=MSK, bootstrap_brokers="b-1.example:9098", access=ACCESS)
    assert binding.iam_policy_tags() == {"policy": {KAFKA_PREFIX_TAG: "prm-worker."}}
    exact = KafkaBinding(cluster_arn=MSK, bootstrap_brokers="b", access=KafkaAccessConfig(write_topics=("prm.x",)))
    assert exact.iam_policy_tags() == {}  # no owned prefix: no wildcard allowed, nothing to tag

    @dataclass(frozen=True)
    class Tagged(EnvironmentBinding):
        def iam_policies(self, region: str, account_id: str) -> dict[str, str]:
            return {"policy": "{}"}

        def iam_policy_tags(self) -> dict[str, dict[str, str]]:
            return {"policy": {KAFKA_PREFIX_TAG: "prm-worker."}}

    wiring = Wiring.merge("care-prod-prm-worker", [Tagged()], "us-east-2", "333333333333")
    assert (wiring.iam_policies, wiring.iam_policy_tags) == ({"policy": "{}"},
                                                             {"policy": {KAFKA_PREFIX_TAG: "prm-worker."}})


def test_a_variable_from_two_bindings_is_refused_by_name() -> None:
    redis = RedisBinding(host="clustercfg.example", port=6379, credentials_secret_arn=REDIS_SECRET)
    with pytest.raises(ValueError) as info:
        Wiring.merge("care-prod-prm-api", [redis, EnvironmentBinding({"REDIS_HOST": "other"},
                                                                     {"REDIS_PASSWORD": SecretRef("x")})],
                     "us-east-2", "333333333333")
    assert str(info.value) == "care-prod-prm-api: variables set twice (bindings): REDIS_HOST, REDIS_PASSWORD"
