"""Version lifecycles: every engine, Kubernetes, add-on, chart and API version the stack pins, judged
against the dated, sourced catalogue in ``lifecycle.yaml`` on the run's date (``asOf``, default today).

A version past its end (or not offered for new resources) fails; one within ``warnDays`` (90) of its end
is reported by the advisory ``version-end-of-support-soon``; one the catalogue does not know fails, so a
new pin needs a catalogue entry with its source first.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from deploy_common import (
    AS_OF,
    CACHE_RG,
    EKS_ADDON,
    EKS_CLUSTER,
    HELM_RELEASE,
    MSK,
    RDS_INSTANCE,
    Report,
    Resource,
    Settings,
    as_of,
    get,
    is_unknown,
    load_catalogue,
    minor,
    of_type,
    policies_of,
    stack_policy,
)

EKS_SOURCE = "https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html"
RDS_SOURCE = "https://docs.aws.amazon.com/AmazonRDS/latest/PostgreSQLReleaseNotes/postgresql-release-calendar.html"
CACHE_SOURCE = "https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/engine-versions.html"
MSK_SOURCE = "https://docs.aws.amazon.com/msk/latest/developerguide/supported-kafka-versions.html"
ADDON_SOURCE = "https://docs.aws.amazon.com/eks/latest/userguide/managing-coredns.html"
CHART_SOURCE = "https://istio.io/latest/docs/releases/supported-releases/"
API_SOURCE = "https://kubernetes.io/docs/reference/using-api/deprecation-guide/"

WARN = {"warnDays": {"type": "integer", "minimum": 0, "default": 90,
                     "description": "Warn this many days before a version's end of support."}}

ADDON_KEYS = {"vpc-cni": "vpcCni", "coredns": "coredns", "kube-proxy": "kubeProxy",
              "aws-ebs-csi-driver": "awsEbsCsiDriver"}
CHART_KEYS = {"aws-load-balancer-controller": "awsLoadBalancerController", "cluster-autoscaler": "clusterAutoscaler",
              "metrics-server": "metricsServer", "external-secrets": "externalSecrets", "istio": "istio",
              "argo-rollouts": "argoRollouts"}
#: Charts configured outside eks.charts: their full config key.
CHART_CONFIG_KEYS = {"reloader": "apps.reloader.chartVersion",
                     "kube-prometheus-stack": "observability.charts.kubePrometheusStack",
                     "loki": "observability.charts.loki", "tempo": "observability.charts.tempo",
                     "alloy": "observability.charts.alloy"}
ISTIO_CHARTS = ("base", "cni", "istiod", "gateway")


@cache
def catalogue() -> dict[str, Any]:
    return load_catalogue()["entries"]


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(value) if isinstance(value, str) and value else None


def db_key(db: Resource) -> str:
    """``database.<name>`` from an identifier like ``care-prod-prm`` (``<name>`` when it cannot be told)."""
    ident = db.get("identifier")
    match = re.match(r"^care-[a-z0-9]+-([a-z0-9]+)$", ident) if isinstance(ident, str) else None
    return f"database.{match.group(1) if match else '<name>'}"


@dataclass(frozen=True)
class Finding:
    """One pinned version judged: ``end`` is the date it stops being supported (None: no end published)."""

    resource: Resource
    what: str  # e.g. "Kubernetes 1.31 (EKS standard support)"
    key: str  # the config key to change
    end: dt.date | None
    problem: str | None = None  # set when the version is not usable at all (unknown, not offered, removed)


def _cluster_minor(resources: list[Resource]) -> str | None:
    versions = {r.get("version") for r in of_type(resources, EKS_CLUSTER)}
    known = [v for v in versions if isinstance(v, str)]
    return known[0] if len(known) == 1 else None


# --- findings per kind --------------------------------------------------------------------------


def eks_findings(resources: list[Resource]) -> Iterator[Finding]:
    table = catalogue()["eks"]["versions"]
    for cluster in of_type(resources, EKS_CLUSTER):
        version = cluster.get("version")
        if is_unknown(version):
            continue
        if not isinstance(version, str):
            yield Finding(cluster, "the Kubernetes version", "eks.version", None,
                          "sets no Kubernetes version, so EKS picks its default and the next `up` drifts")
            continue
        entry = table.get(version)
        if entry is None:
            yield Finding(cluster, f"Kubernetes {version}", "eks.version", None,
                          f"is not in the lifecycle catalogue (known: {', '.join(table)})")
            continue
        yield Finding(cluster, f"Kubernetes {version} (EKS standard support; extended support ends "
                      f"{entry['endOfExtendedSupport']})", "eks.version", _date(entry["endOfStandardSupport"]))


def addon_findings(resources: list[Resource]) -> Iterator[Finding]:
    table = catalogue()["eksAddons"]["addons"]
    cluster = _cluster_minor(resources)
    for addon in of_type(resources, EKS_ADDON):
        name, version = addon.get("addonName"), addon.get("addonVersion")
        if is_unknown(name) or is_unknown(version) or not isinstance(name, str):
            continue
        key = f"eks.addons.{ADDON_KEYS.get(name, name)}"
        entry = table.get(name)
        if entry is None:
            yield Finding(addon, f"add-on {name}", key, None, "is not in the lifecycle catalogue")
            continue
        if entry.get("rule") == "unverifiable" or cluster is None:
            continue
        if not isinstance(version, str):
            yield Finding(addon, f"add-on {name}", key, None, "pins no addonVersion, so EKS picks one and drifts")
            continue
        parsed = minor(version)
        line = ".".join(str(p) for p in (parsed or ())[:2])
        supported = [line] if entry.get("rule") == "sameMinor" else entry["versions"].get(line, [])
        if cluster not in supported:
            yield Finding(addon, f"add-on {name} {version}", key, None,
                          f"is not published for Kubernetes {cluster} (v{line} is for "
                          f"{', '.join(supported) or 'no catalogued cluster version'})")


def rds_findings(resources: list[Resource]) -> Iterator[Finding]:
    table = catalogue()["rdsPostgres"]["versions"]
    offered, deprecated = rds_offered()
    for db in of_type(resources, RDS_INSTANCE):
        engine, version = db.get("engine"), db.get("engineVersion")
        if db.get("replicateSourceDb") or engine != "postgres" or is_unknown(version) or not isinstance(version, str):
            continue  # replicas inherit the source's version
        key = f"{db_key(db)}.engineVersion"
        major = version.split(".")[0]
        entry = table.get(major)
        if entry is None:
            yield Finding(db, f"PostgreSQL {version}", key, None, "is not in the lifecycle catalogue")
            continue
        if "." in version and (version not in offered or version in deprecated):
            yield Finding(db, f"PostgreSQL {version}", key, None,
                          "is not offered for new RDS instances (cfn-lint's RDS engine-version data)")
            continue
        yield Finding(db, f"PostgreSQL {major} (RDS standard support)", key, _date(entry["endOfStandardSupport"]))


@cache
def rds_offered() -> tuple[frozenset[str], frozenset[str]]:
    """PostgreSQL versions cfn-lint's data lists for DBInstance, and those it marks deprecated for new instances."""
    from importlib import resources as files

    import cfnlint.data.schemas.extensions.aws_rds_dbinstance as data

    def versions(name: str) -> frozenset[str]:
        document = json.loads(files.files(data).joinpath(name).read_text())
        found: set[str] = set()
        for clause in document.get("allOf", [document]):
            condition = clause.get("if", {}).get("properties", {})
            if condition.get("Engine", {}).get("const") != "postgres":
                continue
            enum = (condition.get("EngineVersion", {}).get("enum")
                    or clause.get("then", {}).get("properties", {}).get("EngineVersion", {}).get("enum") or [])
            found.update(enum)
        return frozenset(found)

    return versions("engine_version.json"), versions("engine_version_deprecated.json")


