"""The app's secrets: an ExternalSecret through a SecretStore that authenticates as the app's own role.

Only ARNs (or names) and property names are in the Pulumi state; External Secrets Operator reads the
values from AWS Secrets Manager into the Kubernetes Secret ``<app>-secrets`` and refreshes it hourly.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

from components.app_service.spec import AppSpec
from components.common import child_opts

EXTERNAL_SECRETS_API = "external-secrets.io/v1"  # served by ESO >= 0.16; v1beta1 gone from 0.17


def secrets_manager_store_spec(region: str, service_account: str) -> dict[str, object]:
    """A SecretStore's spec: AWS Secrets Manager in ``region``, read as ``service_account`` (its IRSA role)."""
    return {"provider": {"aws": {"service": "SecretsManager", "region": region,
                                 "auth": {"jwt": {"serviceAccountRef": {"name": service_account}}}}}}


def create_external_secret(parent: pulumi.Resource, spec: AppSpec, *, region: str,
                           store_depends_on: Sequence[pulumi.Resource],
                           wait_for: Sequence[pulumi.Resource]) -> k8s.apiextensions.CustomResource:
    """The SecretStore (after ``store_depends_on``: the ServiceAccount, its read policy) and the ExternalSecret."""
    store = k8s.apiextensions.CustomResource(
        f"{spec.name}-secret-store",
        api_version=EXTERNAL_SECRETS_API,
        kind="SecretStore",
        metadata=spec.metadata(),
        spec=secrets_manager_store_spec(region, spec.app),
        # The store authenticates as the service account: its role may read the secrets first.
        opts=child_opts(parent, depends_on=[*wait_for, *store_depends_on]),
    )
    return k8s.apiextensions.CustomResource(
        f"{spec.name}-external-secret",
        api_version=EXTERNAL_SECRETS_API,
        kind="ExternalSecret",
        metadata=spec.metadata(),
        spec={
            "refreshInterval": "1h",
            "secretStoreRef": {"name": spec.app, "kind": "SecretStore"},
            "target": {"name": spec.secret_name, "creationPolicy": "Owner", "deletionPolicy": "Retain"},
            "data": [
                {"secretKey": key, "remoteRef": {
                    "key": spec.secrets[key].arn,
                    **({"property": spec.secrets[key].property} if spec.secrets[key].property else {}),
                }}
                for key in spec.secret_keys
            ],
        },
        opts=child_opts(parent, depends_on=[*wait_for, store]),
    )
