"""The stack configuration: every stack file parses, and bad values are rejected with exact messages."""

from __future__ import annotations

import json

import pytest

import config
from offline.engine import run
from offline.stackfile import load_stack_file, placeholder
from tests.helpers import DELETE, stack_raw, with_overrides

OVERLAP_HINT = "choose a firstIndex/prefixLength that keeps the tiers apart"
CW = "[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]"

# (case id, overrides applied to Pulumi.prod.yaml, the exact lines expected)
BAD_CONFIGS: list[tuple[str, dict, list[str]]] = [
    ("malformed-cidr", {"network.vpcCidr": "10.30.0.0/33"},
     ["prod: network.vpcCidr: '10.30.0.0/33': must be an IPv4 network in CIDR form like 10.20.0.0/16 "
      "('33' is not a valid netmask)"]),
    ("cidr-host-bits", {"network.vpcCidr": "10.30.0.1/16"},
     ["prod: network.vpcCidr: '10.30.0.1/16': must be an IPv4 network in CIDR form like 10.20.0.0/16 "
      "(10.30.0.1/16 has host bits set)"]),
    ("vpc-too-small", {"network.vpcCidr": "10.30.0.0/24"},
     ["prod: network.vpcCidr: '10.30.0.0/24': the VPC prefix length must be between /16 and /20 "
      "(AWS allows /16../28; three tiers over several AZs need at least a /20)"]),
    ("vpc-public-range", {"network.vpcCidr": "8.8.0.0/16"},
     ["prod: network.vpcCidr: '8.8.0.0/16': must be a private (RFC 1918) range"]),
    ("more-azs-than-listed", {"network.azCount": 4},
     ["prod: network.azCount: 4: at most the 3 AZs listed in network.availabilityZones "
      "(us-east-2a, us-east-2b, us-east-2c)"]),
    ("az-outside-region", {"network.availabilityZones": ["us-east-2a", "us-west-2b", "us-east-2c"]},
     ["prod: network.availabilityZones.1: 'us-west-2b': must be an AZ of regions.primary (us-east-2), "
      "like us-east-2a"]),
    ("az-listed-twice", {"network.availabilityZones": ["us-east-2a", "us-east-2a", "us-east-2c"]},
     ['prod: network.availabilityZones: ["us-east-2a", "us-east-2a", "us-east-2c"]: each AZ may be listed once']),
    ("overlapping-subnets", {"network.tiers.public.firstIndex": 0},
     ["prod: network.tiers.private: [\"10.30.0.0/19\"]: overlap the public subnets "
      f"['10.30.0.0/24', '10.30.1.0/24', '10.30.2.0/24']; {OVERLAP_HINT}"]),
    ("tier-wider-than-vpc", {"network.tiers.database.prefixLength": 16},
     ["prod: network.tiers.database.prefixLength: 16: Input should be greater than or equal to 17"]),
    ("tier-outside-vpc", {"network.tiers.database.firstIndex": 255},
     ["prod: network.tiers.database.firstIndex: 255: 3 /24 subnets from index 255 do not fit in 10.30.0.0/16 "
      "(it holds 256; firstIndex at most 253)"]),
    ("nat-mode", {"network.natGateways": "both"},
     ["prod: network.natGateways: 'both': Input should be 'perAz' or 'single'"]),
    ("flow-log-retention", {"network.flowLogs.retentionDays": 45},
     [f"prod: network.flowLogs.retentionDays: 45: must be one of CloudWatch's retention values {CW}"]),
    ("min-above-desired", {"eks.nodePools.app.min": 7},
     ["prod: eks.nodePools.app.min: 7: must be at most desired (6)"]),
    ("desired-above-max", {"eks.nodePools.worker.desired": 9},
     ["prod: eks.nodePools.worker.desired: 9: must be at most max (6)"]),
    ("not-an-integer", {"eks.nodePools.app.desired": "six"},
     ["prod: eks.nodePools.app.desired: 'six': must be a whole number"]),
    ("rds-retention-above-35", {"database.prm.backupRetentionDays": 40},
     ["prod: database.prm.backupRetentionDays: 40: RDS keeps automated backups (and so point-in-time recovery) "
      "for 1 to 35 days; keep longer copies with AWS Backup (backup.retentionDays)"]),
    ("single-az-layout", {"network.azCount": 1},
     ["prod: database.prm.multiAz: true: needs network.azCount >= 2 (it is 1)",
      "prod: database.prm.readReplicas: 2: replicas must sit in other AZs: needs network.azCount >= 2 (it is 1)",
      "prod: database.nlfhir.multiAz: true: needs network.azCount >= 2 (it is 1)",
      "prod: cache.multiAz: true: automatic failover needs network.azCount >= 2 and cache.replicasPerShard >= 1 "
      "(they are 1 and 1)",
      "prod: streaming.brokerCount: 3: MSK needs client subnets in 2 or 3 AZs: network.azCount is 1"]),
    ("failover-without-replicas", {"cache.replicasPerShard": 0},
     ["prod: cache.multiAz: true: automatic failover needs network.azCount >= 2 and cache.replicasPerShard >= 1 "
      "(they are 3 and 0)"]),
    ("brokers-not-multiple-of-azs", {"streaming.brokerCount": 4},
     ["prod: streaming.brokerCount: 4: must be a multiple of the 3 AZs MSK spreads brokers over"]),
    ("replication-above-brokers", {"streaming.replicationFactor": 4},
     ["prod: streaming.replicationFactor: 4: must be at most brokerCount (3)"]),
    ("min-isr-equals-rf", {"streaming.minInsyncReplicas": 3},
     ["prod: streaming.minInsyncReplicas: 3: must be below replicationFactor (3) so one broker can fail"]),
    ("misspelt-key", {"network.vpcCIDR": "10.0.0.0/16"},
     ["prod: network.vpcCIDR: unknown key (given '10.0.0.0/16'); did you mean vpcCidr?"]),
    ("unknown-key", {"network.subnetCount": 3},
     ["prod: network.subnetCount: unknown key (given 3); allowed keys here: availabilityZones, azCount, "
      "dnsFirewall, flowLogs, interfaceEndpoints, natGateways, s3GatewayEndpoint, tiers, vpcCidr"]),
    ("misspelt-section", {"databse": {"prm": {}}},
     ['prod: databse: unknown key (given {"prm": {}}); did you mean database?']),
    # Issue #9: the bad inputs a careless user gives, each one line in the stack file's own words.
    ("rds-class-not-real", {"database.prm.instanceClass": "db.x99.huge"},
     ["prod: database.prm.instanceClass: 'db.x99.huge': not an RDS PostgreSQL instance class AWS offers; "
      "did you mean db.x2g.large?"]),
    ("ec2-type-not-real", {"eks.nodePools.app.instanceTypes": ["m5.gigantic"]},
     ["prod: eks.nodePools.app.instanceTypes.0: 'm5.gigantic': not an EC2 instance type AWS offers"]),
    ("cache-node-not-real", {"cache.nodeType": "cache.r6g.largest"},
     ["prod: cache.nodeType: 'cache.r6g.largest': not an ElastiCache node type AWS offers; "
      "did you mean cache.r6g.large?"]),
    ("msk-broker-not-real", {"streaming.instanceType": "kafka.m5.huge"},
     ["prod: streaming.instanceType: 'kafka.m5.huge': not an MSK broker type AWS offers; "
      "did you mean kafka.m5.large?"]),
    ("image-digest-not-hex", {"apps.nlfhir.image": "nl-fhir@sha256:nothex"},
     ["prod: apps.nlfhir.image: 'nl-fhir@sha256:nothex': the digest after @sha256: must be 64 lowercase "
      "hexadecimal characters (it has 6 characters: 'nothex')"]),
    ("eks-version-yaml-number", {"eks.version": 1.3},
     ['prod: eks.version: 1.3: write the version as a string, "1.30"']),
    ("postgres-version-yaml-number", {"database.prm.engineVersion": 16.4},
     ['prod: database.prm.engineVersion: 16.4: write the version as a string, "16.4"']),
    ("section-not-a-mapping", {"database": "db.r5.large"},
     ["prod: database: 'db.r5.large': must be a mapping of settings (bootstrap, nlfhir, prm)"]),
    ("list-given-as-text", {"network.availabilityZones": "us-east-2a"},
     ["prod: network.availabilityZones: 'us-east-2a': must be a list, like [a, b]"]),
    ("class-not-offered-in-the-region", {"eks.nodePools.worker.instanceTypes": ["c3.large"],
                                         "database.nlfhir.instanceClass": "db.m3.large"},
     ["prod: eks.nodePools.worker.instanceTypes.0: 'c3.large': an EC2 instance type AWS does not offer in "
      "us-east-2; did you mean t3.large?",
      "prod: database.nlfhir.instanceClass: 'db.m3.large': an RDS PostgreSQL instance class AWS does not offer "
      "in us-east-2; did you mean db.t3.large?"]),
    ("node-type-without-pod-enis", {"eks.nodePools.app.instanceTypes": ["m5.large", "t3.large"]},
     ["prod: eks.nodePools.app.instanceTypes.1: 't3.large': nodes must support security groups for Pods (a trunk "
      "network interface); use a family in m5, c5, r5, m6g, c6g, r6g (no t family type has one)"]),
    ("region-pattern-in-words", {"regions.dr": "oregon"},
     ["prod: regions.dr: 'oregon': must be an AWS region name like us-east-2"]),
    ("missing-value", {"environment.accountId": DELETE},
     ["prod: environment.accountId: missing: a value is required"]),
    ("missing-section", {"network": DELETE},
     ["prod: network: missing: a value is required"]),
    ("bad-account-id", {"environment.accountId": "12345"},
     ["prod: environment.accountId: '12345': must be the 12-digit AWS account id, in quotes: \"123456789012\""]),
    ("dr-same-as-primary", {"regions.dr": "us-east-2"},
     ["prod: regions.dr: 'us-east-2': must differ from regions.primary (us-east-2): backups must leave the region"]),
    ("edge-not-us-east-1", {"regions.edge": "eu-west-1"},
     ["prod: regions.edge: 'eu-west-1': Input should be 'us-east-1'"]),
    ("environment-name-mismatch", {"environment.name": "staging"},
     ["prod: environment.name: 'staging': must equal the stack name ('prod'); each stack carries its own "
      "environment's values"]),
    ("kms-deletion-window", {"encryption.deletionWindowDays": 3},
     ["prod: encryption.deletionWindowDays: 3: Input should be greater than or equal to 7"]),
    ("kms-admin-wildcard", {"encryption.keyAdminArns": ["*"]},
     ["prod: encryption.keyAdminArns: [\"*\"]: '*' must be an IAM role or user ARN without wildcards"]),
    ("msk-version-out-of-support", {"streaming.kafkaVersion": "3.6.0"},
     ["prod: streaming.kafkaVersion: '3.6.0': must be an MSK version within its support window: one of 3.8.x, "
      "3.8.x.kraft, 3.9.x, 3.9.x.kraft, 4.0.x.kraft, 4.1.x.kraft"]),
    ("redis-engine-not-7", {"cache.engineVersion": "6.2"},
     ['prod: cache.engineVersion: \'6.2\': must be a Redis 7 version in quotes, like "7.1"']),
    ("deployer-not-a-key-admin", {"encryption.keyAdminArns": ["arn:aws:iam::333333333333:role/platform-admin"]},
     ['prod: encryption.keyAdminArns: ["arn:aws:iam::333333333333:role/platform-admin"]: must include '
      "eks.deployerRoleArn (arn:aws:iam::333333333333:role/care-platform-deployer), the role `pulumi up` runs as: "
      "KMS refuses a key policy that would lock its creator out of PutKeyPolicy"]),
    ("redis-password-generation-zero", {"apps.prmApi.redis.passwordGeneration": 0},
     ["prod: apps.prmApi.redis.passwordGeneration: 0: Input should be greater than or equal to 1"]),
    ("redis-key-prefix-wildcard", {"apps.prmApi.redis.keyPrefixes": ["*"]},
     ["prod: apps.prmApi.redis.keyPrefixes.0: '*': must be a lowercase stem ending in ':', like 'prm-api:' "
      "(letters, digits, '-'; no wildcard: '*' is appended)"]),
    ("redis-commands-with-keys", {"apps.prmApi.redis.commands": "+@all ~*"},
     ["prod: apps.prmApi.redis.commands: '+@all ~*': must be Redis ACL command rules only, like '+@all -@dangerous' "
      "(no key/channel patterns, on/off, passwords or reset)"]),
    ("redis-prefixes-overlap", {"apps.prmWorker.redis.keyPrefixes": ["prm-api:"]},
     ["prod: apps.prmApi.redis.keyPrefixes: 'prm-api:': overlaps prmWorker's key prefix 'prm-api:': each app's "
      "Redis user owns its own keys",
      "prod: apps.prmWorker.redis.keyPrefixes: 'prm-api:': overlaps prmApi's key prefix 'prm-api:': each app's "
      "Redis user owns its own keys"]),
    ("kafka-wildcard-topic", {"apps.prmWorker.kafka.readTopics": ["*"]},
     ["prod: apps.prmWorker.kafka.readTopics.0: '*': a wildcard is allowed only as '<ownedPrefix>*' (prm-worker.*): "
      "name exact topics and groups, or set the app's own prefix"]),
    ("kafka-bad-topic-name", {"apps.prmWorker.kafka.writeTopics": ["prm worker/x"]},
     ["prod: apps.prmWorker.kafka.writeTopics.0: 'prm worker/x': must be a Kafka name: 1 to 249 of a-z A-Z 0-9 . _ - "
      "(not '.' or '..')"]),
    ("kafka-reader-without-group", {"apps.prmWorker.kafka.consumerGroups": []},
     ["prod: apps.prmWorker.kafka.consumerGroups: []: a consumer of readTopics needs its consumer group(s) named"]),
    ("kafka-writes-into-another-apps-prefix", {"apps.prmApi.kafka": {"ownedPrefix": "prm-api.",
                                                                     "writeTopics": ["prm-worker.jobs"]}},
     ["prod: apps.prmApi.kafka.writeTopics.0: 'prm-worker.jobs': is under prmWorker's ownedPrefix 'prm-worker.': an "
      "app writes and joins groups only in its own names (it may read others' topics)"]),
    ("kafka-joins-another-apps-group", {"apps.prmApi.kafka": {"ownedPrefix": "prm-api.",
                                                              "readTopics": ["prm-worker.jobs"],
                                                              "consumerGroups": ["prm-worker"]}},
     ["prod: apps.prmApi.kafka.consumerGroups.0: 'prm-worker': is also prmWorker's: each topic has one writing app "
      "and each consumer group one app",
      "prod: apps.prmWorker.kafka.consumerGroups.0: 'prm-worker': is also prmApi's: each topic has one writing app "
      "and each consumer group one app"]),
    ("eks-private-without-deployer-cidrs", {"eks.deployerCidrs": DELETE},
     ["prod: eks.deployerCidrs: []: a private-only API endpoint needs the CIDRs `pulumi up` runs from (CI runner "
      "subnet, VPN client pool): the cluster security group admits 443 from them and nothing else"]),
    ("eks-deployer-cidr-open", {"eks.deployerCidrs": ["0.0.0.0/0"]},
     ["prod: eks.deployerCidrs.0: '0.0.0.0/0': must be an allow-list: a prefix of /8 or longer, never 0.0.0.0/0"]),
    ("callers-must-be-known-apps", {"apps.nlfhir.allowFrom": ["billing", "prm-api", "prm/prm-worker", "nlfhir"],
                                    "apps.prmWorker.allowFrom": ["prm-api"]},
     ["prod: apps.nlfhir.allowFrom.0: 'billing': must name one of the apps (nlfhir, prm-api, prm-worker), as name or "
      "namespace/name",
      "prod: apps.nlfhir.allowFrom.1: 'prm-api': prm-api runs in namespace prm: write prm/prm-api",
      "prod: apps.nlfhir.allowFrom.3: 'nlfhir': an app does not call itself through the mesh",
      "prod: apps.prmWorker.allowFrom: [\"prm-api\"]: needs service: true (callers reach the app through its "
      "Service)"]),
    ("image-latest", {"apps.nlfhir.image": "nl-fhir:latest"},
     ["prod: apps.nlfhir.image: 'nl-fhir:latest': must be pinned to a tag other than 'latest' or to a digest "
      "(repo:1.2.3 or repo@sha256:...)"]),
]


