# ruff: noqa: E501  (the expected messages are asserted verbatim)
"""The release policies: an SLO analysis on every Argo Rollout, gradual AppConfig deployments (mandatory in prod)."""

from __future__ import annotations

from tests.policies.support import DROP, check, edit

ROLLOUT_T = "kubernetes:argoproj.io/v1alpha1:Rollout"
STRATEGY_T = "aws:appconfig/deploymentStrategy:DeploymentStrategy"
ANALYSIS = {"templates": [{"templateName": "nlfhir-slo"}]}
BLUE_GREEN = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "nlfhir"}, "spec": {
    "strategy": {"blueGreen": {"activeService": "nlfhir", "previewService": "nlfhir-preview",
                               "prePromotionAnalysis": ANALYSIS, "postPromotionAnalysis": ANALYSIS}}}}
CANARY = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "prm-api"}, "spec": {
    "strategy": {"canary": {"steps": [{"setWeight": 20}, {"analysis": ANALYSIS}, {"setWeight": 50}]}}}}
LINEAR = {"name": "care-prod-nlfhir-flags-linear", "growthType": "LINEAR", "growthFactor": 20,
          "deploymentDurationInMinutes": 30, "finalBakeTimeInMinutes": 10, "replicateTo": "NONE"}
BG_MESSAGE = ("the blue-green Rollout has no pre- or post-promotion analysis: a version that breaks the SLO would take "
              "all the traffic and stay. Keep the app service's AnalysisTemplate (apps.<app>.analysis) on the Rollout.")
CANARY_MESSAGE = ("the canary Rollout has no analysis step: a version that breaks the SLO would be promoted step by step "
                  "to all the traffic. Keep the app service's analysis steps (apps.<app>.analysis).")


def test_rollouts_with_analysis_pass() -> None:
    assert check("rollout-analysis", ROLLOUT_T, BLUE_GREEN) == []
    assert check("rollout-analysis", ROLLOUT_T, edit(BLUE_GREEN, spec__strategy__blueGreen__prePromotionAnalysis=DROP)) == []
    assert check("rollout-analysis", ROLLOUT_T, CANARY) == []
    background = edit(CANARY, spec__strategy__canary__steps=[{"setWeight": 20}], spec__strategy__canary__analysis=ANALYSIS)
    assert check("rollout-analysis", ROLLOUT_T, background) == []


def test_rollouts_without_analysis_are_reported() -> None:
    bare = edit(BLUE_GREEN, spec__strategy__blueGreen__prePromotionAnalysis=DROP,
                spec__strategy__blueGreen__postPromotionAnalysis={"templates": []})
    assert check("rollout-analysis", ROLLOUT_T, bare) == [BG_MESSAGE]
    assert check("rollout-analysis", ROLLOUT_T, edit(CANARY, spec__strategy__canary__steps=[{"setWeight": 20}])) == [
        CANARY_MESSAGE]
    assert check("rollout-analysis", ROLLOUT_T, edit(CANARY, spec__strategy={})) == [
        "the Rollout has neither a blueGreen nor a canary strategy with analysis."]
    # Where the stack does not require it (dev), nothing is reported.
    assert check("rollout-analysis", ROLLOUT_T, bare, config={"required": False}) == []


def test_gradual_appconfig_strategy_passes() -> None:
    assert check("appconfig-gradual-deployment", STRATEGY_T, LINEAR) == []


def test_all_at_once_appconfig_strategy_is_reported() -> None:
    all_at_once = edit(LINEAR, growthFactor=100, deploymentDurationInMinutes=0, finalBakeTimeInMinutes=0)
    assert check("appconfig-gradual-deployment", STRATEGY_T, all_at_once) == [
        "deploys to every target at once (growthFactor 100, deploymentDurationInMinutes 0): a bad flag change would "
        "reach every user before an alarm could roll it back. Set apps.<app>.featureFlags.strategy (e.g. growthFactor "
        "20 over 30 minutes) in Pulumi.<stack>.yaml.",
        "finalBakeTimeInMinutes is 0: nothing watches the alarms after the flag change reaches 100 %. Set "
        "apps.<app>.featureFlags.strategy.finalBakeTimeInMinutes above 0 in Pulumi.<stack>.yaml.",
    ]
    assert check("appconfig-gradual-deployment", STRATEGY_T, all_at_once, config={"required": False}) == []
