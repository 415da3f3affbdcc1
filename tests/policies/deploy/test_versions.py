"""Version lifecycle rules: the catalogue (policies/deploy/lifecycle.yaml) judged on an injected run date."""

from __future__ import annotations

import datetime as dt

import deploy_common
import deploy_versions
import pytest

from tests.policies.deploy.cases import Res, cluster, db
from tests.policies.deploy.support import check_stack

ADDON, HELM, CACHE, MSK = ("aws:eks/addon:Addon", "kubernetes:helm.sh/v3:Release",
                           "aws:elasticache/replicationGroup:ReplicationGroup", "aws:msk/cluster:Cluster")


def test_every_catalogue_entry_is_dated_and_sourced() -> None:
    catalogue = deploy_common.load_catalogue()
    assert catalogue["checked"] == dt.date(2026, 12, 2) and catalogue["warnDays"] == 90
    for name, entry in catalogue["entries"].items():
        assert entry["checked"] == dt.date(2026, 12, 2), name
        parts = entry.get("charts", entry.get("addons", {})).values()
        assert any(str(v).startswith("https://") for k, v in entry.items() if "ource" in k) or all(
            str(c["source"]).startswith("https://") for c in parts), name


def test_eks_version_past_standard_support_fails_and_a_current_one_passes() -> None:
    assert check_stack("eks-version-supported", [cluster(version="1.31")]) == [(
        "Kubernetes 1.31 (EKS standard support; extended support ends 2026-11-26) ended on 2025-11-26 (run date "
        "2026-12-02). Set eks.version in Pulumi.<stack>.yaml to a supported version.", "care-prod-eks-cluster")]
    assert check_stack("eks-version-supported", [cluster()]) == []
    assert check_stack("eks-version-supported", [cluster(version="1.99")]) == [(
        "Kubernetes 1.99 is not in the lifecycle catalogue (known: 1.29, 1.30, 1.31, 1.32, 1.33, 1.34, 1.35, 1.36). "
        "Set eks.version in Pulumi.<stack>.yaml.", "care-prod-eks-cluster")]


def test_the_run_date_decides_1_34_fails_on_its_last_day_of_standard_support_not_before() -> None:
    assert check_stack("eks-version-supported", [cluster(version="1.34")], config={"asOf": "2026-12-01"}) == []
    assert len(check_stack("eks-version-supported", [cluster(version="1.34")], config={"asOf": "2026-12-02"})) == 1


def test_a_version_within_ninety_days_of_its_end_is_an_advisory_warning() -> None:
    assert check_stack("version-end-of-support-soon", [cluster()], config={"asOf": "2027-01-15", "warnDays": 90}) == [(
        "Kubernetes 1.35 (EKS standard support; extended support ends 2028-03-27) ends on 2027-03-27, in 71 day(s). "
        "Plan the upgrade: set eks.version in Pulumi.<stack>.yaml.", "care-prod-eks-cluster")]
    assert check_stack("version-end-of-support-soon", [cluster()], config={"asOf": "2026-12-02", "warnDays": 90}) == []
    assert deploy_common.REGISTRY["version-end-of-support-soon"].level == "advisory"


def test_rds_postgres_16_4_is_not_offered_for_new_instances_and_13_is_past_standard_support() -> None:
    assert check_stack("rds-engine-version-supported", [db(engineVersion="16.4")]) == [(
        "PostgreSQL 16.4 is not offered for new RDS instances (cfn-lint's RDS engine-version data). "
        "Set database.prm.engineVersion in Pulumi.<stack>.yaml.", "care-prod-prm-primary")]
    assert check_stack("rds-engine-version-supported", [db(engineVersion="13")]) == [(
        "PostgreSQL 13 (RDS standard support) ended on 2026-02-28 (run date 2026-12-02). "
        "Set database.prm.engineVersion in Pulumi.<stack>.yaml to a supported version.", "care-prod-prm-primary")]
    bare_major = db("care-prod-nlfhir-primary", engineVersion="17", identifier="care-prod-nlfhir")
    assert check_stack("rds-engine-version-supported", [db(), bare_major]) == []


