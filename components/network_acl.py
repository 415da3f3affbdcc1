"""The database subnets' network ACL: the private (workload) tier on the stores' ports, and nothing else.

Every store lives in the database subnets (RDS PostgreSQL, ElastiCache Redis, MSK brokers and their
open-monitoring exporters); ChromaDB runs on EKS in the private subnets. Security groups already admit
each store only from the workloads bound to it (components/pod_network.py); this ACL is the subnet-level
second layer that holds even if a security group is opened by mistake.

What AWS documents and this relies on (https://docs.aws.amazon.com/vpc/latest/userguide/nacl-basics.html):

- rules are evaluated lowest number first, the first match decides, and the implicit ``*`` rule denies
  what no rule allows;
- ACLs are stateless: the replies to the private tier's connections (the client's ephemeral port,
  1024-65535) need their own outbound rule;
- rules apply "when traffic enters and leaves the subnet, not as it is routed within a subnet": traffic
  between the database subnets of different AZs *is* filtered, so RDS Multi-AZ standby and read-replica
  replication, ElastiCache replication and MSK inter-broker traffic are admitted among the database CIDRs
  (all protocols, both directions);
- ACLs "cannot block DNS requests to or from the Route 53 Resolver (VPC+2)", so name resolution needs no rule.

Cross-region copies (RDS automated-backup replication, AWS Backup copy jobs) are made by the AWS services
themselves, not over the VPC, and the database route table has no route out of the VPC anyway.

An ACL holds at most 20 inbound and 20 outbound rules by default ("Inbound or outbound rules per network
ACL", https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html): the component refuses more.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from components.common import tags_for

#: The default quota of rules per direction (adjustable up to 40 by a quota request).
MAX_RULES_PER_DIRECTION = 20
#: The ports a client's side of a TCP connection uses (Linux uses 32768-60999; AWS's examples use 1024-65535).
EPHEMERAL_PORTS = (1024, 65535)


def _check_count(name: str, direction: str, count: int) -> None:
    if count > MAX_RULES_PER_DIRECTION:
        raise ValueError(f"{name}: {count} {direction} rules exceed the {MAX_RULES_PER_DIRECTION} a network ACL "
                         "holds by default (https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html); "
                         "merge adjacent store ports or request a higher quota")


def database_network_acl(
    name: str,
    *,
    vpc_id: pulumi.Input[str],
    subnet_ids: Sequence[pulumi.Input[str]],
    database_cidrs: Sequence[str],
    private_cidrs: Sequence[str],
    store_ports: Sequence[tuple[int, int, str]],
    tags: Mapping[str, str],
    opts: pulumi.ResourceOptions,
) -> aws.ec2.NetworkAcl:
    """The ACL of the database subnets (inline rules and associations: one resource, one place to read it).

    Inbound: all traffic from the database subnets (replication across AZs), then each of ``store_ports``
    (``(low, high, what)``, merged when equal) from each private subnet. Outbound: all traffic to the
    database subnets, and the ephemeral ports to the private subnets (the replies). Everything else is
    denied by the ACL's implicit last rule.
    """
    ports = sorted({(low, high) for low, high, _ in store_ports})
    ingress = [aws.ec2.NetworkAclIngressArgs(rule_no=100 + i, action="allow", protocol="-1", cidr_block=cidr,
                                             from_port=0, to_port=0)
               for i, cidr in enumerate(database_cidrs)]
    ingress += [aws.ec2.NetworkAclIngressArgs(rule_no=200 + 10 * p + c, action="allow", protocol="tcp",
                                              cidr_block=cidr, from_port=low, to_port=high)
                for p, (low, high) in enumerate(ports) for c, cidr in enumerate(private_cidrs)]
    egress = [aws.ec2.NetworkAclEgressArgs(rule_no=100 + i, action="allow", protocol="-1", cidr_block=cidr,
                                           from_port=0, to_port=0)
              for i, cidr in enumerate(database_cidrs)]
    egress += [aws.ec2.NetworkAclEgressArgs(rule_no=200 + c, action="allow", protocol="tcp", cidr_block=cidr,
                                            from_port=EPHEMERAL_PORTS[0], to_port=EPHEMERAL_PORTS[1])
               for c, cidr in enumerate(private_cidrs)]
    _check_count(name, "inbound", len(ingress))
    _check_count(name, "outbound", len(egress))
    return aws.ec2.NetworkAcl(
        name,
        aws.ec2.NetworkAclArgs(
            vpc_id=vpc_id,
            subnet_ids=list(subnet_ids),
            ingress=ingress,
            egress=egress,
            tags=tags_for(tags, name, Tier="database"),
        ),
        opts,
    )
