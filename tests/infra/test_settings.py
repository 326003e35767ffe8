"""Stack configuration: every bad value is an error naming the key (options.py, settings.py,
and the components' own argument checks)."""

from __future__ import annotations

import warnings

import pytest

from headwater_infra.kubernetes.manifests import ClusterLayout
from headwater_infra.naming import Naming
from headwater_infra.options import ConfigError, camel, parse_knobs, snake
from headwater_infra.settings import StackSettings

warnings.filterwarnings("ignore", category=DeprecationWarning)
from headwater_infra.aws.network import NetworkArgs as AwsNetworkArgs  # noqa: E402
from headwater_infra.aws.storage import ArtifactBucketArgs  # noqa: E402
from headwater_infra.azure.cluster import AksClusterArgs, NodePool  # noqa: E402
from headwater_infra.azure.database import DatabaseArgs  # noqa: E402
from headwater_infra.azure.network import NetworkArgs  # noqa: E402
from headwater_infra.azure.storage import StorageArgs, storage_ip_rule  # noqa: E402

SECTIONS = {"storage": StorageArgs, "cluster": AksClusterArgs, "kubernetes": ClusterLayout}
NAMING = Naming("hw", "dev")


def load(**raw):
    return StackSettings.load("headwater-azure", {"environment": "dev", **raw}, SECTIONS)


def test_case_conversion_round_trips():
    for name in ("soft_delete_days", "user_pool", "max_vcpus", "sku"):
        assert snake(camel(name)) == name


def test_knobs_map_to_component_arguments():
    settings = load(storage={"softDeleteDays": 14, "coolAfterDays": None},
                    cluster={"userPool": {"vmSize": "Standard_D4s_v5", "maxCount": 5}},
                    kubernetes={"namespace": "ml"})
    assert settings.knobs("storage") == {"soft_delete_days": 14, "cool_after_days": None}
    assert settings.knobs("cluster")["user_pool"] == NodePool("Standard_D4s_v5", 1, 5)
    assert ClusterLayout(**settings.knobs("kubernetes")).namespace == "ml"
    assert settings.knobs("network") == {}


def test_scalars_given_as_text_are_accepted():
    # The engine hands scalars over as text; read_config turns "14" into 14.
    assert load(storage={"softDeleteDays": "14", "versioning": "true"}).knobs("storage") == \
        {"soft_delete_days": 14, "versioning": True}


@pytest.mark.parametrize("raw, message", [
    ({"storage": {"softDeleteDay": 3}}, r"has no setting 'softDeleteDay'; did you mean "
                                        r"'softDeleteDays'\?"),
    ({"storage": {"softDeleteDays": "a week"}}, r"storage.softDeleteDays must be a whole number"),
    ({"storage": {"versioning": "yes"}}, r"storage.versioning must be true or false"),
    ({"storage": {"sku": "Premium_LRS"}}, r"storage.sku must be one of 'Standard_LRS'"),
    ({"storage": {"resourceGroupName": "x"}}, r"has no setting 'resourceGroupName'"),
    ({"storage": ["x"]}, r"headwater-azure:storage must be a mapping"),
    ({"cluster": {"userPool": {"maxCount": 3}}}, r"cluster.userPool is missing vmSize"),
    ({"cluster": {"userPool": {"vmSize": "x", "minCount": 4, "maxCount": 2}}},
     r"minCount <= maxCount"),
    ({"cluster": {"userPool": "big"}}, r"userPool must be a mapping"),
    ({"allowedClientIpRanges": "1.2.3.4/32"}, r"allowedClientIpRanges must be a list"),
    ({"environment": "staging"}, r"environment must be one of 'dev', 'prod', 'sandbox'"),
    ({"storag": {}}, r"headwater-azure:storag is not a setting of this stack"),
    ({"serviceVersion": "0.1.0 beta"}, r"serviceVersion '0.1.0 beta' is not a valid image tag"),
])
def test_bad_configuration_names_the_key(raw, message):
    with pytest.raises(ConfigError, match=message):
        load(**raw)


def test_bad_kubernetes_names_are_refused():
    knobs = load(kubernetes={"namespace": "Head_Water"}).knobs("kubernetes")
    with pytest.raises(ValueError, match="'Head_Water' is not a valid Kubernetes name"):
        ClusterLayout(**knobs)


def test_missing_environment_says_what_to_set():
    with pytest.raises(ConfigError, match=r"environment is not set: set it to one of dev, prod"):
        StackSettings.load("headwater-aws", {}, {})


def test_cloud_specific_top_level_keys():
    extra = {"platform": (__import__("typing").Literal["ecs", "eks"], "ecs")}
    assert StackSettings.load("p", {"environment": "dev"}, {}, extra).extra == {"platform": "ecs"}
    with pytest.raises(ConfigError, match="platform must be one of 'ecs', 'eks'"):
        StackSettings.load("p", {"environment": "dev", "platform": "lambda"}, {}, extra)