@pytest.mark.parametrize("overrides,expected", [c[1:] for c in BAD_CONFIGS], ids=[c[0] for c in BAD_CONFIGS])
def test_bad_configuration_is_rejected_with_one_line_per_problem(overrides: dict, expected: list[str]) -> None:
    with pytest.raises(config.ConfigError) as caught:
        config.validate("prod", with_overrides(stack_raw("prod"), overrides))
    assert caught.value.lines == expected


def test_every_problem_is_reported_at_once() -> None:
    # Problems within sections all come together. (Rules that span sections, like brokers per AZ, are
    # judged once every section is valid on its own: they cannot be judged on invalid sections.)
    raw = with_overrides(stack_raw("prod"), {
        "network.flowLogs.retentionDays": 45, "eks.nodePools.app.min": 7, "regions.dr": "us-east-2",
        "streaming.replicationFactor": 4, "apps.prmApi.image": "prm-api",
    })
    with pytest.raises(config.ConfigError) as caught:
        config.validate("prod", raw)
    paths = [line.split(": ")[1] for line in caught.value.lines]
    assert paths == ["regions.dr", "network.flowLogs.retentionDays", "eks.nodePools.app.min",
                     "streaming.replicationFactor", "apps.prmApi.image"]
    assert str(caught.value).startswith("the configuration of stack 'prod' has 5 problem(s):\n")


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_every_stack_file_parses(stack: str) -> None:
    parsed = config.validate(stack, stack_raw(stack))
    assert parsed.environment.name == stack
    assert parsed.standard_tags["Environment"] == stack
    assert set(parsed.standard_tags) == {"Project", "Environment", "Owner", "CostCenter", "DataClassification",
                                         "ManagedBy"}


