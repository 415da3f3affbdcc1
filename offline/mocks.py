"""Realistic provider answers for the mock engine.

A resource's outputs are its inputs plus what AWS would compute where the program uses it: ids in
AWS's formats, ARNs in the provider's region and account, endpoints, an EKS cluster's certificate
and OIDC issuer. Everything is derived from the resource's URN, so two runs give the same answers.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from pulumi.runtime import MockCallArgs, MockResourceArgs, Mocks

DEFAULT_ACCOUNT = "123456789012"
#: The key marking a secret value on the wire (the SDK's rpc signature key).
_SECRET_KEY = "4dabf18193072939515e22adb298388d"
DEFAULT_REGION = "us-east-2"

#: Types whose physical name the program leaves to Pulumi's auto-naming (so a replacement never collides).
_AUTONAMED = ("aws:elasticache/parameterGroup:ParameterGroup", "aws:msk/configuration:Configuration")
#: AWS id prefixes, by resource type.
_ID_PREFIX = {
    "aws:ec2/vpc:Vpc": "vpc",
    "aws:ec2/subnet:Subnet": "subnet",
    "aws:ec2/internetGateway:InternetGateway": "igw",
    "aws:ec2/natGateway:NatGateway": "nat",
    "aws:ec2/eip:Eip": "eipalloc",
    "aws:ec2/routeTable:RouteTable": "rtb",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "rtbassoc",
    "aws:ec2/securityGroup:SecurityGroup": "sg",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "sg",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "vpce",
    "aws:ec2/flowLog:FlowLog": "fl",
    "aws:ec2/launchTemplate:LaunchTemplate": "lt",
    "aws:ec2/securityGroupRule:SecurityGroupRule": "sgr",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "sgr",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "sgr",
}

# A syntactically valid PEM body (base64 of a placeholder DER); enough for kubeconfig rendering.
_FAKE_CA = base64.b64encode(
    b"-----BEGIN CERTIFICATE-----\nTU9DSy1FS1MtQ0EtQ0VSVElGSUNBVEUtT0ZGTElORQ==\n-----END CERTIFICATE-----\n"
).decode()


def _appconfig(typ: str, inputs: dict[str, Any], region: str, account: str, digest: str) -> dict[str, Any]:
    """AppConfig identifiers are 7 lowercase letters and digits; ARNs nest the environment in its application."""
    short = digest[:7]
    app = f"arn:aws:appconfig:{region}:{account}:application/{inputs.get('applicationId', short)}"
    if typ == "aws:appconfig/application:Application":
        return {"__id": short, "arn": app}
    if typ == "aws:appconfig/environment:Environment":
        return {"__id": f"{short}:{inputs.get('applicationId')}", "environmentId": short,
                "arn": f"{app}/environment/{short}"}
    if typ == "aws:appconfig/configurationProfile:ConfigurationProfile":
        return {"__id": f"{short}:{inputs.get('applicationId')}", "configurationProfileId": short,
                "arn": f"{app}/configurationprofile/{short}"}
    if typ == "aws:appconfig/hostedConfigurationVersion:HostedConfigurationVersion":
        return {"versionNumber": 1}
    if typ == "aws:appconfig/deploymentStrategy:DeploymentStrategy":
        return {"__id": short, "arn": f"arn:aws:appconfig:{region}:{account}:deploymentstrategy/{short}"}
    if typ == "aws:appconfig/deployment:Deployment":
        return {"deploymentNumber": 1}
    return {}


def _digest(*parts: str, length: int = 17) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:length]


class CarePlatformMocks(Mocks):
    """Deterministic, realistic answers for every resource and invoke the program uses."""

    def __init__(self) -> None:
        # provider reference ("urn::id") -> (region, account) for ARNs in the right place.
        self._providers: dict[str, tuple[str, str]] = {}

    # -- helpers ---------------------------------------------------------------------------------
    def _where(self, provider: str | None) -> tuple[str, str]:
        return self._providers.get(provider or "", (DEFAULT_REGION, DEFAULT_ACCOUNT))

    def provider_registered(self, reference: str, inputs: dict[str, Any]) -> None:
        """Remember a provider's region and account (``reference`` is ``urn::id``)."""
        accounts = inputs.get("allowedAccountIds") or []
        if isinstance(accounts, str):
            accounts = json.loads(accounts)
        self._providers[reference] = (inputs.get("region") or DEFAULT_REGION,
                                      accounts[0] if accounts else DEFAULT_ACCOUNT)

    # -- Mocks -------------------------------------------------------------------------------------
    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        region, account = self._where(args.provider)
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": account, "arn": f"arn:aws:iam::{account}:root", "userId": account,
                    "id": account}, None
        if args.token == "aws:index/getRegion:getRegion":
            return {"name": region, "region": region, "id": region}, None
        if args.token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}, None
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            names = [f"{region}{s}" for s in "abc"]
            return {"names": names, "zoneIds": [f"use2-az{i}" for i in (1, 2, 3)], "id": region}, None
        if args.token == "aws:ec2/getManagedPrefixList:getManagedPrefixList":
            # A managed prefix list has a per-region id (CloudFront's origin-facing list: pl-3b927c52 in us-east-1).
            list_name = args.args.get("name", "")
            return {"id": f"pl-{_digest(list_name, region, length=8)}", "name": list_name,
                    "arn": f"arn:aws:ec2:{region}:aws:prefix-list/pl-{_digest(list_name, region, length=8)}",
                    "addressFamily": "IPv4", "maxEntries": 55, "ownerId": "AWS", "entries": [], "tags": {}},  []
        if args.token == "aws:iam/getPolicyDocument:getPolicyDocument":
            return {"json": json.dumps({"Version": "2012-10-17", "Statement": args.args.get("statements", [])}),
                    "id": "policy"}, None
        return {}, None

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        typ, name = args.typ, args.name
        if typ.startswith("pulumi:providers:"):
            return f"{name}-provider-id", dict(args.inputs)
        region, account = self._where(args.provider)
        digest = _digest(typ, name)
        prefix = _ID_PREFIX.get(typ)
        resource_id = f"{prefix}-{digest}" if prefix else name
        state: dict[str, Any] = dict(args.inputs)
        module = typ.split(":")[1].split("/")[0] if ":" in typ else ""
        kind = typ.split("/")[-1].split(":")[0] if "/" in typ else typ
        if typ.startswith("aws:"):
            if inputs_name_prefix := args.inputs.get("namePrefix"):
                # The provider appends a 26-character unique suffix to a name prefix.
                state.setdefault("name", f"{inputs_name_prefix}{_digest(typ, name, length=26)}")
            state.setdefault("arn", f"arn:aws:{module}:{region}:{account}:{kind.lower()}/{resource_id}")
        state.update(self._extras(typ, name, resource_id, args.inputs, region, account, digest))
        resource_id = state.pop("__id", resource_id)
        return resource_id, state

    def _extras(self, typ: str, name: str, resource_id: str, inputs: dict[str, Any], region: str,
                account: str, digest: str) -> dict[str, Any]:
        if typ == "aws:kms/key:Key":
            key_id = f"{digest[:8]}-{digest[8:12]}-4{digest[12:15]}-8{digest[15:17]}0-{_digest(name, length=12)}"
            return {"__id": key_id, "keyId": key_id, "arn": f"arn:aws:kms:{region}:{account}:key/{key_id}"}
        if typ == "aws:kms/alias:Alias":
            return {"arn": f"arn:aws:kms:{region}:{account}:{inputs.get('name', name)}"}
        if typ == "aws:cloudwatch/logGroup:LogGroup":
            group = inputs.get("name", name)
            return {"__id": group, "arn": f"arn:aws:logs:{region}:{account}:log-group:{group}"}
        if typ in ("aws:iam/role:Role", "aws:iam/policy:Policy", "aws:iam/user:User"):
            kind = typ.split(":")[-1].lower()
            role_name = inputs.get("name", name)
            return {"__id": role_name, "name": role_name, "arn": f"arn:aws:iam::{account}:{kind}/{role_name}",
                    "uniqueId": f"AROA{digest.upper()}"}
        if typ == "aws:iam/serviceLinkedRole:ServiceLinkedRole":
            service = inputs.get("awsServiceName", "")
            role = {"autoscaling.amazonaws.com": "AWSServiceRoleForAutoScaling"}.get(
                service, f"AWSServiceRoleFor{name}")
            arn = f"arn:aws:iam::{account}:role/aws-service-role/{service}/{role}"
            return {"__id": arn, "arn": arn, "name": role}
        if typ == "aws:iam/rolePolicy:RolePolicy":
            return {"__id": f"{inputs.get('role', name)}:{name}"}
        if typ == "aws:ec2/vpc:Vpc":
            return {"defaultSecurityGroupId": f"sg-{_digest(name, 'default')}",
                    "mainRouteTableId": f"rtb-{_digest(name, 'main')}",
                    "defaultNetworkAclId": f"acl-{_digest(name, 'acl')}"}
        if typ.startswith("aws:appconfig/"):
            return _appconfig(typ, inputs, region, account, digest)
        if typ == "aws:rds/instance:Instance":
            address = f"{inputs.get('identifier', name)}.c{digest[:11]}.{region}.rds.amazonaws.com"
            port = inputs.get("port", 5432)
            return {"address": address, "endpoint": f"{address}:{port}", "port": port,
                    "resourceId": f"db-{digest.upper()}",
                    "arn": f"arn:aws:rds:{region}:{account}:db:{inputs.get('identifier', name)}",
                    "masterUserSecrets": [{
                        "kmsKeyId": inputs.get("masterUserSecretKmsKeyId", ""),
                        "secretArn": f"arn:aws:secretsmanager:{region}:{account}:secret:rds!db-{digest}-AbCdEf",
                        "secretStatus": "active",
                    }] if inputs.get("manageMasterUserPassword") else []}
        if typ in _AUTONAMED and "name" not in inputs:
            # Pulumi auto-naming: the logical name plus a random suffix (here a stable digest).
            auto = f"{name}-{digest[:7]}"
            extra: dict[str, Any] = {"__id": auto, "name": auto}
            if typ == "aws:msk/configuration:Configuration":
                extra.update(arn=f"arn:aws:kafka:{region}:{account}:configuration/{auto}/{digest}", latestRevision=1)
            return extra
        if typ == "aws:elasticache/replicationGroup:ReplicationGroup":
            host = f"{inputs.get('replicationGroupId', name)}.{digest[:6]}.{region[:4]}.cache.amazonaws.com"
            return {"configurationEndpointAddress": f"clustercfg.{host}", "primaryEndpointAddress": f"master.{host}",
                    "readerEndpointAddress": f"replica.{host}",
                    "arn": f"arn:aws:elasticache:{region}:{account}:replicationgroup:{name}"}
        if typ == "aws:msk/cluster:Cluster":
            brokers = ",".join(f"b-{i}.{name}.{digest[:6]}.c2.kafka.{region}.amazonaws.com" for i in (1, 2, 3))
            return {"bootstrapBrokersTls": brokers.replace(".com", ".com:9094"),
                    "bootstrapBrokersSaslIam": brokers.replace(".com", ".com:9098"),
                    "bootstrapBrokersSaslScram": brokers.replace(".com", ".com:9096"),
                    "zookeeperConnectString": brokers.replace(".com", ".com:2181"),
                    "currentVersion": f"K{digest[:12].upper()}",
                    "arn": f"arn:aws:kafka:{region}:{account}:cluster/{name}/{digest}"}
        if typ == "aws:eks/cluster:Cluster":
            cluster = inputs.get("name", name)
            issuer = f"https://oidc.eks.{region}.amazonaws.com/id/{_digest(name, length=32).upper()}"
            return {"__id": cluster, "name": cluster,
                    "endpoint": f"https://{_digest(name, length=32).upper()}.gr7.{region}.eks.amazonaws.com",
                    "certificateAuthority": {"data": _FAKE_CA}, "version": inputs.get("version", "1.31"),
                    "identities": [{"oidcs": [{"issuer": issuer}]}],
                    "arn": f"arn:aws:eks:{region}:{account}:cluster/{cluster}",
                    "clusterSecurityGroupId": f"sg-{_digest(name, 'cluster')}",
                    "vpcConfig": {**(inputs.get("vpcConfig") or {}),
                                  "clusterSecurityGroupId": f"sg-{_digest(name, 'cluster')}"}}
        if typ == "aws:ec2/launchTemplate:LaunchTemplate":
            return {"latestVersion": 1, "defaultVersion": 1}
        if typ == "aws:eks/nodeGroup:NodeGroup":
            return {"arn": f"arn:aws:eks:{region}:{account}:nodegroup/{inputs.get('clusterName', '')}/{name}/{digest}",
                    "status": "ACTIVE"}
        if typ == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
            url = str(inputs.get("url", "")).removeprefix("https://")
            return {"arn": f"arn:aws:iam::{account}:oidc-provider/{url}"}
        if typ == "aws:s3/bucket:Bucket":
            bucket = inputs.get("bucket") or f"{name}-{digest[:7]}"
            return {"__id": bucket, "bucket": bucket, "arn": f"arn:aws:s3:::{bucket}",
                    "bucketDomainName": f"{bucket}.s3.amazonaws.com",
                    "bucketRegionalDomainName": f"{bucket}.s3.{region}.amazonaws.com",
                    "region": inputs.get("region") or region}
        if typ == "aws:cloudfront/distribution:Distribution":
            return {"__id": f"E{digest[:13].upper()}", "domainName": f"d{digest[:13]}.cloudfront.net",
                    "hostedZoneId": "Z2FDTNDATAQYW2",
                    "arn": f"arn:aws:cloudfront::{account}:distribution/E{digest[:13].upper()}"}
        if typ == "aws:wafv2/webAcl:WebAcl":
            scope = "global" if inputs.get("scope") == "CLOUDFRONT" else "regional"
            acl_id = f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-a{digest[16:17]}00-{_digest(name, length=12)}"
            return {"__id": acl_id, "arn": f"arn:aws:wafv2:{region}:{account}:{scope}/webacl/{name}/{acl_id}"}
        if typ == "aws:acm/certificate:Certificate":
            cert_id = f"{digest[:8]}-{digest[8:12]}-4{digest[12:15]}-8{digest[15:17]}0-{_digest(name, length=12)}"
            domain = str(inputs.get("domainName", name))
            base = domain.removeprefix("*.")
            return {"__id": f"arn:aws:acm:{region}:{account}:certificate/{cert_id}",
                    "arn": f"arn:aws:acm:{region}:{account}:certificate/{cert_id}", "status": "PENDING_VALIDATION",
                    "domainValidationOptions": [{
                        "domainName": domain, "resourceRecordName": f"_{_digest(domain, length=32)}.{base}.",
                        "resourceRecordType": "CNAME",
                        "resourceRecordValue": f"_{_digest(domain, 'value', length=32)}.acm-validations.aws."}]}
        if typ == "aws:acm/certificateValidation:CertificateValidation":
            return {"__id": str(inputs.get("certificateArn", name))}
        if typ == "aws:route53/record:Record":
            fqdn = str(inputs.get("name", name)).rstrip(".")
            return {"__id": f"{inputs.get('zoneId', '')}_{fqdn}_{inputs.get('type', '')}", "fqdn": fqdn}
        if typ == "aws:cloudfront/originAccessControl:OriginAccessControl":
            return {"__id": f"E{_digest(name, length=13).upper()}", "etag": "E1"}
        if typ == "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy":
            policy_id = f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-b{digest[16:17]}00-{_digest(name, length=12)}"
            return {"__id": policy_id}
        if typ == "aws:cloudwatch/logDeliveryDestination:LogDeliveryDestination":
            return {"__id": inputs.get("name", name),
                    "arn": f"arn:aws:logs:{region}:{account}:delivery-destination:{inputs.get('name', name)}"}
        if typ == "aws:cloudwatch/logDeliverySource:LogDeliverySource":
            return {"__id": inputs.get("name", name),
                    "arn": f"arn:aws:logs:{region}:{account}:delivery-source:{inputs.get('name', name)}"}
        if typ == "aws:secretsmanager/secret:Secret":
            return {"arn": f"arn:aws:secretsmanager:{region}:{account}:secret:{inputs.get('name', name)}-{digest[:6]}"}
        if typ == "aws:sns/topic:Topic":
            topic = inputs.get("name", name)
            return {"__id": f"arn:aws:sns:{region}:{account}:{topic}", "arn": f"arn:aws:sns:{region}:{account}:{topic}"}
        if typ in ("aws:backup/vault:Vault",):
            vault = inputs.get("name", name)
            return {"__id": vault, "arn": f"arn:aws:backup:{region}:{account}:backup-vault:{vault}"}
        if typ == "aws:backup/plan:Plan":
            return {"arn": f"arn:aws:backup:{region}:{account}:backup-plan:{digest}"}
        if typ.startswith("random:"):
            if "Password" in typ or "String" in typ:
                return {"result": f"[offline random {name}]", "__id": "none"}
            return {"hex": digest, "b64Url": digest, "dec": str(int(digest[:8], 16)), "__id": digest}
        if typ.startswith("kubernetes:"):
            raw_meta = inputs.get("metadata") or {}
            if isinstance(raw_meta, dict) and _SECRET_KEY in raw_meta:  # metadata holding a secret (an annotation)
                raw_meta = raw_meta.get("value") or {}
            meta = dict(raw_meta)
            meta.setdefault("name", name)
            meta.setdefault("namespace", "default")
            extra = {"metadata": meta, "__id": f"{meta['namespace']}/{meta['name']}"}
            if typ == "kubernetes:networking.k8s.io/v1:Ingress":
                # The AWS Load Balancer Controller's ALB name: k8s-<namespace>-<name>-<hash>.
                alb = f"k8s-{meta['namespace'][:8]}-{meta['name'][:8]}-{digest[:10]}-{int(digest[10:16], 16)}"
                extra["status"] = {"loadBalancer": {"ingress": [
                    {"hostname": f"{alb}.{DEFAULT_REGION}.elb.amazonaws.com"}]}}
            return extra
        return {}
