"""Run the real CrossGuard policy pack over a rendered plan, the way the Pulumi engine runs it.

What the engine does for ``pulumi preview --policy-pack policies --policy-pack-config <file>``
(``pkg/engine/update.go`` and ``sdk/go/common/resource/plugin/analyzer_plugin.go``), and so what
this module does:

1. Load ``PulumiPolicy.yaml`` (a missing or malformed file, or a runtime other than python, fails).
2. Start the pack the way the ``pulumi-analyzer-policy-python`` shim does: ``python -u -m
   pulumi.policy <engine-address> .`` in the pack directory, with ``PULUMI_CONFIG``,
   ``PULUMI_PROJECT``, ``PULUMI_STACK``, ``PULUMI_DRY_RUN`` and ``PULUMI_ORGANIZATION`` set. The
   engine address is a real ``pulumirpc.Engine`` server run here, so ``Log`` calls are captured.
   The first line the pack prints on stdout is the port of its ``Analyzer`` server.
3. ``Handshake`` and ``ConfigureStack`` (a pack that does not implement them is fine), then
   ``GetAnalyzerInfo``, then ``Configure`` with the config file reconciled as
   ``ReconcilePolicyPackConfig`` does: schema defaults, then the policy defaults, then the ``all``
   level, then named entries; the result is validated against each policy's config schema.
   Stricter than the engine on purpose: a name in the config file that is not a policy of the
   pack is an error (a typo would otherwise silently leave a policy at its default level).
4. ``Analyze`` for every resource (the root stack, providers, components and custom resources),
   with its inputs marshalled as the engine marshals them (secrets and unknowns kept, resource
   references downgraded to their ID or URN), its options and its provider; then ``AnalyzeStack``
   over all of them with parent, dependencies and property dependencies. Offline there are no
   provider outputs, so ``AnalyzeStack`` sees the inputs where the engine would pass the planned
   outputs (in a preview those are the inputs plus unknown computed properties).
5. Shut the pack down (SIGINT, then SIGKILL) and reap it.

A pack that cannot start, exits, or answers with a gRPC error raises :class:`PolicyPackError`
with the tail of its stderr. It is never a pass.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Collection, Iterable, Iterator, Sequence
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import yaml
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc, engine_pb2, engine_pb2_grpc

from offline.engine import RESOURCE_SIG, SIG_KEY, STACK_TYPE, UNKNOWN, Plan, Registration
from offline.stackfile import ROOT, StackFileError, load_stack_file

__all__ = [
    "LEVELS", "PolicyConfigError", "PolicyInfo", "PolicyPackError", "PolicyPackSession", "PolicyReport",
    "Violation", "load_policy_config", "open_session", "reconcile_policy_config", "run_policy_pack",
]

#: Enforcement levels, as ``--policy-pack-config`` spells them.
LEVELS = ("advisory", "mandatory", "remediate", "disabled")
_LEVEL_TO_PROTO = {
    "advisory": analyzer_pb2.ADVISORY, "mandatory": analyzer_pb2.MANDATORY,
    "remediate": analyzer_pb2.REMEDIATE, "disabled": analyzer_pb2.DISABLED,
}
_PROTO_TO_LEVEL = {v: k for k, v in _LEVEL_TO_PROTO.items()}

ORGANIZATION = "organization"  # what a self-managed (diy) backend reports
START_TIMEOUT = 60.0
STOP_TIMEOUT = 5.0
STDERR_TAIL = 60  # lines
_GRPC_OPTIONS = [("grpc.max_receive_message_length", 400 * 1024 * 1024),
                 ("grpc.max_send_message_length", 400 * 1024 * 1024)]


class PolicyPackError(Exception):
    """The pack failed to start, crashed, or answered with an error. Never a pass."""


class PolicyConfigError(PolicyPackError):
    """``policies/config/<stack>.json`` is malformed or does not fit the pack."""


class PolicyRaised(PolicyPackError):
    """A policy raised an exception while the pack kept running (gRPC ``UNKNOWN``); the pack is alive."""

    def __init__(self, message: str, details: str) -> None:
        super().__init__(message)
        self.details = details


@dataclass(frozen=True)
class PolicyInfo:
    name: str
    description: str
    level: str  # as configured for this stack (after reconciling defaults, `all` and named entries)
    default_level: str  # as the pack declares it
    kind: str  # "resource" or "stack"
    config: dict[str, Any] = field(default_factory=dict)  # properties sent in Configure
    display_name: str = ""
    framework: str = ""  # PolicyInfo.framework.name, e.g. "HIPAA Security Rule"
    reference: str = ""  # PolicyInfo.framework.reference, e.g. "164.312(a)(2)(iv)"
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Violation:
    policy: str
    level: str  # "mandatory" | "advisory" (a `remediate` policy that still fails reports as mandatory)
    urn: str  # "" for a stack-level violation not tied to a resource
    resource_type: str
    resource_name: str
    message: str  # the pack's message: the policy description, a newline, then the violation text
    description: str
    pack: str = ""
    stack_policy: bool = False  # reported by AnalyzeStack rather than Analyze

    @property
    def detail(self) -> str:
        """The violation text without the description the pack prefixes to every message."""
        prefix = self.description + "\n"
        return self.message[len(prefix):] if self.message.startswith(prefix) else self.message

    def sort_key(self) -> tuple[str, str, str, str]:
        return (self.policy, self.urn, self.level, self.message)


@dataclass
class PolicyReport:
    stack: str
    pack_name: str
    pack_version: str
    policies: list[PolicyInfo]
    violations: list[Violation]
    #: URNs sent to Analyze (what every resource policy was given).
    analyzed: list[str]
    #: policy -> URNs that policy declared itself not applicable to (``args.not_applicable()``).
    not_applicable: dict[str, list[str]] = field(default_factory=dict)
    #: policy -> "can't run during preview" messages (unknown values); the pack reports them advisory.
    unknown: dict[str, list[str]] = field(default_factory=dict)
    logs: list[str] = field(default_factory=list)
    pack_dir: Path | None = None

    @property
    def mandatory(self) -> list[Violation]:
        return [v for v in self.violations if v.level == "mandatory"]

    @property
    def advisory(self) -> list[Violation]:
        return [v for v in self.violations if v.level == "advisory"]

    @property
    def ok(self) -> bool:
        return not self.mandatory

    def policy(self, name: str) -> PolicyInfo:
        return next(p for p in self.policies if p.name == name)

    def by_policy(self) -> dict[str, list[Violation]]:
        grouped: dict[str, list[Violation]] = {}
        for violation in self.violations:
            grouped.setdefault(violation.policy, []).append(violation)
        return dict(sorted(grouped.items()))

    def checked(self, policy: str) -> int | None:
        """Resources a resource policy checked, where knowable: only a pack that marks the others
        ``not_applicable`` says which; otherwise ``None``. Disabled policies checked nothing."""
        info = self.policy(policy)
        if info.level == "disabled":
            return 0
        if info.kind != "resource" or policy not in self.not_applicable:
            return None
        return len(self.analyzed) - len(set(self.not_applicable[policy]))

    def checked_counts(self) -> dict[str, int | None]:
        return {p.name: self.checked(p.name) for p in self.policies}


# --------------------------------------------------------------------------------------------------
# Configuration, as the engine loads and reconciles it.


def _level(value: Any, where: str) -> str:
    if not isinstance(value, str) or value not in LEVELS:
        raise PolicyConfigError(f"{where}: {value!r} is not a valid enforcement level; "
                                f"allowed: {', '.join(LEVELS)}")
    return value


def load_policy_config(path: Path) -> dict[str, dict[str, Any]]:
    """Parse a ``--policy-pack-config`` file: ``{name: level | {enforcementLevel?, **properties}}``.

    Returns ``{name: {"enforcementLevel": level | None, "properties": dict | None}}``, dropping
    empty entries as the engine does."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise PolicyConfigError(f"cannot read policy config {path}: {exc.strerror}") from exc
    if not text.strip():
        return {}
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PolicyConfigError(f"{path}: not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise PolicyConfigError(f"{path}: must be a JSON object of policy name -> level or object")
    result: dict[str, dict[str, Any]] = {}
    for name, value in raw.items():
        level: str | None = None
        properties: dict[str, Any] | None = None
        if isinstance(value, str):
            level = _level(value, f"{path.name}: {name}")
        elif isinstance(value, dict):
            props = dict(value)
            if "enforcementLevel" in props:
                level = _level(props.pop("enforcementLevel"), f"{path.name}: {name}.enforcementLevel")
            properties = props or None
        else:
            raise PolicyConfigError(f"{path.name}: {name}: {value!r} is not a valid value; "
                                    "must be a string or object")
        if level is None and not properties:
            continue
        result[name] = {"enforcementLevel": level, "properties": properties}
    return result


def _schema_of(info: analyzer_pb2.PolicyInfo) -> dict[str, Any]:
    return {
        "properties": json_format.MessageToDict(info.configSchema.properties),
        "required": list(info.configSchema.required),
    }


def reconcile_policy_config(
    policies: Sequence[analyzer_pb2.PolicyInfo],
    initial: dict[str, dict[str, Any]],
    given: dict[str, dict[str, Any]],
    *,
    source: str = "policy config",
) -> dict[str, dict[str, Any]]:
    """``ReconcilePolicyPackConfig``: defaults, then the pack's initial config, then the file."""
    names = [p.name for p in policies]
    unknown = sorted(set(given) - set(names) - {"all"})
    if unknown:
        problems = []
        for name in unknown:
            close = difflib.get_close_matches(name, sorted(names), n=1, cutoff=0.6)
            problems.append(f"{name}: not a policy of this pack" + (f"; did you mean {close[0]}?" if close else ""))
        if not any("did you mean" in p for p in problems) and len(names) <= 12:
            problems[-1] += f"; the pack's policies are: {', '.join(sorted(names))} (or `all`)"
        elif not all("did you mean" in p for p in problems):
            problems[-1] += " (the pack's README lists its policies; `all` sets every level)"
        raise PolicyConfigError(f"{source}: " + "; ".join(problems))

    result: dict[str, dict[str, Any]] = {}
    for policy in policies:
        defaults = {k: v["default"] for k, v in _schema_of(policy)["properties"].items()
                    if isinstance(v, dict) and "default" in v}
        result[policy.name] = {"enforcementLevel": _PROTO_TO_LEVEL[policy.enforcementLevel],
                               "properties": defaults or None}

    def apply(config: dict[str, dict[str, Any]]) -> None:
        everything = config.get("all")
        if everything and everything.get("enforcementLevel") in LEVELS:
            for entry in result.values():
                entry["enforcementLevel"] = everything["enforcementLevel"]
        for name, entry in config.items():
            current = result.get(name, {"enforcementLevel": None, "properties": None})
            level = entry.get("enforcementLevel") or current["enforcementLevel"]
            properties = dict(current["properties"] or {})
            properties.update(entry.get("properties") or {})
            result[name] = {"enforcementLevel": level, "properties": properties or None}

    apply(initial)
    apply(given)

    errors = []
    for policy in policies:
        schema = _schema_of(policy)
        if not schema["properties"] and not schema["required"]:
            continue
        errors += [f"{policy.name}: {e}" for e in _validate(schema, result[policy.name]["properties"] or {})]
    if errors:
        raise PolicyConfigError(f"{source}: invalid policy config:\n  " + "\n  ".join(sorted(errors)))
    return result


def _validate(schema: dict[str, Any], properties: dict[str, Any]) -> list[str]:
    document = {"type": "object", "properties": schema["properties"]}
    if schema["required"]:
        document["required"] = schema["required"]
    try:
        import jsonschema
    except ImportError:  # pragma: no cover - jsonschema ships with the dev dependencies
        return [f"{name} is required" for name in schema["required"] if name not in properties]
    validator = jsonschema.Draft7Validator(document)
    return [(".".join(str(p) for p in e.absolute_path) + ": " if e.absolute_path else "") + e.message
            for e in validator.iter_errors(properties)]


# --------------------------------------------------------------------------------------------------
# Marshalling resources as the engine sends them.


def _engine_value(value: Any) -> Any:
    """``MarshalProperties(KeepUnknowns, KeepSecrets, SkipInternalKeys)`` without ``KeepResources``:
    internal keys (``__defaults`` and the like) are dropped, and a resource reference becomes its ID
    (custom resources) or URN (components). Secrets and unknowns pass through unchanged."""
    if isinstance(value, dict):
        if value.get(SIG_KEY) == RESOURCE_SIG:
            ident = value.get("id")
            if ident is not None and ident != "":
                return ident
            return value.get("urn", UNKNOWN)
        return {k: _engine_value(v) for k, v in value.items() if not k.startswith("__")}
    if isinstance(value, list):
        return [_engine_value(v) for v in value]
    return value


def wire_properties(registration: Registration) -> struct_pb2.Struct:
    """The registration's inputs as the engine marshals them for the analyzer."""
    raw = json_format.MessageToDict(registration.wire_inputs)
    converted = _engine_value(raw)
    if converted == raw:
        return registration.wire_inputs
    struct = struct_pb2.Struct()
    struct.update(converted)
    return struct


def _struct(data: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(data)
    return struct


@dataclass
class _Resource:
    urn: str
    type: str
    name: str
    parent: str
    protect: bool
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    properties: struct_pb2.Struct
    provider: analyzer_pb2.AnalyzerProviderResource | None


def _urn(project: str, stack: str, type_: str, name: str) -> str:
    return f"urn:pulumi:{stack}::{project}::{type_}::{name}"


def _resources(plan: Plan, config_values: dict[str, str]) -> list[_Resource]:
    """Every resource the engine would analyze: the root stack, then the plan's registrations; custom
    resources without an explicit provider get the package's default provider (configured from the
    stack's ``<package>:*`` config), as the engine gives them."""
    stack_urn = _urn(plan.project, plan.stack, STACK_TYPE, f"{plan.project}-{plan.stack}")
    by_urn = {r.urn: r for r in plan.resources}

    def provider_message(reg: Registration) -> analyzer_pb2.AnalyzerProviderResource | None:
        if not reg.custom or reg.is_provider:
            return None
        if reg.provider:
            urn = reg.provider.rsplit("::", 1)[0]
            prov = by_urn.get(urn)
            if prov is not None:
                return analyzer_pb2.AnalyzerProviderResource(
                    urn=prov.urn, type=prov.type, name=prov.name, properties=wire_properties(prov))
        package = reg.type.split(":", 1)[0]
        defaults = {k.split(":", 1)[1]: v for k, v in config_values.items() if k.startswith(f"{package}:")}
        type_ = f"pulumi:providers:{package}"
        return analyzer_pb2.AnalyzerProviderResource(
            urn=_urn(plan.project, plan.stack, type_, "default"), type=type_, name="default",
            properties=_struct(defaults))

    resources = [_Resource(stack_urn, STACK_TYPE, f"{plan.project}-{plan.stack}", "", False, [], {},
                           struct_pb2.Struct(), None)]
    for reg in plan.resources:
        resources.append(_Resource(
            urn=reg.urn, type=reg.type, name=reg.name, parent=reg.parent or stack_urn, protect=reg.protect,
            dependencies=list(reg.dependencies),
            property_dependencies={k: list(v) for k, v in getattr(reg, "property_dependencies", {}).items() if v},
            properties=wire_properties(reg), provider=provider_message(reg)))
    return resources


def _options(resource: _Resource) -> analyzer_pb2.AnalyzerResourceOptions:
    return analyzer_pb2.AnalyzerResourceOptions(
        protect=resource.protect, parent=resource.parent,
        customTimeouts=analyzer_pb2.AnalyzerResourceOptions.CustomTimeouts())


def _analyze_request(resource: _Resource) -> analyzer_pb2.AnalyzeRequest:
    request = analyzer_pb2.AnalyzeRequest(type=resource.type, properties=resource.properties, urn=resource.urn,
                                          name=resource.name, options=_options(resource))
    if resource.provider is not None:
        request.provider.CopyFrom(resource.provider)
    return request


def _stack_resource(resource: _Resource) -> analyzer_pb2.AnalyzerResource:
    message = analyzer_pb2.AnalyzerResource(
        type=resource.type, properties=resource.properties, urn=resource.urn, name=resource.name,
        options=_options(resource), parent=resource.parent, dependencies=resource.dependencies)
    if resource.provider is not None:
        message.provider.CopyFrom(resource.provider)
    for key, urns in resource.property_dependencies.items():
        message.propertyDependencies[key].urns.extend(urns)
    return message


# --------------------------------------------------------------------------------------------------
# The engine side: a Log server for the pack, the pack process, and the analyzer protocol.


class _EngineServicer(engine_pb2_grpc.EngineServicer):
    _SEVERITY = {engine_pb2.DEBUG: "debug", engine_pb2.INFO: "info", engine_pb2.WARNING: "warning",
                 engine_pb2.ERROR: "error"}

    def __init__(self) -> None:
        self.logs: list[str] = []
        self._root = ""

    def Log(self, request, context):  # noqa: N802 (gRPC method name)
        where = f" {request.urn}" if request.urn else ""
        self.logs.append(f"{self._SEVERITY.get(request.severity, 'info')}{where}: {request.message}")
        return empty_pb2.Empty()

    def GetRootResource(self, request, context):  # noqa: N802
        return engine_pb2.GetRootResourceResponse(urn=self._root)

    def SetRootResource(self, request, context):  # noqa: N802
        self._root = request.urn
        return engine_pb2.SetRootResourceResponse()


def _pack_project(pack_dir: Path) -> dict[str, Any]:
    path = pack_dir / "PulumiPolicy.yaml"
    try:
        project = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise PolicyPackError(f"failed to load Pulumi policy project located at {pack_dir}: "
                              f"{path.name}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise PolicyPackError(f"failed to load Pulumi policy project located at {pack_dir}: {exc}") from exc
    if not isinstance(project, dict):
        raise PolicyPackError(f"{path}: must be a YAML mapping with at least `runtime`")
    runtime = project.get("runtime")
    name = runtime.get("name") if isinstance(runtime, dict) else runtime
    if name != "python":
        raise PolicyPackError(f"{path}: runtime must be `python` (this runner starts Python packs only), "
                              f"got {runtime!r}")
    version = project.get("version")
    if version is not None and not isinstance(version, str | int | float):
        raise PolicyPackError(f"{path}: version must be a string")
    return project


class PolicyPackSession:
    """One running pack process, configured for a stack; analyze as many plans as needed with it.

    Use as a context manager; ``close()`` stops and reaps the process."""

    def __init__(self, stack: str, *, project: str = "care-platform", pack_dir: Path = ROOT / "policies",
                 config_path: Path | None = None, config_values: dict[str, str] | None = None,
                 config_secret_keys: Sequence[str] = (), start_timeout: float = START_TIMEOUT) -> None:
        self.stack = stack
        self.project = project
        self.pack_dir = Path(pack_dir).resolve()
        self.config_path = Path(config_path) if config_path else self.pack_dir / "config" / f"{stack}.json"
        self.config_values = dict(config_values or {})
        self.config_secret_keys = list(config_secret_keys)
        self._stderr: deque[str] = deque(maxlen=STDERR_TAIL)
        self._process: subprocess.Popen[bytes] | None = None
        self._server: grpc.Server | None = None
        self._channel: grpc.Channel | None = None
        self.engine = _EngineServicer()
        try:
            self._start(start_timeout)
            self._configure()
        except BaseException:
            self.close()
            raise

    # -- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> PolicyPackSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self, timeout: float) -> None:
        project = _pack_project(self.pack_dir)
        self._yaml_version = str(project["version"]) if project.get("version") is not None else ""
        runtime = project["runtime"]
        options = runtime.get("options") or {} if isinstance(runtime, dict) else {}
        python = sys.executable
        if options.get("virtualenv"):
            venv = Path(options["virtualenv"])
            venv = venv if venv.is_absolute() else self.pack_dir / venv
            if not (venv / "bin" / "python").exists():
                raise PolicyPackError(f"{self.pack_dir / 'PulumiPolicy.yaml'}: virtualenv {venv} doesn't "
                                      "appear to be a virtual environment")
            python = str(venv / "bin" / "python")

        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), options=_GRPC_OPTIONS)
        engine_pb2_grpc.add_EngineServicer_to_server(self.engine, self._server)
        engine_port = self._server.add_insecure_port("127.0.0.1:0")
        self._server.start()
        self.engine_address = f"127.0.0.1:{engine_port}"

        env = dict(os.environ)
        for key in ("PULUMI_CONFIG", "PULUMI_CONFIG_SECRET_KEYS"):
            env.pop(key, None)
        if self.config_values:
            env["PULUMI_CONFIG"] = json.dumps(self.config_values, sort_keys=True)
        env.update({"PULUMI_ORGANIZATION": ORGANIZATION, "PULUMI_PROJECT": self.project,
                    "PULUMI_STACK": self.stack, "PULUMI_DRY_RUN": "true"})
        self._process = subprocess.Popen(
            [python, "-u", "-m", "pulumi.policy", self.engine_address, "."],
            cwd=self.pack_dir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, args=(self._process.stdout, lines), daemon=True).start()
        threading.Thread(target=self._pump, args=(self._process.stderr, None), daemon=True).start()

        deadline = time.monotonic() + timeout
        port = None
        while port is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._error(f"policy pack {self.pack_dir} did not print its port within {timeout:.0f}s")
            try:
                line = lines.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                continue
            if line is None:
                code = self._process.wait()
                raise self._error(f"policy pack {self.pack_dir} failed to start: it exited with code {code} "
                                  "before printing its port")
            try:
                port = int(line.strip())
            except ValueError:
                raise self._error(f"policy pack {self.pack_dir} failed to start: expected its port on the first "
                                  f"line of stdout, got {line.strip()!r}") from None
        self._channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=_GRPC_OPTIONS)
        try:
            grpc.channel_ready_future(self._channel).result(timeout=max(deadline - time.monotonic(), 5.0))
        except grpc.FutureTimeoutError:
            raise self._error(f"policy pack {self.pack_dir} printed port {port} but does not answer") from None
        self._stub = analyzer_pb2_grpc.AnalyzerStub(self._channel)

    def _pump(self, stream: Any, lines: queue.Queue[str | None] | None) -> None:
        first = True
        for raw in iter(stream.readline, b""):
            line = raw.decode(errors="replace").rstrip("\n")
            if lines is not None:
                lines.put(line)
                if first:  # the port
                    first = False
                    continue
            self._stderr.append(line if lines is None else f"[stdout] {line}")
        if lines is not None:
            lines.put(None)
        stream.close()

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)  # the pack stops its server on KeyboardInterrupt
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._server is not None:
            self._server.stop(grace=None)
            self._server = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def stderr_tail(self) -> str:
        time.sleep(0.05)  # let the pump threads drain what a dying process wrote
        return "\n".join(self._stderr)

    def _error(self, message: str, cls: type[PolicyPackError] = PolicyPackError) -> PolicyPackError:
        tail = self.stderr_tail()
        logs = "\n".join(self.engine.logs[-20:])
        text = message
        if logs:
            text += "\n--- pack log ---\n" + logs
        if tail:
            text += "\n--- pack stderr (tail) ---\n" + tail
        return cls(text)

    def _call(self, method: str, request: Any, *, optional: bool = False) -> Any:
        if self._process is None or self._channel is None:
            raise PolicyPackError("the policy pack session is closed")
        try:
            return getattr(self._stub, method)(request, timeout=300)
        except grpc.RpcError as exc:
            if optional and exc.code() == grpc.StatusCode.UNIMPLEMENTED:
                return None
            # A pack that died drops the connection; give the OS a moment to report the exit.
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=1.0 if exc.code() == grpc.StatusCode.UNAVAILABLE else 0.01)
            code = self._process.poll()
            what = f"crashed (exit code {code})" if code is not None else "returned an error"
            message = (f"policy pack {self.pack_name or self.pack_dir} {what} in {method}: "
                       f"{exc.code().name}: {exc.details()}")
            if code is None and exc.code() == grpc.StatusCode.UNKNOWN:
                raise PolicyRaised(self._error(message).args[0], exc.details() or "") from None
            raise self._error(message) from None

    # -- protocol --------------------------------------------------------------------------------

    pack_name = ""

    def _configure(self) -> None:
        self._call("Handshake", analyzer_pb2.AnalyzerHandshakeRequest(
            engine_address=self.engine_address, root_directory=str(self.pack_dir),
            program_directory=str(self.pack_dir)), optional=True)
        self._call("ConfigureStack", analyzer_pb2.AnalyzerStackConfigureRequest(
            stack=self.stack, project=self.project, organization=ORGANIZATION, dry_run=True,
            config=_struct(self.config_values), config_secret_keys=self.config_secret_keys), optional=True)
        info = self._call("GetAnalyzerInfo", empty_pb2.Empty())
        self.pack_name = info.name
        self.pack_version = self._yaml_version or info.version
        initial = {k: {"enforcementLevel": _PROTO_TO_LEVEL.get(v.enforcementLevel),
                       "properties": json_format.MessageToDict(v.properties) or None}
                   for k, v in info.initialConfig.items()}
        given = load_policy_config(self.config_path) if self.config_path.exists() else None
        if given is None:
            raise PolicyConfigError(f"no policy config for stack {self.stack}: {_shown(self.config_path)} does not "
                                    "exist")
        if not info.supportsConfig:
            raise PolicyConfigError(f"policy pack {info.name} at {self.pack_dir} does not support config")
        config = reconcile_policy_config(list(info.policies), initial, given, source=_shown(self.config_path))
        request = analyzer_pb2.ConfigureAnalyzerRequest()
        for name, entry in config.items():
            request.policyConfig[name].enforcementLevel = _LEVEL_TO_PROTO[entry["enforcementLevel"] or "advisory"]
            request.policyConfig[name].properties.update(entry["properties"] or {})
        self._call("Configure", request)
        self._configure_request = request
        self.policies = sorted((PolicyInfo(
            name=p.name, description=p.description,
            level=config[p.name]["enforcementLevel"] or _PROTO_TO_LEVEL[p.enforcementLevel],
            default_level=_PROTO_TO_LEVEL[p.enforcementLevel],
            kind="stack" if p.policy_type == analyzer_pb2.POLICY_TYPE_STACK else "resource",
            config=dict(config[p.name]["properties"] or {}), display_name=p.displayName,
            framework=p.framework.name, reference=p.framework.reference, tags=tuple(p.tags),
        ) for p in info.policies), key=lambda p: p.name)

    def analyze(self, plan: Plan, *, stack_policies: bool = True, only: Iterable[str] | None = None,
                policies: Collection[str] | None = None) -> PolicyReport:
        """``Analyze`` every resource of ``plan`` (or only the URNs in ``only``), then ``AnalyzeStack``.

        ``policies`` runs only the named policies (the pack is reconfigured with every other policy disabled for
        this one analysis, then restored): a mutation test of one stack policy need not run the other stack
        policies over the whole plan."""
        if policies is not None:
            with self._only_policies(policies):
                return self.analyze(plan, stack_policies=stack_policies, only=only)
        resources = _resources(plan, self.config_values)
        wanted = set(only) if only is not None else None
        by_urn = {r.urn: r for r in resources}
        violations: list[Violation] = []
        not_applicable: dict[str, list[str]] = {}
        unknown: dict[str, list[str]] = {}
        analyzed: list[str] = []
        logs_before = len(self.engine.logs)

        def collect(response: Any, subject: _Resource | None) -> None:
            for diag in response.diagnostics:
                urn = subject.urn if subject is not None else diag.urn
                target = by_urn.get(urn)
                if diag.message.startswith(f"can't run policy '{diag.policyName}'"):
                    unknown.setdefault(diag.policyName, []).append(f"{urn}: {diag.message}")
                violations.append(Violation(
                    policy=diag.policyName, level=_PROTO_TO_LEVEL.get(diag.enforcementLevel, "advisory"),
                    urn=urn, resource_type=target.type if target else "", resource_name=target.name if target else "",
                    message=diag.message, description=diag.description, pack=diag.policyPackName,
                    stack_policy=subject is None))
            for item in response.not_applicable:
                if subject is not None:
                    not_applicable.setdefault(item.policy_name, []).append(subject.urn)

        for resource in resources:
            if wanted is not None and resource.urn not in wanted:
                continue
            analyzed.append(resource.urn)
            collect(self._checked_call("Analyze", _analyze_request(resource), resource), resource)
        if stack_policies:
            request = analyzer_pb2.AnalyzeStackRequest(resources=[_stack_resource(r) for r in resources])
            collect(self._checked_call("AnalyzeStack", request, None), None)
        return PolicyReport(
            stack=self.stack, pack_name=self.pack_name, pack_version=self.pack_version, policies=self.policies,
            violations=sorted(violations, key=Violation.sort_key), analyzed=analyzed,
            not_applicable={k: sorted(v) for k, v in sorted(not_applicable.items())},
            unknown=dict(sorted(unknown.items())), logs=self.engine.logs[logs_before:], pack_dir=self.pack_dir)


    def _checked_call(self, method: str, request: Any, subject: _Resource | None) -> Any:
        """``method``; when a policy raises, find which one (each policy alone, the others disabled) and
        say so in one line naming the policy and the resource, then the pack's stderr."""
        try:
            return self._call(method, request)
        except PolicyRaised as exc:
            kind = "resource" if method == "Analyze" else "stack"
            culprits = self._culprits(method, request, kind)
            what = (f"{subject.type} {subject.name} ({subject.urn})" if subject is not None
                    else "the stack's resources (AnalyzeStack)")
            raised = _exception_line(self.stderr_tail()) or exc.details.removeprefix("Exception calling application: ")
            names = ", ".join(f"'{name}'" for name in culprits) or "(could not tell which)"
            first = (f"policy {names} of pack {self.pack_name} raised an exception ({raised}) on {what}: "
                     "the policy has a bug; this is not a pass")
            raise PolicyPackError(first + "\n" + str(exc)) from None

    def _culprits(self, method: str, request: Any, kind: str) -> list[str]:
        culprits = []
        for policy in (p for p in self.policies if p.kind == kind and p.level != "disabled"):
            with self._only_policies([policy.name]):
                try:
                    self._call(method, request)
                except PolicyRaised:
                    culprits.append(policy.name)
        return culprits

    @contextlib.contextmanager
    def _only_policies(self, names: Collection[str]) -> Iterator[None]:
        """The pack configured with every policy but ``names`` disabled; the stack's configuration after."""
        unknown = sorted(set(names) - set(self._configure_request.policyConfig))
        if unknown:
            raise PolicyPackError(f"policy pack {self.pack_name} has no policy {', '.join(map(repr, unknown))}")
        alone = analyzer_pb2.ConfigureAnalyzerRequest()
        alone.CopyFrom(self._configure_request)
        for name in alone.policyConfig:
            if name not in names:
                alone.policyConfig[name].enforcementLevel = analyzer_pb2.DISABLED
        self._call("Configure", alone)
        try:
            yield
        finally:
            with contextlib.suppress(PolicyPackError):
                self._call("Configure", self._configure_request)