def test_prod_carries_the_seeds_numbers() -> None:
    prod = config.validate("prod", stack_raw("prod"))
    assert prod.network.az_count == 3 and prod.network.nat_gateways == "perAz"
    app, worker = prod.eks.node_pools.app, prod.eks.node_pools.worker
    assert (app.instance_types, app.desired, app.min, app.max) == (("m5.xlarge",), 6, 3, 12)
    assert (worker.instance_types, worker.desired, worker.min, worker.max) == (("c5.xlarge",), 3, 2, 6)
    db = prod.database.prm
    assert (db.instance_class, db.multi_az, db.read_replicas, db.backup_retention_days) == ("db.r5.xlarge", True, 2, 30)
    assert (prod.cache.cluster_mode, prod.cache.multi_az) == (True, True)
    assert (prod.streaming.broker_count, prod.streaming.replication_factor) == (3, 3)


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_every_stack_pins_supported_versions(stack: str) -> None:
    parsed = config.validate(stack, stack_raw(stack))
    assert (parsed.eks.version, parsed.eks.addons.kube_proxy, parsed.eks.charts.cluster_autoscaler_image_tag) == (
        "1.36", "v1.36.0-eksbuild.25", "v1.36.1")
    assert (parsed.streaming.kafka_version, parsed.cache.engine_version) == ("4.1.x.kraft", "7.1")
    assert parsed.eks.charts.external_secrets == "2.6.0"
    assert parsed.eks.deployer_role_arn == f"arn:aws:iam::{parsed.environment.account_id}:role/care-platform-deployer"
    # Only the private endpoint (prod) needs deployer networks; the public ones are allow-listed instead.
    assert parsed.eks.deployer_cidrs == (("10.100.0.0/22",) if stack == "prod" else ())