def cache_findings(resources: list[Resource]) -> Iterator[Finding]:
    engines = catalogue()["elasticache"]["engines"]
    for group in of_type(resources, CACHE_RG):
        engine, version = group.get("engine") or "redis", group.get("engineVersion")
        if is_unknown(engine) or is_unknown(version) or not isinstance(version, str):
            continue
        line = ".".join(version.split(".")[:2])
        entry = engines.get(engine, {}).get(line)
        if entry is None:
            yield Finding(group, f"{engine} {version}", "cache.engineVersion", None,
                          "is not in the lifecycle catalogue")
            continue
        yield Finding(group, f"{engine} {line} (ElastiCache standard support)", "cache.engineVersion",
                      _date(entry.get("endOfStandardSupport")))


def msk_findings(resources: list[Resource]) -> Iterator[Finding]:
    table = catalogue()["msk"]["versions"]
    for cluster in of_type(resources, MSK):
        version = cluster.get("kafkaVersion")
        if is_unknown(version) or not isinstance(version, str):
            continue
        entry = table.get(version) or table.get(".".join(version.split(".")[:2]) + ".x")
        if entry is None:
            yield Finding(cluster, f"Apache Kafka {version}", "streaming.kafkaVersion", None,
                          "is not in the lifecycle catalogue")
            continue
        yield Finding(cluster, f"Apache Kafka {version} (MSK support)", "streaming.kafkaVersion",
                      _date(entry.get("endOfSupport")))


