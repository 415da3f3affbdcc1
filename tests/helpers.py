"""Shared test helpers: stack configs with overrides, and rendering code under the mock engine."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import yaml

from config import PROJECT, StackConfig
from offline.engine import Plan, run
from offline.stackfile import ROOT

#: The standard tags as config.StackConfig.standard_tags yields them for the prod stack file.
PROD_TAGS = {
    "Project": "care-platform",
    "Environment": "prod",
    "Owner": "platform-team@care.example",
    "CostCenter": "CC-1024-PLATFORM",
    "DataClassification": "phi",
    "ManagedBy": "pulumi",
}


def stack_raw(stack: str) -> dict[str, Any]:
    """The ``care-platform:*`` sections of ``Pulumi.<stack>.yaml`` as plain data (camelCase keys)."""
    data = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    prefix = f"{PROJECT}:"
    return {k[len(prefix):]: v for k, v in data.items() if k.startswith(prefix) and isinstance(v, dict)}


def with_overrides(raw: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``raw`` with dotted-path overrides applied (a value of ``DELETE`` removes the key)."""
    result = copy.deepcopy(raw)
    for path, value in overrides.items():
        node = result
        *parents, last = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        if value is DELETE:
            node.pop(last, None)
        else:
            node[last] = value
    return result


DELETE = object()


def stack_config(stack: str = "prod", **overrides: Any) -> StackConfig:
    """``StackConfig`` of a stack file, with overrides given as ``section__key=value`` keywords."""
    raw = with_overrides(stack_raw(stack), {k.replace("__", "."): v for k, v in overrides.items()})
    return StackConfig.model_validate(raw)


def render(build: Callable[[], Any], *, stack: str = "test") -> Plan:
    """Run ``build`` (which creates components) under the recording mock engine; return what it registered."""
    return run(build, stack=stack, values={}, secret_keys=[])
