"""The observability section of the stack configuration (the stack itself: components/monitoring/).

Chart versions (checked 2026-12-02 against the charts' own repositories; the newest release in the
stored snapshots, which end in late August 2026: a newer patch may exist, and Renovate-style bumps are
one config line each):

- kube-prometheus-stack 88.5.3 (prometheus-operator v0.93.1; bundles Grafana chart 12.11.1 = Grafana
  13.2.0, kube-state-metrics 8.4.0, prometheus-node-exporter 4.56.1), kubeVersion >=1.25,
  https://github.com/prometheus-community/helm-charts/blob/main/charts/kube-prometheus-stack/Chart.yaml
- loki 18.11.0 (Loki 3.7.6) from grafana-community/helm-charts: the OSS chart moved there on
  2026-03-16 (https://github.com/grafana/helm-charts/blob/main/charts/loki/README.md)
- tempo 2.2.4 (Tempo 2.10.8), also moved to grafana-community/helm-charts (2026-01-30)
- alloy 1.11.1 (Alloy v1.18.1), https://github.com/grafana/alloy/tree/main/operations/helm/charts/alloy

Prometheus sizing: the retention must fit in the volume. Prometheus stores "an average of only 1-2
bytes per sample" (https://prometheus.io/docs/prometheus/latest/storage/#operational-aspects); we
assume the upper figure, 2 bytes, and keep 20 % of the volume free for the WAL and compaction (the
``retentionSize`` given to Prometheus is 80 % of the volume, so it also deletes old blocks before
the disk fills).
"""

from __future__ import annotations

from pydantic import Field, model_validator

from components.common import ConfigModel, LogRetentionDays
from components.problems import ProblemCollector

_CHART_VERSION = r"^\d+\.\d+\.\d+$"
#: The assumption the retention check makes (Prometheus docs: 1-2 bytes per sample; the upper figure).
BYTES_PER_SAMPLE = 2
#: The share of the volume the TSDB may fill (the rest: WAL, compaction headroom).
USABLE_SHARE = 0.8
GIB = 1024 ** 3


class ObservabilityChartsConfig(ConfigModel):
    kube_prometheus_stack: str = Field(default="88.5.3", pattern=_CHART_VERSION)
    loki: str = Field(default="18.11.0", pattern=_CHART_VERSION)
    tempo: str = Field(default="2.2.4", pattern=_CHART_VERSION)
    alloy: str = Field(default="1.11.1", pattern=_CHART_VERSION)


class PrometheusConfig(ConfigModel):
    retention_days: int = Field(default=15, ge=1, le=365)
    storage_gib: int = Field(default=50, ge=10, le=16384)
    #: The ingestion rate the volume is sized for (every active series at a 30 s scrape interval is 1/30 s).
    samples_per_second: int = Field(default=10000, ge=100, le=10_000_000)
    replicas: int = Field(default=1, ge=1, le=3)
    cpu: str = Field(default="1", pattern=r"^\d+(m)?$")
    memory: str = Field(default="4Gi", pattern=r"^\d+(Mi|Gi)$")

    @property
    def usable_bytes(self) -> int:
        return int(self.storage_gib * GIB * USABLE_SHARE)

    @property
    def needed_bytes(self) -> int:
        return self.retention_days * 86400 * self.samples_per_second * BYTES_PER_SAMPLE

    @model_validator(mode="after")
    def _fits(self) -> PrometheusConfig:
        problems = ProblemCollector()
        if self.needed_bytes > self.usable_bytes:
            need_gib = -(-self.needed_bytes // int(GIB * USABLE_SHARE))
            problems.add("retentionDays", self.retention_days,
                         f"does not fit in storageGib {self.storage_gib}: {self.retention_days} d x "
                         f"{self.samples_per_second} samples/s x {BYTES_PER_SAMPLE} bytes/sample needs "
                         f"{self.needed_bytes / GIB:.1f} GiB, and only {int(USABLE_SHARE * 100)} % of the volume "
                         f"({self.usable_bytes / GIB:.1f} GiB) holds blocks; raise storageGib to {need_gib} or "
                         "shorten the retention")
        problems.raise_if_any()
        return self


class AlertmanagerConfig(ConfigModel):
    replicas: int = Field(default=1, ge=1, le=5)
    storage_gib: int = Field(default=2, ge=1, le=100)


class LokiConfig(ConfigModel):
    replicas: int = Field(default=1, ge=1, le=5)
    cpu: str = Field(default="1", pattern=r"^\d+(m)?$")
    memory: str = Field(default="2Gi", pattern=r"^\d+(Mi|Gi)$")
    storage_gib: int = Field(default=10, ge=5, le=1000)


class TempoConfig(ConfigModel):
    #: Share of new traces sampled (``OTEL_TRACES_SAMPLER_ARG``, parent-based); 0 < rate <= 1.
    sampling_rate: float = Field(default=0.1, gt=0, le=1)
    retention_days: int = Field(default=14, ge=1, le=90)
    cpu: str = Field(default="1", pattern=r"^\d+(m)?$")
    memory: str = Field(default="2Gi", pattern=r"^\d+(Mi|Gi)$")
    storage_gib: int = Field(default=10, ge=5, le=1000)


class GrafanaConfig(ConfigModel):
    #: Bump to rotate the admin password (a new random value, written to Secrets Manager, synced by ESO).
    admin_password_generation: int = Field(default=1, ge=1)


class ObservabilityConfig(ConfigModel):
    log_retention_days: LogRetentionDays = 365
    charts: ObservabilityChartsConfig = ObservabilityChartsConfig()
    prometheus: PrometheusConfig = PrometheusConfig()
    alertmanager: AlertmanagerConfig = AlertmanagerConfig()
    grafana: GrafanaConfig = GrafanaConfig()
    loki: LokiConfig = LokiConfig()
    tempo: TempoConfig = TempoConfig()
