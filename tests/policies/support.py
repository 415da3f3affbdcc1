"""Run one policy of the pack the way the analyzer does, on realistic wire inputs.

Inputs go through what ``pulumi_policy``'s ``Analyze`` does to a request: a protobuf ``Struct``,
``deserialize_properties`` (secrets unwrapped, unknown sentinels kept) and the unknown-checking proxy.
"""

from __future__ import annotations

import copy
import importlib
import sys
from pathlib import Path
from typing import Any

from google.protobuf import json_format, struct_pb2

POLICIES_DIR = Path(__file__).resolve().parents[2] / "policies"
if str(POLICIES_DIR) not in sys.path:
    sys.path.insert(0, str(POLICIES_DIR))

#: The pack's modules in import order (common first: every other module imports from it).
PACK_MODULES = ("common", "encryption", "transit", "availability", "backup", "exposure", "network_access",
                "audit_logging", "k8s_workloads", "tags", "stack", "cost_controls", "baseline", "conformance_rules",
                "registry_doc")


def load_pack() -> None:
    """Import the pack's modules as ``policies.<module>`` and alias each under the bare name the pack uses.

    The pack imports its siblings by bare name (``from common import ...``), as Pulumi runs it from
    ``policies/``. Importing them as the package ``policies`` as well, with the bare names pointing at the
    same module objects, gives one registry and module names that match the files' paths, which is how
    mutmut (``make mutation``) maps the code it runs back to the mutants it made.
    """
    for name in PACK_MODULES:
        if name not in sys.modules:
            sys.modules[name] = importlib.import_module(f"policies.{name}")


load_pack()

from common import REGISTRY  # noqa: E402
from pulumi_policy import (  # noqa: E402
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.deserialize import deserialize_properties  # noqa: E402
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy  # noqa: E402

#: The wire sentinel the engine sends for a value not known during preview.
U = UNKNOWN_STRING_VALUE

ACCOUNT = "333333333333"
PRIMARY, DR = "us-east-2", "us-west-2"


def key_arn(key_id: str = "b4a9eb33-c44c-40e6-8b80-a587befe7bfd", region: str = PRIMARY) -> str:
    return f"arn:aws:kms:{region}:{ACCOUNT}:key/{key_id}"


def _wire(props: dict[str, Any]) -> Any:
    struct = struct_pb2.Struct()
    struct.update(props)
    return unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(struct)))


def _opts(protect: bool = False, parent: str | None = None) -> PolicyResourceOptions:
    return PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], parent)


def urn(type_: str, name: str, stack_name: str = "prod") -> str:
    return f"urn:pulumi:{stack_name}::care-platform::{type_}::{name}"


def check(policy: str, type_: str, props: dict[str, Any], *, config: dict[str, Any] | None = None,
          protect: bool = False, region: str | None = None, name: str = "res") -> list[str]:
    """The messages ``policy`` reports for one resource (its description line stripped, as the engine adds it)."""
    info = REGISTRY[policy]
    assert info.kind == "resource", f"{policy} is a stack policy"
    provider = (PolicyProviderResource("pulumi:providers:aws", _wire({"region": region}), "urn:provider", "aws")
                if region else None)
    args = ResourceValidationArgs(type_, _wire(props), urn(type_, name), name, _opts(protect), provider, config)
    messages: list[str] = []
    result = info.policy.validate(args, lambda message, _urn=None: messages.append(message))
    assert result is None, "policies are synchronous"
    return messages


class Res:
    """One resource of a stack, for a stack policy: type, name, inputs and how it links to others."""

    def __init__(self, type_: str, name: str, props: dict[str, Any], *, depends: tuple[Res, ...] = (),
                 property_depends: dict[str, tuple[Res, ...]] | None = None, protect: bool = False,
                 region: str | None = None) -> None:
        self.type, self.name, self.props = type_, name, props
        self.urn = urn(type_, name)
        self.depends, self.property_depends = depends, property_depends or {}
        self.protect, self.region = protect, region


def check_stack(policy: str, resources: list[Res], *, config: dict[str, Any] | None = None
                ) -> list[tuple[str, str | None]]:
    """(message, resource name) for every violation ``policy`` reports over the stack."""
    info = REGISTRY[policy]
    assert info.kind == "stack", f"{policy} is a resource policy"
    return validate_stack(info.policy, resources, config)


def validate_stack(stack_policy: Any, resources: list[Res], config: dict[str, Any] | None
                   ) -> list[tuple[str, str | None]]:
    """Run one SDK stack policy (of either pack) over ``resources`` as the analyzer would: providers by region,
    dependencies and property dependencies linked; (message, resource name) per violation."""
    built = {}
    for r in resources:
        provider = (PolicyProviderResource("pulumi:providers:aws", _wire({"region": r.region}), "urn:p", "aws")
                    if r.region else None)
        built[r.urn] = PolicyResource(r.type, _wire(r.props), r.urn, r.name, _opts(r.protect), provider,
                                      None, [], {})
    for r in resources:
        built[r.urn].dependencies = [built[d.urn] for d in r.depends]
        built[r.urn].property_dependencies = {k: [built[d.urn] for d in v] for k, v in r.property_depends.items()}
    names = {r.urn: r.name for r in resources}
    found: list[tuple[str, str | None]] = []
    args = StackValidationArgs(list(built.values()), config)
    stack_policy.validate(args, lambda message, u=None: found.append((message, names.get(u) if u else None)))
    return found


def edit(props: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A deep copy of ``props`` with dotted paths (``a__b`` for ``a.b``) set, or removed when the value is DROP."""
    result = copy.deepcopy(props)
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = result
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        if value is DROP:
            if isinstance(node, list):
                del node[int(last)]
            else:
                node.pop(last, None)
        elif isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return result


DROP = object()