def test_dev_is_the_cheap_variant() -> None:
    dev = config.validate("dev", stack_raw("dev"))
    assert (dev.network.az_count, dev.network.nat_gateways) == (2, "single")
    assert dev.database.prm.read_replicas == 0 and not dev.database.prm.multi_az
    assert dev.protection.protect is False


def test_models_are_frozen() -> None:
    prod = config.validate("prod", stack_raw("prod"))
    with pytest.raises(Exception, match="frozen"):
        prod.network.az_count = 1  # type: ignore[misc]


def test_subnet_cidrs_are_deterministic_per_tier() -> None:
    prod = config.validate("prod", stack_raw("prod"))
    assert prod.network.subnet_cidrs("private") == ["10.30.0.0/19", "10.30.32.0/19", "10.30.64.0/19"]
    assert prod.network.subnet_cidrs("public") == ["10.30.96.0/24", "10.30.97.0/24", "10.30.98.0/24"]
    assert prod.network.subnet_cidrs("database") == ["10.30.112.0/24", "10.30.113.0/24", "10.30.114.0/24"]


def _load(values: dict[str, str], secret_keys: list[str]) -> config.Settings:
    loaded: list[config.Settings] = []
    run(lambda: loaded.append(config.load()), stack="prod", values=values, secret_keys=secret_keys)
    return loaded[0]