def test_cfn_lint_data_is_what_decides_new_instance_versions() -> None:
    offered, deprecated = deploy_versions.rds_offered()
    assert "16.4" in offered and "16.4" in deprecated
    assert "17.7" in offered and "17.7" not in deprecated


def test_addons_must_be_published_for_the_cluster_minor() -> None:
    resources = [cluster(),
                 Res(ADDON, "kp", {"addonName": "kube-proxy", "addonVersion": "v1.31.3-eksbuild.2"}),
                 Res(ADDON, "dns", {"addonName": "coredns", "addonVersion": "v1.14.2-eksbuild.4"}),
                 Res(ADDON, "cni", {"addonName": "vpc-cni", "addonVersion": "v1.19.2-eksbuild.1"})]
    assert check_stack("eks-addon-version-compatible", resources) == [(
        "add-on kube-proxy v1.31.3-eksbuild.2 is not published for Kubernetes 1.35 (v1.31 is for 1.31). "
        "Set eks.addons.kubeProxy in Pulumi.<stack>.yaml.", "kp")]


def test_charts_unsupported_or_built_for_another_kubernetes_fail() -> None:
    resources = [cluster(), Res(HELM, "istiod", {"chart": "istiod", "version": "1.24.2"}),
                 Res(HELM, "eso", {"chart": "external-secrets", "version": "0.10.7"}),
                 Res(HELM, "ca", {"chart": "cluster-autoscaler", "version": "9.43.2"}),
                 Res(HELM, "ms", {"chart": "metrics-server", "version": "3.12.2"})]
    assert check_stack("helm-chart-version-supported", resources) == [
        ("chart istio 1.24.2 supports Kubernetes 1.28 to 1.31, not 1.35. Set eks.charts.istio in Pulumi.<stack>.yaml.",
         "istiod"),
        ("chart external-secrets 0.10.7 is no longer supported by its project "
         "(https://external-secrets.io/latest/introduction/stability-support/). "
         "Set eks.charts.externalSecrets in Pulumi.<stack>.yaml.", "eso"),
        ("chart cluster-autoscaler 9.43.2 runs app 1.31, which is built for Kubernetes 1.31, not 1.35. "
         "Set eks.charts.clusterAutoscaler in Pulumi.<stack>.yaml.", "ca")]


def test_removed_api_versions_fail_and_served_ones_pass() -> None:
    resources = [cluster(), Res(HELM, "eso", {"chart": "external-secrets", "version": "0.19.2"}),
                 Res("kubernetes:external-secrets.io/v1beta1:ExternalSecret", "es-old", {}),
                 Res("kubernetes:external-secrets.io/v1:ExternalSecret", "es-new", {}),
                 Res("kubernetes:policy/v1beta1:PodDisruptionBudget", "pdb", {})]
    assert check_stack("kubernetes-api-version-served", resources) == [
        ("API external-secrets.io/v1beta1 is removed in external-secrets 0.17.0; use external-secrets.io/v1. "
         "Change components/ (the manifest's apiVersion).", "es-old"),
        ("API policy/v1beta1 is removed in Kubernetes 1.25; use policy/v1. "
         "Change components/ (the manifest's apiVersion).", "pdb")]


