"""What every part of an app service shares: its names, labels, secret keys and container environment."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.app_service.bindings import SecretRef, Wiring
from components.app_service.config import AppConfig


def labels_for(app_name: str) -> dict[str, str]:
    """The labels that select an app's pods (for other components' NetworkPolicies)."""
    return {"app.kubernetes.io/name": app_name}


def version_label(image: str) -> str:
    if "@sha256:" in image:
        return image.rsplit("@sha256:", 1)[1][:12]
    return re.sub(r"[^A-Za-z0-9_.-]", "-", image.rpartition(":")[2])[:63]


@dataclass(frozen=True)
class AppSpec:
    """One app's identity on the cluster: ``name`` prefixes logical names, ``app`` names its Kubernetes objects."""

    name: str
    app: str
    config: AppConfig
    tags: Mapping[str, str]
    #: Every secret the app reads (configured and wired), by variable name.
    secrets: Mapping[str, SecretRef]
    env: list[k8s.core.v1.EnvVarArgs]
    #: The RDS CA bundle its pods mount (components/app_service/trust.py); None without a database binding.
    rds_ca_bundle: str | None = None

    @classmethod
    def build(cls, name: str, app: str, config: AppConfig, wiring: Wiring, tags: Mapping[str, str]) -> AppSpec:
        clash = (set(wiring.environment) | set(wiring.secrets)) & (set(config.env) | set(config.secrets))
        if clash:
            raise ValueError(f"{name}: variables set twice (config and wiring): {', '.join(sorted(clash))}")
        secrets = {key: SecretRef(arn=ref.secret, property=ref.property) for key, ref in config.secrets.items()}
        secrets.update(wiring.secrets)
        return cls(name, app, config, tags, secrets, _container_env(app, config, wiring.environment, sorted(secrets)))

    @property
    def namespace(self) -> str:
        return self.config.namespace

    @property
    def selector(self) -> dict[str, str]:
        return labels_for(self.app)

    @property
    def labels(self) -> dict[str, str]:
        """The labels of every Kubernetes object of the app."""
        return {**self.selector, "app.kubernetes.io/part-of": "care-platform", "app.kubernetes.io/managed-by": "pulumi"}

    @property
    def pod_labels(self) -> dict[str, str]:
        return {**self.selector, "app.kubernetes.io/part-of": "care-platform",
                "app.kubernetes.io/version": version_label(self.config.image)}

    @property
    def secret_name(self) -> str:
        """The Kubernetes Secret the ExternalSecret writes and the containers read."""
        return f"{self.app}-secrets"

    @property
    def secret_keys(self) -> list[str]:
        return sorted(self.secrets)

    def metadata(self, name: str | None = None, **kwargs: object) -> k8s.meta.v1.ObjectMetaArgs:
        """Metadata of one of the app's objects: named ``name`` (default: the app) in its namespace, labelled."""
        return k8s.meta.v1.ObjectMetaArgs(name=name or self.app, namespace=self.namespace, labels=self.labels,
                                          **kwargs)  # type: ignore[arg-type]


def _container_env(app: str, config: AppConfig, wired: Mapping[str, pulumi.Input[str]],
                   secret_keys: list[str]) -> list[k8s.core.v1.EnvVarArgs]:
    """PORT, the configured variables, the wired ones (each group sorted), then every secret by reference."""
    env = [k8s.core.v1.EnvVarArgs(name="PORT", value=str(config.port))]
    env += [k8s.core.v1.EnvVarArgs(name=k, value=v) for k, v in sorted(config.env.items())]
    env += [k8s.core.v1.EnvVarArgs(name=k, value=wired[k]) for k in sorted(wired)]
    env += [k8s.core.v1.EnvVarArgs(name=k, value_from=k8s.core.v1.EnvVarSourceArgs(
        secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(name=f"{app}-secrets", key=k)))
        for k in secret_keys]
    return env
