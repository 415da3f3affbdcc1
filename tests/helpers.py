"""Shared test helpers: stack configs with overrides, and rendering code under the mock engine."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from config import PROJECT, StackConfig
from offline.engine import Plan, run
from offline.stackfile import ROOT

if TYPE_CHECKING:
    from offline.policy import PolicyReport

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
    text = (ROOT / f"Pulumi.{stack}.yaml").read_text()
    data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))["config"]  # libyaml: 10x faster
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


def _args_class(type_token: str) -> type | None:
    """The pulumi_aws ``*Args`` class for a resource type token like ``aws:ec2/vpc:Vpc``."""
    import importlib

    package, module_path, class_name = type_token.split(":")
    if package != "aws":
        return None
    module_name = module_path.split("/")[0]
    module = importlib.import_module("pulumi_aws" if module_name == "index" else f"pulumi_aws.{module_name}")
    return getattr(module, f"{class_name}Args", None)


def is_taggable(type_token: str) -> bool:
    """True when the AWS resource type accepts ``tags`` (read from the provider's typed Args class)."""
    import inspect

    args_class = _args_class(type_token)
    return args_class is not None and "tags" in inspect.signature(args_class.__init__).parameters


def untagged(plan: Plan, tags: dict[str, str]) -> list[str]:
    """Names of taggable AWS resources in ``plan`` that lack a ``Name`` or any standard tag value."""
    missing = []
    for resource in plan.resources:
        if not resource.custom or resource.is_provider or not is_taggable(resource.type):
            continue
        given = resource.inputs.get("tags") or {}
        if "Name" not in given or any(given.get(k) != v for k, v in tags.items()):
            missing.append(f"{resource.type} {resource.name}")
    return missing


@functools.cache
def rendered_stack(stack: str) -> Plan:
    """The real program rendered for ``stack``, once per test session (treat it as read-only)."""
    from offline.engine import run_stack

    return run_stack(stack)


def hipaa_report(stack: str, pack_dir: Path | None = None) -> PolicyReport:
    """The pack in ``pack_dir`` (the real HIPAA pack unless told) with its ``config/<stack>.json`` over
    ``rendered_stack(stack)``, as ``offline preview`` runs it: one pack process, started, analyzed and closed
    once per test session and pack. The stack tests and the mutation tests' baseline share it (read-only)."""
    return _hipaa_report(stack, (pack_dir or ROOT / "policies").resolve())


@functools.cache
def _hipaa_report(stack: str, pack_dir: Path) -> PolicyReport:
    from offline.policy import run_policy_pack

    return run_policy_pack(rendered_stack(stack), stack, pack_dir=pack_dir)
