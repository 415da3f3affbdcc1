"""Availability of PHI systems across AZ failures and bad releases: HIPAA 164.308(a)(7)(ii)(C) emergency
mode operation.

Thresholds (AZ counts) come from the policy config per stack (policies/config/<stack>.json); dev
relaxes these policies to advisory.
"""

from __future__ import annotations

from common import (
    APPCONFIG_DEPLOYMENT_STRATEGY,
    CACHE_RG,
    EKS_NODE_GROUP,
    K8S_ROLLOUT,
    MSK,
    RDS_INSTANCE,
    Report,
    Resource,
    Settings,
    as_int,
    as_list,
    is_replica,
    is_true,
    is_unknown,
    min_azs,
    policies_of,
    required_flag,
    resource_policy,
)

EMERGENCY_MODE = "164.308(a)(7)(ii)(C)"


def rds_multi_az(r: Resource, report: Report, _: Settings) -> None:
    if is_replica(r):
        return
    value = r.get("multiAz")
    if not is_unknown(value) and not is_true(value):
        report("multiAz is not true: an AZ outage would take the PHI database down. "
               "Set database.<name>.multiAz: true in Pulumi.<stack>.yaml.")


resource_policy(
    "rds-multi-az", concern="availability", citation=EMERGENCY_MODE, types=(RDS_INSTANCE,),
    description="Primary RDS instances are Multi-AZ (a synchronous standby in another AZ).",
)(rds_multi_az)


def elasticache_multi_az(r: Resource, report: Report, _: Settings) -> None:
    multi_az, failover = r.get("multiAzEnabled"), r.get("automaticFailoverEnabled")
    if not is_unknown(multi_az) and not is_true(multi_az):
        report("multiAzEnabled is not true: a primary node failure would not fail over to another AZ. "
               "Set cache.multiAz: true (with cache.replicasPerShard >= 1) in Pulumi.<stack>.yaml.")
    if not is_unknown(failover) and not is_true(failover):
        report("automaticFailoverEnabled is not true: a replica would not be promoted when the primary fails. "
               "Set automaticFailoverEnabled=True (it follows cache.multiAz).")
    replicas, clusters = as_int(r.get("replicasPerNodeGroup")), as_int(r.get("numCacheClusters"))
    if replicas == 0 or (replicas is None and clusters is not None and clusters < 2):
        report("the replication group has no replica: failover needs at least one replica per shard. "
               "Set cache.replicasPerShard: 1 or more in Pulumi.<stack>.yaml.")


resource_policy(
    "elasticache-multi-az", concern="availability", citation=EMERGENCY_MODE, types=(CACHE_RG,),
    description="ElastiCache has replicas in other AZs with Multi-AZ and automatic failover on.",
)(elasticache_multi_az)


def _subnet_count(value: object) -> int | None:
    subnets = as_list(value)
    return None if is_unknown(subnets) else len(subnets)


def msk_broker_az_spread(r: Resource, report: Report, cfg: Settings) -> None:
    needed = cfg["minAzCount"]
    count = _subnet_count(r.get("brokerNodeGroupInfo.clientSubnets"))
    if count is None:
        return
    if count < needed:
        report(f"brokerNodeGroupInfo.clientSubnets spans {count} AZ(s); this stack requires {needed}. "
               "Place brokers in one private subnet per AZ and set network.azCount in Pulumi.<stack>.yaml.")
    brokers = as_int(r.get("numberOfBrokerNodes"))
    if brokers is not None and count and brokers % count:
        report(f"numberOfBrokerNodes is {brokers}, not a multiple of the {count} client subnets: MSK needs the "
               "same number of brokers in every AZ. Set streaming.brokerCount to a multiple of network.azCount.")


resource_policy(
    "msk-broker-az-spread", concern="availability", citation=EMERGENCY_MODE, types=(MSK,), config=min_azs(3),
    description="MSK brokers are spread evenly over at least the stack's AZ count.",
)(msk_broker_az_spread)


