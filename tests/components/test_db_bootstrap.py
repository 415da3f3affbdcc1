"""The database bootstrap Job (app users for IAM authentication) and Reloader, as the prod program renders them."""

from __future__ import annotations

import json

import pytest

from components.db_bootstrap import bootstrap_sql
from components.rds_ca import bundle_for
from tests.helpers import rendered_stack

ACCOUNT = "333333333333"


@pytest.fixture(scope="module")
def plan():  # type: ignore[no-untyped-def]
    return rendered_stack("prod")


def test_the_script_is_idempotent_and_least_privilege() -> None:
    assert bootstrap_sql(database_name="app", app_username="prm_api") == "\n".join([
        "DO $$",
        "BEGIN",
        "  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'prm_api') THEN",
        "    CREATE ROLE prm_api LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;",
        "  END IF;",
        "END",
        "$$;",
        "ALTER ROLE prm_api PASSWORD NULL;",
        "GRANT rds_iam TO prm_api;",
        "REVOKE ALL ON DATABASE app FROM PUBLIC;",
        "GRANT CONNECT, TEMPORARY ON DATABASE app TO prm_api;",
        "GRANT USAGE, CREATE ON SCHEMA public TO prm_api;",
        "",
    ])


@pytest.mark.parametrize("db,user", [("prm", "prm_api"), ("nlfhir", "nlfhir_api")])
def test_one_job_per_database_after_the_database_and_the_add_ons(plan, db: str, user: str) -> None:  # type: ignore[no-untyped-def]
    job = plan.named(f"care-prod-{db}-bootstrap-job")
    meta = job.inputs["metadata"]
    assert meta["namespace"] == "db-bootstrap" and meta["name"].startswith(f"bootstrap-{db}-")
    for needed in (f"care-prod-{db}-primary", f"care-prod-{db}-master-secret-value",
                   "care-prod-eks-external-secrets", "care-prod-eks-ns-db-bootstrap",
                   f"care-prod-{db}-bootstrap-master-secret", f"care-prod-{db}-bootstrap-script"):
        assert plan.named(needed).urn in job.dependencies, needed
    spec = job.inputs["spec"]
    assert (spec["backoffLimit"], spec["activeDeadlineSeconds"]) == (3, 600)
    pod = spec["template"]["spec"]
    assert spec["template"]["metadata"]["labels"]["sidecar.istio.io/inject"] == "false"
    assert (pod["serviceAccountName"], pod["restartPolicy"], pod["automountServiceAccountToken"]) == (
        f"bootstrap-{db}", "Never", False)
    assert pod["securityContext"] == {"runAsNonRoot": True, "runAsUser": 70, "runAsGroup": 70,
                                      "seccompProfile": {"type": "RuntimeDefault"}}
    (container,) = pod["containers"]
    assert container["image"] == "public.ecr.aws/docker/library/postgres:18.1-alpine"
    assert container["command"] == ["psql", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-f", "/sql/bootstrap.sql"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["PGHOST"] == plan.outputs[f"{db}Database" if db == "nlfhir" else "prmDatabase"]["endpoint"]
    assert {k: env[k] for k in ("PGPORT", "PGDATABASE", "PGSSLMODE", "PGSSLROOTCERT")} == {
        "PGPORT": "5432", "PGDATABASE": "app", "PGSSLMODE": "verify-full", "PGSSLROOTCERT": "/sql/rds-ca.pem"}
    # The RDS roots of the primary and DR regions beside the script (mounted at /sql).
    assert plan.named(f"care-prod-{db}-bootstrap-script").inputs["data"]["rds-ca.pem"] == bundle_for(
        ["us-east-2", "us-west-2"])
    assert container["envFrom"] == [{"secretRef": {"name": f"bootstrap-{db}-master"}}]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    script = plan.named(f"care-prod-{db}-bootstrap-script").inputs["data"]["bootstrap.sql"]
    assert script == bootstrap_sql(database_name="app", app_username=user)


def test_only_the_bootstrap_identity_reads_the_master_secret(plan) -> None:  # type: ignore[no-untyped-def]
    master = plan.outputs["prmDatabase"]["masterSecretArn"]
    external = plan.named("care-prod-prm-bootstrap-master-secret").inputs["spec"]
    assert external["data"] == [
        {"secretKey": "PGPASSWORD", "remoteRef": {"key": master, "property": "password"}},
        {"secretKey": "PGUSER", "remoteRef": {"key": master, "property": "username"}}]
    policy = json.loads(plan.named("care-prod-prm-bootstrap-irsa-secret").inputs["policy"])
    assert policy["Statement"][0] == {"Sid": "ReadOwnSecrets", "Effect": "Allow",
                                      "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                                      "Resource": [master]}
    assert policy["Statement"][1]["Condition"] == {
        "StringEquals": {"kms:ViaService": "secretsmanager.us-east-2.amazonaws.com"}}
    trust = json.loads(plan.named("care-prod-prm-bootstrap-irsa").inputs["assumeRolePolicy"])
    (condition,) = [v for k, v in trust["Statement"][0]["Condition"]["StringEquals"].items() if k.endswith(":sub")]
    assert condition == "system:serviceaccount:db-bootstrap:bootstrap-prm"
    store = plan.named("care-prod-prm-bootstrap-secret-store")
    assert plan.named("care-prod-prm-bootstrap-irsa-secret-attachment").urn in store.dependencies


def test_reloader_is_pinned_and_restarts_only_annotated_workloads(plan) -> None:  # type: ignore[no-untyped-def]
    release = plan.named("care-prod-reloader-release").inputs
    assert (release["chart"], release["version"], release["namespace"], release["createNamespace"]) == (
        "reloader", "2.2.11", "reloader", True)
    assert release["repositoryOpts"] == {"repo": "https://stakater.github.io/stakater-charts"}
    values = release["values"]["reloader"]
    assert (values["reloadStrategy"], values["autoReloadAll"], values["ignoreJobs"], values["ignoreCronJobs"]) == (
        "annotations", False, True, True)
    assert values["isArgoRollouts"] is True  # prod's nlfhir and prm-api are Argo Rollouts
    assert plan.named("care-prod-eks-external-secrets").urn in plan.named("care-prod-reloader-release").dependencies
    workloads = [*plan.of_type("kubernetes:apps/v1:Deployment"),
                 *plan.of_type("kubernetes:argoproj.io/v1alpha1:Rollout")]
    annotated = {r.name: r.inputs["metadata"]["annotations"].get("secret.reloader.stakater.com/reload")
                 for r in workloads}
    assert annotated == {
        "care-prod-nlfhir-rollout": "nlfhir-secrets",
        "care-prod-prm-api-rollout": "prm-api-secrets",
        "care-prod-prm-worker-deployment": "prm-worker-secrets",
    }
