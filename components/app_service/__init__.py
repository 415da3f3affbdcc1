"""The Railway-like app service on EKS: one typed spec in, a production-grade workload out.

What a team gets from one ``AppConfig``: a Deployment with zero-downtime rolling updates, probes,
resources and a hardened security context; an HPA; a PodDisruptionBudget; its own ServiceAccount
(with an IRSA role when it needs AWS); a NetworkPolicy; secrets pulled from AWS Secrets Manager by
an ExternalSecret (only ARNs and key names are in the Pulumi state); and optionally an ALB Ingress
(HTTPS only), a pre-deploy Job (migrations) and CronJobs. Typed bindings bind it to its stores.

Pods run in the Istio mesh (their namespace is injected; mTLS is STRICT mesh-wide). Jobs and
CronJobs run without a sidecar (a sidecar would keep a finished Job's pod alive), so they may call
AWS services but not STRICT-mTLS services in the mesh.

Where to find what:

- ``config.py``      the pydantic models (``AppConfig``, ``AppsConfig``, ingress, pre-deploy, cron jobs)
- ``bindings.py``    ``PostgresBinding``, ``RedisBinding``, ``KafkaBinding``, ``ChromaDbBinding``,
                     ``EnvironmentBinding``: environment, secret references and IAM of one store
- ``spec.py``        names, labels, secret keys and the container environment every part shares
- ``identity.py``    ServiceAccount, IRSA role and its role policies
- ``secrets.py``     SecretStore and ExternalSecret
- ``workload.py``    Deployment, container and pod spec
- ``autoscaling.py`` HorizontalPodAutoscaler and PodDisruptionBudget
- ``exposure.py``    Service, NetworkPolicy, ALB Ingress and its Istio PeerAuthentication
- ``authorization.py`` Istio AuthorizationPolicies: the app's callers by principal, the namespaces' deny-all
- ``trust.py``       the RDS CA bundle ConfigMap and its volume (``sslmode=verify-full``)
- ``jobs.py``        pre-deploy Job and CronJobs
- ``component.py``   ``AppService``, which puts them together
"""

from components.app_service.bindings import (
    KAFKA_PREFIX_TAG,
    Binding,
    ChromaDbBinding,
    EnvironmentBinding,
    KafkaBinding,
    PostgresBinding,
    RedisBinding,
    SecretRef,
    msk_client_document,
    msk_client_policy,
    rds_db_user_arn,
)
from components.app_service.component import AppService
from components.app_service.config import (
    DEFAULT_SSL_POLICY,
    AppConfig,
    AppIngressConfig,
    AppsConfig,
    CronJobConfig,
    KafkaAccessConfig,
    PreDeployConfig,
    RedisAccessConfig,
    SecretRefConfig,
)
from components.app_service.identity import secrets_read_policy
from components.app_service.secrets import EXTERNAL_SECRETS_API, secrets_manager_store_spec
from components.app_service.workload import RELOAD_ANNOTATION

__all__ = [
    "DEFAULT_SSL_POLICY", "EXTERNAL_SECRETS_API",
    "secrets_manager_store_spec", "RELOAD_ANNOTATION", "AppConfig", "AppIngressConfig", "AppService",
    "AppsConfig", "Binding", "ChromaDbBinding", "CronJobConfig", "EnvironmentBinding", "KafkaBinding",
    "KAFKA_PREFIX_TAG", "KafkaAccessConfig", "RedisAccessConfig",
    "PostgresBinding", "PreDeployConfig", "RedisBinding", "SecretRef", "SecretRefConfig",
    "msk_client_document", "msk_client_policy",
    "rds_db_user_arn", "secrets_read_policy",
]