def chart_name(release: Resource) -> str | None:
    chart = release.get("chart")
    if not isinstance(chart, str):
        return None
    return "istio" if chart in ISTIO_CHARTS else chart


def chart_findings(resources: list[Resource]) -> Iterator[Finding]:
    charts = catalogue()["helmCharts"]["charts"]
    cluster = _cluster_minor(resources)
    for release in of_type(resources, HELM_RELEASE):
        name, version = chart_name(release), release.get("version")
        if name is None or is_unknown(version) or not isinstance(version, str):
            continue
        key = CHART_CONFIG_KEYS.get(name) or f"eks.charts.{CHART_KEYS.get(name, name)}"
        entry = charts.get(name)
        line = ".".join(version.split(".")[:2])
        spec = (entry or {}).get("lines", {}).get(line)
        if spec is None:
            yield Finding(release, f"chart {name} {version}", key, None, "is not in the lifecycle catalogue")
            continue
        if spec.get("supported") is False:
            yield Finding(release, f"chart {name} {version}", key, None,
                          f"is no longer supported by its project ({entry['source']})")
            continue
        image_tag = get(release.get("values"), "image.tag")
        if isinstance(image_tag, str) and (parsed := minor(image_tag)):
            spec = {**spec, "app": ".".join(str(p) for p in parsed[:2])}  # the image the release really runs
        if cluster is not None and (problem := _chart_fits(entry, spec, cluster)):
            yield Finding(release, f"chart {name} {version}", key, None, problem)
            continue
        yield Finding(release, f"chart {name} {line}", key, _date(spec.get("endOfSupport")))


def _chart_fits(entry: dict[str, Any], spec: dict[str, Any], cluster: str) -> str | None:
    at = minor(cluster)
    if entry.get("rule") == "appMinorEqualsCluster" and spec.get("app") != cluster:
        return f"runs app {spec.get('app')}, which is built for Kubernetes {spec.get('app')}, not {cluster}"
    low, high = minor(spec.get("kubernetesMin")), minor(spec.get("kubernetesMax"))
    if at is not None and ((low and at < low) or (high and at > high)):
        return (f"supports Kubernetes {spec.get('kubernetesMin', '?')} to {spec.get('kubernetesMax', 'latest')}, "
                f"not {cluster}")
    return None


def api_findings(resources: list[Resource]) -> Iterator[Finding]:
    apis = catalogue()["kubernetesApis"]["apis"]
    cluster = minor(_cluster_minor(resources))
    installed = {chart_name(r): r.get("version") for r in of_type(resources, HELM_RELEASE)}
    for resource in resources:
        if not resource.type.startswith("kubernetes:") or resource.type.count(":") != 2:
            continue
        api = resource.type.split(":")[1]
        entry = apis.get(api)
        if entry is None:
            continue
        where = entry.get("removedInChart")
        if where is not None:
            chart_version = installed.get(where["chart"])
            at = minor(chart_version)
            if at and at < (minor(where["version"]) or ()):
                problem = (f"is removed in {where['chart']} {where['version']}; the installed chart {chart_version} "
                           "is itself unsupported")
            else:
                problem = f"is removed in {where['chart']} {where['version']}"
        elif cluster is not None and cluster >= minor(entry["removedInKubernetes"]):
            problem = f"is removed in Kubernetes {entry['removedInKubernetes']}"
        else:
            continue
        yield Finding(resource, f"API {api}", "components/ (the manifest's apiVersion)", None,
                      f"{problem}; use {entry['replacement']}")


