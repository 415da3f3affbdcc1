"""Every app bound to Redis or Kafka names its own access there (tiers/identity.py check_store_access)."""

from __future__ import annotations

from typing import Any

import pytest

from config import ConfigError, Settings
from tests.helpers import DELETE, stack_config
from tiers.context import Stack
from tiers.identity import bound_access, check_store_access


def _stack(**overrides: Any) -> Stack:
    return Stack(Settings("prod", stack_config("prod", **overrides), secrets=None))  # type: ignore[arg-type]


def test_the_stack_files_configure_every_bound_app() -> None:
    stack = _stack()
    check_store_access(stack)
    assert sorted(bound_access(stack, "redis")) == ["prm-api", "prm-worker"]
    assert sorted(bound_access(stack, "kafka")) == ["prm-worker"]


def test_a_bound_app_without_access_and_access_without_a_binding_are_one_line_each() -> None:
    stack = _stack(apps__prmWorker__kafka=DELETE, apps__nlfhir__redis={"keyPrefixes": ["nlfhir:"]})
    with pytest.raises(ConfigError) as info:
        check_store_access(stack)
    assert info.value.lines == [
        "apps.nlfhir.redis: nlfhir is not bound to redis (tiers/identity.py APP_STORES); remove the key or bind "
        "the app",
        "apps.prmWorker.kafka: required: prm-worker is bound to kafka (tiers/identity.py APP_STORES), so it must name "
        "its own access there",
    ]