def _prod_values() -> tuple[dict[str, str], list[str]]:
    stack_file = load_stack_file("prod")
    return dict(stack_file.values), list(stack_file.secret_keys)


def test_load_keeps_the_secret_a_secret() -> None:
    import pulumi

    values, secret_keys = _prod_values()
    loaded: list[config.Settings] = []

    def program() -> None:
        loaded.append(config.load())
        pulumi.export("pagerdutyKey", loaded[0].secrets.pagerduty_integration_key)

    plan = run(program, stack="prod", values=values, secret_keys=secret_keys)
    settings = loaded[0]
    assert settings.stack == "prod"
    assert settings.config.environment.account_id == "333333333333"
    assert isinstance(settings.secrets.pagerduty_integration_key, pulumi.Output)
    assert plan.outputs["pagerdutyKey"] == "[secret]"  # read with require_secret: it stays a Pulumi secret


def test_a_plain_text_secret_is_rejected() -> None:
    values, _ = _prod_values()
    values["care-platform:pagerdutyIntegrationKey"] = "R0123456789"
    with pytest.raises(config.ConfigError) as caught:
        _load(values, ["care-platform:pagerdutyCloudwatchUrl"])
    assert caught.value.lines == [
        "prod: pagerdutyIntegrationKey: given in plain text: it must be a secret; run "
        "`pulumi config set --secret pagerdutyIntegrationKey <value> --stack prod`"
    ]