KINDS = {
    "eks-version-supported": eks_findings,
    "eks-addon-version-compatible": addon_findings,
    "rds-engine-version-supported": rds_findings,
    "elasticache-engine-version-supported": cache_findings,
    "msk-kafka-version-supported": msk_findings,
    "helm-chart-version-supported": chart_findings,
    "kubernetes-api-version-served": api_findings,
}


def _fail(finding: Finding, today: dt.date) -> str | None:
    if finding.problem is not None:
        if finding.key.startswith("components/"):
            return f"{finding.what} {finding.problem}. Change {finding.key}."
        return f"{finding.what} {finding.problem}. Set {finding.key} in Pulumi.<stack>.yaml."
    if finding.end is not None and today >= finding.end:
        return (f"{finding.what} ended on {finding.end.isoformat()} (run date {today.isoformat()}). "
                f"Set {finding.key} in Pulumi.<stack>.yaml to a supported version.")
    return None


def _judge(name: str, resources: list[Resource], report: Report, settings: Settings) -> None:
    today = as_of(settings)
    for finding in KINDS[name](resources):
        message = _fail(finding, today)
        if message:
            report(message, finding.resource.urn)


def _register(name: str, source: str, description: str, types: tuple[str, ...]) -> None:
    def body(resources: list[Resource], report: Report, settings: Settings) -> None:
        _judge(name, resources, report, settings)

    body.__module__ = __name__
    stack_policy(name, concern="versions", source=source, description=description, types=types,
                 config=AS_OF)(body)


_register("eks-version-supported", EKS_SOURCE,
          "The EKS Kubernetes version is in EKS standard support on the run's date.", (EKS_CLUSTER,))
_register("eks-addon-version-compatible", ADDON_SOURCE,
          "Every EKS add-on version is published for the cluster's Kubernetes minor.", (EKS_ADDON,))
_register("rds-engine-version-supported", RDS_SOURCE,
          "RDS PostgreSQL versions are offered for new instances (cfn-lint data) and in RDS standard support.",
          (RDS_INSTANCE,))
_register("elasticache-engine-version-supported", CACHE_SOURCE,
          "The ElastiCache engine version is catalogued and in standard support on the run's date.", (CACHE_RG,))
_register("msk-kafka-version-supported", MSK_SOURCE,
          "The MSK Apache Kafka version is catalogued and before its MSK end of support.", (MSK,))
_register("helm-chart-version-supported", CHART_SOURCE,
          "Every Helm chart version is supported by its project and fits the cluster's Kubernetes minor.",
          (HELM_RELEASE,))
_register("kubernetes-api-version-served", API_SOURCE,
          "No manifest uses an API version removed from the cluster or from the operator that serves it.", ())


@stack_policy(
    "version-end-of-support-soon", concern="versions", source=EKS_SOURCE, level="advisory", config={**AS_OF, **WARN},
    description="Advisory: a pinned version reaches its end of support within warnDays (90) of the run's date.",
)
def version_end_of_support_soon(resources: list[Resource], report: Report, settings: Settings) -> None:
    today = as_of(settings)
    horizon = today + dt.timedelta(days=int(settings["warnDays"]))
    for kind in KINDS.values():
        for finding in kind(resources):
            if finding.problem is None and finding.end is not None and today < finding.end <= horizon:
                days = (finding.end - today).days
                report(f"{finding.what} ends on {finding.end.isoformat()}, in {days} day(s). Plan the upgrade: "
                       f"set {finding.key} in Pulumi.<stack>.yaml.", finding.resource.urn)


POLICIES = policies_of(__name__)