def test_misspelt_keys_in_the_stack_yaml_are_reported():
    import pulumi

    from headwater_infra.options import read_config

    pulumi.runtime.set_all_config({"headwater-azure:environment": "dev",
                                   "headwater-azure:storge": '{"sku": "Standard_LRS"}',
                                   "headwater-azure:storage": '{"softDeleteDays": 3}',
                                   "azure-native:location": "westeurope"})
    try:
        raw = read_config(pulumi.Config("headwater-azure"), StackSettings.keys(SECTIONS))
    finally:
        pulumi.runtime.set_all_config({})
    assert raw == {"environment": "dev", "storage": {"softDeleteDays": 3},
                   "storge": {"sku": "Standard_LRS"}}
    with pytest.raises(ConfigError, match="headwater-azure:storge is not a setting"):
        StackSettings.load("headwater-azure", raw, SECTIONS)


def test_parse_knobs_ignores_absent_sections():
    assert parse_knobs(StorageArgs, None, "x") == {}


# --- the components' own checks -------------------------------------------------------------

def storage(**knobs):
    wiring = dict(resource_group_name="rg", location="westeurope", naming=NAMING,
                  suffix="abc123", allowed_subnet_ids=[], allowed_ip_ranges=[])
    return StorageArgs(**{**wiring, **knobs})


@pytest.mark.parametrize("knobs, message", [
    ({"soft_delete_days": 0}, "softDeleteDays must be between 1 and 365"),
    ({"cool_after_days": 0}, "coolAfterDays must be at least 1"),
    ({"cool_after_days": 30, "delete_after_days": 40}, "deleteAfterDays must be null"),
    ({"artifact_container": "Artifacts"}, "not a valid blob container name"),
])
def test_storage_arguments_are_checked(knobs, message):
    with pytest.raises(ValueError, match=message):
        storage(**knobs)


def test_storage_firewall_takes_public_ranges_only():
    assert storage_ip_rule("203.0.113.7/32") == "203.0.113.7"  # the firewall rejects /32
    assert storage_ip_rule("203.0.113.0/24") == "203.0.113.0/24"
    for bad in ("10.1.0.0/16", "192.168.1.1", "127.0.0.1", "2001:db8::/32", "my-office"):
        with pytest.raises(ValueError, match="allowedClientIpRanges"):
            storage_ip_rule(bad)
    with pytest.raises(ValueError, match="public IPv4"):
        storage(allowed_ip_ranges=["172.16.0.0/12"])


def test_network_ranges_are_checked():
    args = NetworkArgs(resource_group_name="rg", location="x", naming=NAMING)
    assert args.layout == {"nodes": "10.40.0.0/20", "load-balancers": "10.40.16.0/24",
                           "postgres": "10.40.17.0/24"}
    assert args.service_ip == "10.40.16.10"
    for bad, message in (("10.0.0.0/16", "overlaps the cluster's services range"),
                         ("10.244.0.0/16", "overlaps the cluster's pods range"),
                         ("10.40.0.0/24", "between /8 and /20"), ("ten", "not a CIDR range")):
        with pytest.raises(ValueError, match=message):
            NetworkArgs(resource_group_name="rg", location="x", naming=NAMING,
                        address_space=bad)


def test_aws_network_and_bucket_arguments_are_checked():
    assert AwsNetworkArgs(NAMING, "eu-west-1").subnets() == (
        ["10.70.0.0/18", "10.70.64.0/18"], ["10.70.192.0/22", "10.70.196.0/22"])
    with pytest.raises(ValueError, match="azCount must be 2 or 3"):
        AwsNetworkArgs(NAMING, "eu-west-1", az_count=1)
    with pytest.raises(ValueError, match="from /16 to /20"):
        AwsNetworkArgs(NAMING, "eu-west-1", cidr="10.0.0.0/8")
    with pytest.raises(ValueError, match="at least 30"):
        ArtifactBucketArgs(NAMING, "abc", infrequent_access_after_days=7)
    with pytest.raises(ValueError, match="later than infrequentAccessAfterDays"):
        ArtifactBucketArgs(NAMING, "abc", infrequent_access_after_days=90, expire_after_days=60)


def test_database_high_availability_needs_a_standby_capable_tier():
    with pytest.raises(ValueError, match="highAvailability needs tier GeneralPurpose"):
        DatabaseArgs(resource_group_name="rg", location="x", naming=NAMING, suffix="s",
                     subnet_id="s", private_dns_zone_id="z", vault=None, dns_zone_link=None,
                     high_availability=True, tier="Burstable")
