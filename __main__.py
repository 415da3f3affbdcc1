"""care-platform: the AWS platform for the PRM platform and the NL-FHIR service, one stack per environment.

Composition only: configuration -> providers -> components -> exports. Every difference between
environments is in Pulumi.<stack>.yaml (read and validated by config.py).
"""

import pulumi
import pulumi_aws as aws

import config
from components.encryption import PRIMARY_DOMAINS, KeyRing
from components.network import Network

settings = config.load()
cfg = settings.config
env = cfg.environment
tags = cfg.standard_tags
prefix = f"care-{env.name}"


def aws_provider(name: str, region: str) -> aws.Provider:
    """An AWS provider pinned to one region and to this environment's account only."""
    return aws.Provider(name, aws.ProviderArgs(region=region, allowed_account_ids=[env.account_id]))


primary = aws_provider("aws-primary", cfg.regions.primary)
dr = aws_provider("aws-dr", cfg.regions.dr)
edge = aws_provider("aws-edge", cfg.regions.edge)  # CloudFront certificates and WAF live in us-east-1

keys = KeyRing(
    f"{prefix}-kms", cfg.encryption, domains=PRIMARY_DOMAINS, region=cfg.regions.primary,
    account_id=env.account_id, alias_prefix=f"care-platform/{env.name}", tags=tags,
    opts=pulumi.ResourceOptions(provider=primary),
)
dr_keys = KeyRing(
    f"{prefix}-dr-kms", cfg.encryption, domains=cfg.encryption.dr_domains, region=cfg.regions.dr,
    account_id=env.account_id, alias_prefix=f"care-platform/{env.name}", tags=tags,
    opts=pulumi.ResourceOptions(provider=dr),
)

network = Network(
    prefix, cfg.network, region=cfg.regions.primary, account_id=env.account_id,
    logs_kms_key_arn=keys.arn("logs"), tags=tags,
    opts=pulumi.ResourceOptions(provider=primary),
)

pulumi.export("vpcId", network.vpc_id)
pulumi.export("publicSubnetIds", network.subnet_ids["public"])
pulumi.export("privateSubnetIds", network.subnet_ids["private"])
pulumi.export("databaseSubnetIds", network.subnet_ids["database"])
pulumi.export("kmsKeyArns", keys.key_arns)
pulumi.export("drKmsKeyArns", dr_keys.key_arns)