def _shown(path: Path) -> str:
    """``path`` relative to the project when it is inside it (what a user types), else absolute."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _exception_line(stderr: str) -> str:
    """The last ``SomeError: message`` line of a Python traceback in the pack's stderr."""
    lines = [line.strip() for line in stderr.splitlines()]
    found = [line for line in lines if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b.*", line)]
    return found[-1] if found else ""


def _stack_config(plan: Plan, stack: str) -> tuple[dict[str, str], list[str]]:
    try:
        stack_file = load_stack_file(stack)
    except (StackFileError, FileNotFoundError, OSError):
        return {}, []
    if stack_file.project != plan.project:
        return {}, []
    return dict(stack_file.values), list(stack_file.secret_keys)


def open_session(plan: Plan, stack: str, *, pack_dir: Path = ROOT / "policies",
                 config_path: Path | None = None) -> PolicyPackSession:
    """A started and configured pack for ``stack`` (its stack file's config in ``PULUMI_CONFIG``).
    Analyze ``plan`` and variants of it as often as needed; close it (or use ``with``) when done."""
    values, secret_keys = _stack_config(plan, stack)
    return PolicyPackSession(stack, project=plan.project, pack_dir=pack_dir, config_path=config_path,
                             config_values=values, config_secret_keys=secret_keys)


def run_policy_pack(plan: Plan, stack: str, *, pack_dir: Path = ROOT / "policies",
                    config_path: Path | None = None) -> PolicyReport:
    """Run the pack in ``pack_dir`` over ``plan`` with ``policies/config/<stack>.json``: one pack
    process, ``Analyze`` per resource, ``AnalyzeStack`` over all. Raises :class:`PolicyPackError`."""
    with open_session(plan, stack, pack_dir=pack_dir, config_path=config_path) as session:
        return session.analyze(plan)

