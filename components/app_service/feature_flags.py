"""The app's feature flags in AWS AppConfig: one application per app, an environment per stack watched by
the app's CloudWatch alarms, a feature-flag configuration profile holding the repository's definitions
(``flags/<app>.json``, validated), a gradual deployment strategy and the deployment of each new version.

AppConfig rolls a flag change out to the app's pods over the strategy's duration and rolls it back when
one of the environment's alarms fires during the rollout or its final bake time
(https://docs.aws.amazon.com/appconfig/latest/userguide/appconfig-creating-environment.html). To read the
alarms AppConfig assumes a monitor role (``cloudwatch:DescribeAlarms`` on those alarms only;
https://docs.aws.amazon.com/appconfig/latest/userguide/getting-started-with-appconfig-cloudwatch-alarms-permissions.html).
The app's own role may read only this configuration (``appconfig:StartConfigurationSession`` and
``appconfig:GetLatestConfiguration`` on ``<environment ARN>/configuration/<profile id>``, the
``configuration`` resource of https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsappconfig.html).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.app_service.bindings import SecretRef
from components.app_service.config import FeatureFlagsConfig
from components.common import child_opts, managed_role_policy, tags_for

#: The AppConfig profile type of feature flags (validated by AppConfig against its feature-flag schema).
FEATURE_FLAGS_TYPE = "AWS.AppConfig.FeatureFlags"
#: An AppConfig environment accepts at most 5 monitors (CreateEnvironment, botocore's AppConfig model).
MAX_MONITORS = 5


def read_policy(configuration_arn: str) -> str:
    """The app role's policy: read its own flag configuration, nothing else."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "ReadOwnFeatureFlags", "Effect": "Allow",
        "Action": ["appconfig:StartConfigurationSession", "appconfig:GetLatestConfiguration"],
        "Resource": configuration_arn,
    }]})


def monitor_trust_policy(account_id: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "appconfig.amazonaws.com"}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
    }]})


@dataclass(frozen=True)
class FeatureFlagsBinding:
    """The flags' identifiers for the app (AppConfig Agent or SDK) and the role policy that reads them."""

    application_id: pulumi.Input[str]
    environment_id: pulumi.Input[str]
    profile_id: pulumi.Input[str]
    configuration_arn: pulumi.Output[str]

    def environment(self) -> Mapping[str, pulumi.Input[str]]:
        return {"APPCONFIG_APPLICATION_ID": self.application_id, "APPCONFIG_ENVIRONMENT_ID": self.environment_id,
                "APPCONFIG_PROFILE_ID": self.profile_id}

    def secrets(self) -> Mapping[str, SecretRef]:
        return {}

    def iam_policies(self, region: str, account_id: str) -> Mapping[str, pulumi.Input[str]]:
        return {"appconfig": self.configuration_arn.apply(read_policy)}


@dataclass(frozen=True)
class FeatureFlags:
    application: aws.appconfig.Application
    environment: aws.appconfig.Environment
    profile: aws.appconfig.ConfigurationProfile
    version: aws.appconfig.HostedConfigurationVersion
    strategy: aws.appconfig.DeploymentStrategy
    deployment: aws.appconfig.Deployment
    monitor_role: aws.iam.Role | None
    binding: FeatureFlagsBinding


def _monitors(parent: pulumi.Resource, name: str, alarm_arns: Sequence[pulumi.Input[str]], account_id: str,
              tags: Mapping[str, str]) -> tuple[aws.iam.Role | None, list[pulumi.Resource]]:
    if not alarm_arns:
        return None, []
    if len(alarm_arns) > MAX_MONITORS:
        raise ValueError(f"{name}: {len(alarm_arns)} alarms given; an AppConfig environment accepts at most "
                         f"{MAX_MONITORS} monitors (combine them in a composite alarm)")
    role = aws.iam.Role(f"{name}-flags-monitor", aws.iam.RoleArgs(
        description=f"AppConfig reads the alarms of {name}'s feature-flag rollouts",
        assume_role_policy=monitor_trust_policy(account_id),
        tags=tags_for(tags, f"{name}-flags-monitor"),
    ), child_opts(parent))
    policy = managed_role_policy(f"{name}-flags-monitor-alarms", aws.iam.RolePolicyArgs(
        role=role.name,
        policy=pulumi.Output.all(*alarm_arns).apply(lambda arns: json.dumps({"Version": "2012-10-17", "Statement": [{
            "Sid": "DescribeOwnAlarms", "Effect": "Allow", "Action": "cloudwatch:DescribeAlarms",
            "Resource": sorted(arns)}]})),
    ), child_opts(parent), tags=tags)
    return role, [policy]