def test_a_missing_secret_is_reported_with_the_other_problems() -> None:
    values, _ = _prod_values()
    del values["care-platform:pagerdutyIntegrationKey"]
    network = json.loads(values["care-platform:network"])
    network["azCount"] = 9
    values["care-platform:network"] = json.dumps(network)
    with pytest.raises(config.ConfigError) as caught:
        _load(values, ["care-platform:pagerdutyCloudwatchUrl"])
    assert caught.value.lines == [
        "prod: network.azCount: 9: Input should be less than or equal to 6",
        "prod: pagerdutyIntegrationKey: missing: a secret is required; set it with "
        "`pulumi config set --secret pagerdutyIntegrationKey <value> --stack prod`",
    ]


def test_a_section_that_is_not_a_mapping_is_reported() -> None:
    values, secret_keys = _prod_values()
    values["care-platform:backup"] = "thirty days"
    with pytest.raises(config.ConfigError) as caught:
        _load(values, secret_keys)
    assert caught.value.lines == ["prod: backup: 'thirty days': must be a mapping of settings"]


def test_offline_placeholder_for_undecryptable_secret() -> None:
    stack_file = load_stack_file("prod")
    key = "care-platform:pagerdutyIntegrationKey"
    assert stack_file.values[key] == placeholder(key) == "[offline placeholder for secret " + key + "]"
    assert key in stack_file.secret_keys