def eks_node_group_az_spread(r: Resource, report: Report, cfg: Settings) -> None:
    needed = cfg["minAzCount"]
    count = _subnet_count(r.get("subnetIds"))
    if count is not None and count < needed:
        report(f"subnetIds spans {count} subnet(s); this stack requires nodes in {needed} AZs. "
               "Give the node group every private subnet (network.azCount in Pulumi.<stack>.yaml).")
    minimum = as_int(r.get("scalingConfig.minSize"))
    if minimum is not None and minimum < 1:
        report(f"scalingConfig.minSize is {minimum}: a pool that may scale to zero takes its workloads down. "
               "Set eks.nodePools.<pool>.min: 1 or more in Pulumi.<stack>.yaml.")


resource_policy(
    "eks-node-group-az-spread", concern="availability", citation=EMERGENCY_MODE, types=(EKS_NODE_GROUP,),
    config=min_azs(3),
    description="EKS node groups span at least the stack's AZ count.",
)(eks_node_group_az_spread)


def _has_templates(analysis: object) -> bool:
    return isinstance(analysis, dict) and bool(as_list(analysis.get("templates")))


def rollout_analysis(r: Resource, report: Report, cfg: Settings) -> None:
    if not cfg["required"]:
        return
    strategy = r.get("spec.strategy")
    if is_unknown(strategy):
        return
    blue_green, canary = (strategy or {}).get("blueGreen"), (strategy or {}).get("canary")
    if isinstance(blue_green, dict):
        if not (_has_templates(blue_green.get("prePromotionAnalysis"))
                or _has_templates(blue_green.get("postPromotionAnalysis"))):
            report("the blue-green Rollout has no pre- or post-promotion analysis: a version that breaks the SLO "
                   "would take all the traffic and stay. Keep the app service's AnalysisTemplate "
                   "(apps.<app>.analysis) on the Rollout.")
    elif isinstance(canary, dict):
        steps = as_list(canary.get("steps"))
        stepped = not is_unknown(steps) and any(isinstance(s, dict) and _has_templates(s.get("analysis"))
                                                for s in steps)
        if not (stepped or _has_templates(canary.get("analysis"))):
            report("the canary Rollout has no analysis step: a version that breaks the SLO would be promoted "
                   "step by step to all the traffic. Keep the app service's analysis steps (apps.<app>.analysis).")
    else:
        report("the Rollout has neither a blueGreen nor a canary strategy with analysis.")


resource_policy(
    "rollout-analysis", concern="availability", citation=EMERGENCY_MODE, types=(K8S_ROLLOUT,),
    config=required_flag(True, "an SLO analysis on every Argo Rollout (automatic rollback)"),
    description="Argo Rollouts run an SLO analysis before a new version takes all the traffic, so a bad "
                "version is rolled back automatically.",
)(rollout_analysis)


def appconfig_gradual_deployment(r: Resource, report: Report, cfg: Settings) -> None:
    if not cfg["required"]:
        return
    growth, duration = r.get("growthFactor"), as_int(r.get("deploymentDurationInMinutes"))
    bake = as_int(r.get("finalBakeTimeInMinutes"))
    if isinstance(growth, (int, float)) and growth >= 100 or duration == 0:
        shown = f"{growth:g}" if isinstance(growth, (int, float)) else growth
        report(f"deploys to every target at once (growthFactor {shown}, deploymentDurationInMinutes {duration}): "
               "a bad flag change would reach every user before an alarm could roll it back. "
               "Set apps.<app>.featureFlags.strategy (e.g. growthFactor 20 over 30 minutes) in Pulumi.<stack>.yaml.")
    if bake == 0:
        report("finalBakeTimeInMinutes is 0: nothing watches the alarms after the flag change reaches 100 %. "
               "Set apps.<app>.featureFlags.strategy.finalBakeTimeInMinutes above 0 in Pulumi.<stack>.yaml.")


resource_policy(
    "appconfig-gradual-deployment", concern="availability", citation=EMERGENCY_MODE,
    types=(APPCONFIG_DEPLOYMENT_STRATEGY,),
    config=required_flag(True, "gradual AppConfig deployments (feature flags) watched by alarms"),
    description="AppConfig deployment strategies roll feature-flag changes out gradually, with a final bake "
                "time in which the app's alarms roll them back.",
)(appconfig_gradual_deployment)


POLICIES = policies_of(__name__)