def test_elasticache_and_msk_versions() -> None:
    groups = [Res(CACHE, "r62", {"engine": "redis", "engineVersion": "6.2"}),
              Res(CACHE, "r71", {"engine": "redis", "engineVersion": "7.1"}),
              Res(CACHE, "v9", {"engine": "valkey", "engineVersion": "9.9"})]
    assert check_stack("elasticache-engine-version-supported", groups, config={"asOf": "2027-02-01"}) == [
        ("redis 6.2 (ElastiCache standard support) ended on 2027-01-31 (run date 2027-02-01). "
         "Set cache.engineVersion in Pulumi.<stack>.yaml to a supported version.", "r62"),
        ("valkey 9.9 is not in the lifecycle catalogue. Set cache.engineVersion in Pulumi.<stack>.yaml.", "v9")]
    clusters = [Res(MSK, "old", {"kafkaVersion": "3.5.1"}), Res(MSK, "new", {"kafkaVersion": "3.8.x"})]
    assert check_stack("msk-kafka-version-supported", clusters) == [(
        "Apache Kafka 3.5.1 (MSK support) ended on 2025-10-23 (run date 2026-12-02). "
        "Set streaming.kafkaVersion in Pulumi.<stack>.yaml to a supported version.", "old")]


def test_unknown_versions_are_skipped_not_failed() -> None:
    from tests.policies.support import U

    assert check_stack("eks-version-supported", [cluster(version=U)]) == []
    assert check_stack("rds-engine-version-supported", [db(engineVersion=U)]) == []


def test_a_malformed_catalogue_is_an_error_not_an_empty_pass(tmp_path) -> None:
    path = tmp_path / "lifecycle.yaml"
    path.write_text("checked: 2026-12-02\n")
    with pytest.raises(ValueError, match=r"lifecycle.yaml: expected a mapping with `entries`$"):
        deploy_common.load_catalogue(path)


def test_the_cluster_autoscaler_is_judged_by_the_image_it_runs() -> None:
    """Chart 9.59 ships autoscaler 1.35; the program overrides the image to the cluster's minor
    (eks.charts.clusterAutoscalerImageTag), and the rule judges that image, not the chart's default."""
    on_136 = cluster(version="1.36")
    default_image = Res(HELM, "ca", {"chart": "cluster-autoscaler", "version": "9.59.0"})
    pinned_image = Res(HELM, "ca-pinned", {"chart": "cluster-autoscaler", "version": "9.59.0",
                                           "values": {"image": {"tag": "v1.36.1"}}})
    wrong_image = Res(HELM, "ca-wrong", {"chart": "cluster-autoscaler", "version": "9.59.0",
                                         "values": {"image": {"tag": "v1.34.2"}}})
    assert check_stack("helm-chart-version-supported", [on_136, default_image, pinned_image, wrong_image]) == [
        ("chart cluster-autoscaler 9.59.0 runs app 1.35, which is built for Kubernetes 1.35, not 1.36. "
         "Set eks.charts.clusterAutoscaler in Pulumi.<stack>.yaml.", "ca"),
        ("chart cluster-autoscaler 9.59.0 runs app 1.34, which is built for Kubernetes 1.34, not 1.36. "
         "Set eks.charts.clusterAutoscaler in Pulumi.<stack>.yaml.", "ca-wrong")]


def test_reloader_is_catalogued_under_its_own_config_key() -> None:
    assert check_stack("helm-chart-version-supported", [
        cluster(), Res(HELM, "rl", {"chart": "reloader", "version": "2.2.11"}),
        Res(HELM, "rl-old", {"chart": "reloader", "version": "1.0.1"})]) == [
        ("chart reloader 1.0.1 is not in the lifecycle catalogue. Set apps.reloader.chartVersion in "
         "Pulumi.<stack>.yaml.", "rl-old")]


def test_msk_kraft_versions_and_ended_zookeeper_versions() -> None:
    clusters = [Res(MSK, "kraft", {"kafkaVersion": "4.1.x.kraft"}), Res(MSK, "zk36", {"kafkaVersion": "3.6.0"})]
    assert check_stack("msk-kafka-version-supported", clusters) == [(
        "Apache Kafka 3.6.0 (MSK support) ended on 2026-06-01 (run date 2026-12-02). "
        "Set streaming.kafkaVersion in Pulumi.<stack>.yaml to a supported version.", "zk36")]
