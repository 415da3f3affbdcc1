"""The database bootstrap: an idempotent Kubernetes Job per database that creates the app's own user.

The apps never log in as the master user. Each database gets one app user that logs in with IAM
database authentication (a 15-minute token from its IRSA role's rds-db:connect, no password to
rotate or leak: https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.html).
PostgreSQL must know that user and grant it ``rds_iam``
(https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.DBAccounts.html#UsingWithRDS.IAMDBAuth.DBAccounts.PostgreSQL),
which only a login to the database can do, so this Job does it, as the master user:

* in its own namespace (``database.bootstrap.namespace``), where no app runs, with its own service
  account whose IRSA role may read only this database's master secret;
* the master secret reaches the pod through an ExternalSecret (the value never enters Pulumi's
  Kubernetes objects), and the pod runs ``psql`` on a script that is safe to run again
  (``CREATE ROLE`` only if missing; ``GRANT`` is idempotent);
* the Job is named after a hash of its script and image, so a change runs it again, and Pulumi waits
  for it to complete; it runs after the database, the master secret and the cluster add-ons
  (External Secrets, the namespace), and the apps start after it.

The read replicas receive the user by replication.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.app_service import EXTERNAL_SECRETS_API, secrets_manager_store_spec, secrets_read_policy
from components.common import child_opts, managed_role_policy, tags_for
from components.database import DbBootstrapConfig
from components.eks import irsa_trust_policy

#: The postgres user of the official Alpine image (the restricted Pod Security Standard needs non-root).
_POSTGRES_UID = 70
#: The RDS CA bundle's key in the script ConfigMap (mounted at /sql).
CA_FILE = "rds-ca.pem"


def bootstrap_sql(*, database_name: str, app_username: str) -> str:
    """The idempotent script: the app user (IAM login only), and what it needs on its own database only.

    Names are validated identifiers (``^[a-z][a-z0-9_]*$``), so they are safe to write into SQL.
    """
    return "\n".join([
        "DO $$",
        "BEGIN",
        f"  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '{app_username}') THEN",
        f"    CREATE ROLE {app_username} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;",
        "  END IF;",
        "END",
        "$$;",
        # IAM authentication only: the role has no password, and rds_iam makes RDS accept its tokens.
        f"ALTER ROLE {app_username} PASSWORD NULL;",
        f"GRANT rds_iam TO {app_username};",
        f"REVOKE ALL ON DATABASE {database_name} FROM PUBLIC;",
        f"GRANT CONNECT, TEMPORARY ON DATABASE {database_name} TO {app_username};",
        # The app runs its own migrations (its pre-deploy Job), so it creates and owns its tables.
        f"GRANT USAGE, CREATE ON SCHEMA public TO {app_username};",
        "",
    ])


class DatabaseBootstrap(pulumi.ComponentResource):
    """One database's bootstrap Job (with its identity, master-secret ExternalSecret and script)."""

    job: k8s.batch.v1.Job

    def __init__(
        self,
        name: str,
        config: DbBootstrapConfig,
        *,
        database: str,
        host: pulumi.Input[str],
        port: int,
        database_name: str,
        app_username: str,
        master_secret_arn: pulumi.Input[str],
        secret_kms_key_arn: pulumi.Input[str],
        region: str,
        oidc_provider_arn: pulumi.Input[str],
        oidc_issuer: pulumi.Input[str],
        wait_for: Sequence[pulumi.Resource],
        ca_bundle: str = "",
        tags: Mapping[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("care:data:DatabaseBootstrap", name, None, opts)
        ns, account = config.namespace, f"bootstrap-{database}"
        labels = {"app.kubernetes.io/name": account, "app.kubernetes.io/part-of": "care-platform",
                  "app.kubernetes.io/managed-by": "pulumi"}

        role = aws.iam.Role(
            f"{name}-irsa",
            aws.iam.RoleArgs(description=f"IRSA: {ns}/{account} (reads the {database} master secret only)",
                             assume_role_policy=irsa_trust_policy(oidc_provider_arn, oidc_issuer, ns, account),
                             tags=tags_for(tags, f"{name}-irsa")),
            child_opts(self),
        )
        role_policy = managed_role_policy(
            f"{name}-irsa-secret",
            aws.iam.RolePolicyArgs(role=role.id, policy=pulumi.Output.all(master_secret_arn, secret_kms_key_arn).apply(
                lambda a: secrets_read_policy([a[0]], [a[1]], region))),
            child_opts(self),
            tags=tags,
        )
        service_account = k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=account, namespace=ns, labels=labels,
                                                annotations={"eks.amazonaws.com/role-arn": role.arn}),
            automount_service_account_token=False,
            opts=child_opts(self, depends_on=list(wait_for)),
        )
        # The store authenticates as the service account, so its role's policy must be in place first.
        store = k8s.apiextensions.CustomResource(
            f"{name}-secret-store",
            api_version=EXTERNAL_SECRETS_API,
            kind="SecretStore",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=account, namespace=ns, labels=labels),
            spec=secrets_manager_store_spec(region, account),
            opts=child_opts(self, depends_on=[*wait_for, service_account, role_policy]),
        )
        secret_name = f"{account}-master"
        external_secret = k8s.apiextensions.CustomResource(
            f"{name}-master-secret",
            api_version=EXTERNAL_SECRETS_API,
            kind="ExternalSecret",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=secret_name, namespace=ns, labels=labels),
            spec={
                "refreshInterval": "1h",
                "secretStoreRef": {"name": account, "kind": "SecretStore"},
                "target": {"name": secret_name, "creationPolicy": "Owner"},
                "data": [{"secretKey": "PGPASSWORD", "remoteRef": {"key": master_secret_arn, "property": "password"}},
                         {"secretKey": "PGUSER", "remoteRef": {"key": master_secret_arn, "property": "username"}}],
            },
            opts=child_opts(self, depends_on=[*wait_for, store]),
        )

        sql = bootstrap_sql(database_name=database_name, app_username=app_username)
        script = k8s.core.v1.ConfigMap(
            f"{name}-script",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{account}-sql", namespace=ns, labels=labels),
            # The RDS roots beside the script: psql verifies the server (PGSSLMODE=verify-full, components/rds_ca.py).
            data={"bootstrap.sql": sql, **({CA_FILE: ca_bundle} if ca_bundle else {})},
            opts=child_opts(self, depends_on=list(wait_for)),
        )
        digest = hashlib.sha256(f"{config.image}\x00{sql}\x00{ca_bundle}".encode()).hexdigest()[:8]
        self.job = k8s.batch.v1.Job(
            f"{name}-job",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{account}-{digest}", namespace=ns, labels=labels),
            spec=k8s.batch.v1.JobSpecArgs(
                backoff_limit=3,
                active_deadline_seconds=config.timeout_seconds,
                template=k8s.core.v1.PodTemplateSpecArgs(
                    # No sidecar: it would keep the finished Job's pod running; RDS is outside the mesh.
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels={**labels, "sidecar.istio.io/inject": "false"}),
                    spec=self._pod_spec(config, account=account, secret_name=secret_name, script=f"{account}-sql",
                                        host=host, port=port, database_name=database_name,
                                        verify=bool(ca_bundle)),
                ),
            ),
            opts=child_opts(self, depends_on=[*wait_for, external_secret, script]),
        )
        self.register_outputs({"jobName": self.job.metadata.name})

    @staticmethod
    def _pod_spec(config: DbBootstrapConfig, *, account: str, secret_name: str, script: str,
                  host: pulumi.Input[str], port: int, database_name: str,
                  verify: bool) -> k8s.core.v1.PodSpecArgs:
        env = [k8s.core.v1.EnvVarArgs(name="PGHOST", value=host),
               k8s.core.v1.EnvVarArgs(name="PGPORT", value=str(port)),
               k8s.core.v1.EnvVarArgs(name="PGDATABASE", value=database_name),
               # rds.force_ssl=1 refuses anything but TLS; verify-full also checks the chain and the host name
               # (https://www.postgresql.org/docs/current/libpq-envars.html: PGSSLMODE, PGSSLROOTCERT).
               k8s.core.v1.EnvVarArgs(name="PGSSLMODE", value="verify-full" if verify else "require"),
               *([k8s.core.v1.EnvVarArgs(name="PGSSLROOTCERT", value=f"/sql/{CA_FILE}")] if verify else []),
               k8s.core.v1.EnvVarArgs(name="HOME", value="/tmp")]
        return k8s.core.v1.PodSpecArgs(
            service_account_name=account,
            automount_service_account_token=False,
            restart_policy="Never",
            security_context=k8s.core.v1.PodSecurityContextArgs(
                run_as_non_root=True, run_as_user=_POSTGRES_UID, run_as_group=_POSTGRES_UID,
                seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault")),
            containers=[k8s.core.v1.ContainerArgs(
                name="psql",
                image=config.image,
                image_pull_policy="IfNotPresent",
                command=["psql", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-f", "/sql/bootstrap.sql"],
                env=env,
                env_from=[k8s.core.v1.EnvFromSourceArgs(secret_ref=k8s.core.v1.SecretEnvSourceArgs(name=secret_name))],
                resources=k8s.core.v1.ResourceRequirementsArgs(requests={"cpu": "100m", "memory": "64Mi"},
                                                               limits={"cpu": "100m", "memory": "64Mi"}),
                security_context=k8s.core.v1.SecurityContextArgs(
                    allow_privilege_escalation=False, read_only_root_filesystem=True, run_as_non_root=True,
                    privileged=False, capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"])),
                volume_mounts=[k8s.core.v1.VolumeMountArgs(name="sql", mount_path="/sql", read_only=True),
                               k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp")],
            )],
            volumes=[k8s.core.v1.VolumeArgs(name="sql", config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name=script)),
                     k8s.core.v1.VolumeArgs(name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(
                         size_limit="16Mi"))],
        )