def create_feature_flags(parent: pulumi.Resource, name: str, config: FeatureFlagsConfig, *, environment_name: str,
                         alarm_arns: Sequence[pulumi.Input[str]], account_id: str,
                         tags: Mapping[str, str]) -> FeatureFlags:
    """The AppConfig application, environment, profile, version, strategy and deployment of one app."""
    monitor_role, monitor_policies = _monitors(parent, name, alarm_arns, account_id, tags)
    application = aws.appconfig.Application(f"{name}-flags", aws.appconfig.ApplicationArgs(
        name=name, description=f"Feature flags of {name}", tags=tags_for(tags, name)), child_opts(parent))
    environment = aws.appconfig.Environment(f"{name}-flags-env", aws.appconfig.EnvironmentArgs(
        application_id=application.id, name=environment_name,
        description=f"{environment_name}: rolled back when one of the app's alarms fires",
        monitors=[aws.appconfig.EnvironmentMonitorArgs(alarm_arn=arn, alarm_role_arn=monitor_role.arn)
                  for arn in alarm_arns] if monitor_role else None,
        tags=tags_for(tags, f"{name}-{environment_name}"),
    ), child_opts(parent, depends_on=monitor_policies))
    profile = aws.appconfig.ConfigurationProfile(f"{name}-flags-profile", aws.appconfig.ConfigurationProfileArgs(
        application_id=application.id, name="feature-flags", location_uri="hosted", type=FEATURE_FLAGS_TYPE,
        description=f"From {config.file} in the repository", tags=tags_for(tags, f"{name}-feature-flags"),
    ), child_opts(parent))
    version = aws.appconfig.HostedConfigurationVersion(
        f"{name}-flags-version", aws.appconfig.HostedConfigurationVersionArgs(
            application_id=application.id, configuration_profile_id=profile.configuration_profile_id,
            content=config.content, content_type="application/json", description=f"From {config.file}"),
        child_opts(parent))
    s = config.strategy
    strategy = aws.appconfig.DeploymentStrategy(f"{name}-flags-strategy", aws.appconfig.DeploymentStrategyArgs(
        name=f"{name}-{s.growth_type.lower()}-{s.growth_factor:g}pct-{s.deployment_duration_minutes}m",
        description=f"{s.growth_type} {s.growth_factor:g} % steps over {s.deployment_duration_minutes} minutes, "
                    f"then {s.final_bake_time_minutes} minutes of bake time",
        growth_type=s.growth_type, growth_factor=s.growth_factor,
        deployment_duration_in_minutes=s.deployment_duration_minutes,
        final_bake_time_in_minutes=s.final_bake_time_minutes, replicate_to="NONE",
        tags=tags_for(tags, f"{name}-flags-strategy"),
    ), child_opts(parent))
    deployment = aws.appconfig.Deployment(f"{name}-flags-deployment", aws.appconfig.DeploymentArgs(
        application_id=application.id, environment_id=environment.environment_id,
        configuration_profile_id=profile.configuration_profile_id,
        configuration_version=version.version_number.apply(str), deployment_strategy_id=strategy.id,
        description=f"{config.file} to {environment_name}", tags=tags_for(tags, f"{name}-flags-deployment"),
    ), child_opts(parent))
    binding = FeatureFlagsBinding(
        application.id, environment.environment_id, profile.configuration_profile_id,
        pulumi.Output.concat(environment.arn, "/configuration/", profile.configuration_profile_id))
    return FeatureFlags(application, environment, profile, version, strategy, deployment, monitor_role, binding)
