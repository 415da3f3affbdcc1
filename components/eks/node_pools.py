"""The cluster's managed node pools: the node role, one launch template and one managed node group per pool."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from components.common import child_opts, service_role_trust, tags_for
from components.eks.config import NodePoolConfig

#: Node label every pool carries; the worker pool is also tainted with it (``NoSchedule``).
POOL_LABEL = "care.platform/pool"
#: The pools that carry the taint: only pods that tolerate it (worker workloads) land there.
TAINTED_POOLS: tuple[str, ...] = ("worker",)
#: The pools every cluster has, in the order they are created (the fields of ``NodePoolsConfig``).
POOLS: tuple[str, ...] = ("app", "worker")


def node_role(parent: pulumi.Resource, name: str, *,
              tags: Mapping[str, str]) -> tuple[aws.iam.Role, list[aws.iam.RolePolicyAttachment]]:
    """The managed nodes' role with the worker-node and ECR read-only policies, and Systems Manager's core policy
    (the EKS AMIs run the SSM agent: inventory, patch data and Session Manager instead of SSH; AWS's HIPAA
    conformance rule ec2-instance-managed-by-systems-manager).

    No aws:SourceAccount/aws:SourceArn in its trust: AWS documents those confused-deputy conditions for the EKS
    cluster role only (https://docs.aws.amazon.com/eks/latest/userguide/cross-service-confused-deputy-prevention.html),
    and its node role trust is the bare ec2.amazonaws.com one
    (https://docs.aws.amazon.com/eks/latest/userguide/create-node-role.html); EC2 assumes the role through the
    instance profile without documenting either key, and a condition the request lacks would stop every node
    from getting credentials and joining. A node role cannot be used as a confused deputy from another account
    anyway: only this account's principals with iam:PassRole can put it on an instance.
    """
    role = aws.iam.Role(
        f"{name}-node-role",
        aws.iam.RoleArgs(description=f"EKS managed nodes of {name}",
                         assume_role_policy=service_role_trust("ec2.amazonaws.com"),
                         tags=tags_for(tags, f"{name}-node-role")),
        child_opts(parent),
    )
    policies = [
        aws.iam.RolePolicyAttachment(
            f"{name}-node-{short}",
            aws.iam.RolePolicyAttachmentArgs(role=role.name, policy_arn=f"arn:aws:iam::aws:policy/{policy}"),
            child_opts(parent),
        )
        for short, policy in (("worker", "AmazonEKSWorkerNodePolicy"),
                              ("ecr", "AmazonEC2ContainerRegistryReadOnly"),
                              ("ssm", "AmazonSSMManagedInstanceCore"))
    ]
    return role, policies


def launch_template(parent: pulumi.Resource, name: str, pool: str, config: NodePoolConfig, *,
                    security_group_ids: Sequence[pulumi.Input[str]], ebs_kms_key_arn: pulumi.Input[str],
                    tags: Mapping[str, str]) -> aws.ec2.LaunchTemplate:
    """A pool's launch template: IMDSv2 with hop limit 1, an encrypted gp3 root volume, detailed monitoring."""
    node_tags = tags_for(tags, f"{name}-{pool}-node", **{POOL_LABEL: pool})
    return aws.ec2.LaunchTemplate(
        f"{name}-{pool}-lt",
        aws.ec2.LaunchTemplateArgs(
            description=f"EKS {pool} nodes of {name}: IMDSv2, encrypted gp3 root volume, no SSH",
            update_default_version=True,
            vpc_security_group_ids=list(security_group_ids),
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled",
                http_tokens="required",
                # 1 hop: only the node itself (and hostNetwork pods such as aws-node) reach IMDS; pods
                # cannot take the node role's credentials. Every add-on that calls AWS therefore has IRSA and
                # is given its region/VPC explicitly ("Restrict access to the instance profile assigned to
                # the worker node", https://docs.aws.amazon.com/eks/latest/best-practices/identity-and-access-management.html).
                http_put_response_hop_limit=1,
                instance_metadata_tags="disabled",
            ),
            block_device_mappings=[aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                device_name="/dev/xvda",
                ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                    volume_type="gp3",
                    volume_size=config.disk_gib,
                    encrypted="true",
                    kms_key_id=ebs_kms_key_arn,
                    delete_on_termination="true",
                ),
            )],
            monitoring=aws.ec2.LaunchTemplateMonitoringArgs(enabled=True),
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=node_tags)
                for kind in ("instance", "volume", "network-interface")
            ],
            tags=tags_for(tags, f"{name}-{pool}-lt"),
        ),
        child_opts(parent),
    )


def node_group(parent: pulumi.Resource, name: str, pool: str, config: NodePoolConfig, *,
               cluster_name: pulumi.Input[str], node_role_arn: pulumi.Input[str],
               subnet_ids: Sequence[pulumi.Input[str]], template: aws.ec2.LaunchTemplate,
               tags: Mapping[str, str], depends_on: Sequence[pulumi.Resource]) -> aws.eks.NodeGroup:
    """A pool's managed node group on its launch template, labelled (and tainted if in ``TAINTED_POOLS``)."""
    return aws.eks.NodeGroup(
        f"{name}-{pool}",
        aws.eks.NodeGroupArgs(
            cluster_name=cluster_name,
            node_role_arn=node_role_arn,
            subnet_ids=list(subnet_ids),
            instance_types=list(config.instance_types),
            ami_type=config.ami_type,
            capacity_type=config.capacity_type,
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                desired_size=config.desired, min_size=config.min, max_size=config.max),
            update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=config.max_unavailable),
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                id=template.id, version=template.latest_version.apply(str)),
            labels={POOL_LABEL: pool},
            taints=[aws.eks.NodeGroupTaintArgs(key=POOL_LABEL, value=pool, effect="NO_SCHEDULE")]
            if pool in TAINTED_POOLS else None,
            tags=tags_for(tags, f"{name}-{pool}"),
        ),
        # The Cluster Autoscaler owns the desired size once the group exists.
        pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on),
                               ignore_changes=["scalingConfig.desiredSize"]),
    )
