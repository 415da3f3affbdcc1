"""Standard tags on every taggable AWS resource: HIPAA 164.310(d)(2)(iii) accountability.

The tags (Owner, DataClassification, Environment ...) are the asset inventory an auditor reads: who
is responsible for which store of PHI. The program sets them explicitly (components.common.tags_for).
"""

from __future__ import annotations

from common import (
    STANDARD_TAG_KEYS,
    Report,
    Resource,
    Settings,
    is_unknown,
    policies_of,
    resource_policy,
)

ACCOUNTABILITY = "164.310(d)(2)(iii)"

#: AWS resource types this platform uses that accept ``tags`` (checked against pulumi-aws by the tests).
#: A resource of any other AWS type is checked too whenever its inputs carry ``tags``.
TAGGABLE_TYPES: tuple[str, ...] = (
    "aws:acm/certificate:Certificate",
    "aws:backup/plan:Plan",
    "aws:backup/vault:Vault",
    "aws:cloudfront/distribution:Distribution",
    "aws:cloudtrail/trail:Trail",
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:cloudwatch/metricAlarm:MetricAlarm",
    "aws:ebs/volume:Volume",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
    "aws:ec2/eip:Eip",
    "aws:ec2/flowLog:FlowLog",
    "aws:ec2/instance:Instance",
    "aws:ec2/internetGateway:InternetGateway",
    "aws:ec2/launchTemplate:LaunchTemplate",
    "aws:ec2/natGateway:NatGateway",
    "aws:ec2/routeTable:RouteTable",
    "aws:ec2/securityGroup:SecurityGroup",
    "aws:ec2/subnet:Subnet",
    "aws:ec2/vpc:Vpc",
    "aws:ec2/vpcEndpoint:VpcEndpoint",
    "aws:ecr/repository:Repository",
    "aws:eks/accessEntry:AccessEntry",
    "aws:eks/addon:Addon",
    "aws:eks/cluster:Cluster",
    "aws:eks/nodeGroup:NodeGroup",
    "aws:eks/podIdentityAssociation:PodIdentityAssociation",
    "aws:elasticache/parameterGroup:ParameterGroup",
    "aws:elasticache/replicationGroup:ReplicationGroup",
    "aws:elasticache/subnetGroup:SubnetGroup",
    "aws:elasticache/user:User",
    "aws:elasticache/userGroup:UserGroup",
    "aws:iam/instanceProfile:InstanceProfile",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
    "aws:iam/policy:Policy",
    "aws:iam/role:Role",
    "aws:kms/key:Key",
    "aws:kms/replicaKey:ReplicaKey",
    "aws:lb/listener:Listener",
    "aws:lb/loadBalancer:LoadBalancer",
    "aws:lb/targetGroup:TargetGroup",
    "aws:msk/cluster:Cluster",
    "aws:rds/cluster:Cluster",
    "aws:rds/instance:Instance",
    "aws:rds/parameterGroup:ParameterGroup",
    "aws:rds/subnetGroup:SubnetGroup",
    "aws:route53/zone:Zone",
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketV2:BucketV2",
    "aws:secretsmanager/secret:Secret",
    "aws:shield/protection:Protection",
    "aws:sns/topic:Topic",
    "aws:sqs/queue:Queue",
    "aws:wafv2/ipSet:IpSet",
    "aws:wafv2/webAcl:WebAcl",
)
_TAGGABLE = frozenset(TAGGABLE_TYPES)


class _AnyAwsType(tuple):
    """The policy's type filter: every AWS resource type (the body decides which ones carry tags)."""

    def __contains__(self, item: object) -> bool:
        return isinstance(item, str) and item.startswith("aws:") and not item.startswith("pulumi:")


def standard_tags(r: Resource, report: Report, cfg: Settings) -> None:
    if r.type not in _TAGGABLE and "tags" not in r.props:
        return
    tags = r.get("tags")
    if is_unknown(tags):
        return
    tags = tags or {}
    missing = [k for k in cfg["requiredTags"] if k not in tags or (not is_unknown(tags[k]) and not tags[k])]
    if missing:
        report(f"tags is missing {', '.join(missing)}: every taggable resource must be attributable to an owner "
               "and a data classification. Pass tags=tags_for(tags, name) (components.common); the values come "
               "from environment.owner, environment.costCenter and environment.dataClassification in "
               "Pulumi.<stack>.yaml.")


resource_policy(
    "standard-tags", concern="tags", citation=ACCOUNTABILITY, types=_AnyAwsType(TAGGABLE_TYPES),
    config={"requiredTags": {"type": "array", "items": {"type": "string"}, "default": list(STANDARD_TAG_KEYS),
                             "description": "The tag keys every taggable AWS resource must carry."}},
    description="Every taggable AWS resource carries the standard tags (Project, Environment, Owner, CostCenter, "
                "DataClassification, ManagedBy) with non-empty values.",
)(standard_tags)


POLICIES = policies_of(__name__)
