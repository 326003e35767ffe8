"""GPUs that schedule (issue 12, item 11): the NVIDIA device plugin on both clusters' GPU
pools, a cluster autoscaler on EKS (whose GPU group starts at 0 nodes) with the IRSA role
it needs, and the GPU taint's toleration in the profile.

Built under Pulumi's mocks: this proves the declared objects, not that a GPU node starts.
"""

from __future__ import annotations

import json

import pytest

from headwater_infra.aws.autoscaler import AUTOSCALER_REPOSITORY
from headwater_infra.azure.cluster import GPU_TAINT
from headwater_infra.kubernetes.gpu import DEVICE_PLUGIN_REPOSITORY
from headwater_infra.kubernetes.manifests import GPU_TOLERATION

from .conftest import FULL

RELEASE = "kubernetes:helm.sh/v3:Release"


def _releases(inventory):
    return {r["inputs"]["chart"]: r["inputs"] for r in inventory.of_type(RELEASE)}


def test_the_toleration_matches_both_clusters_gpu_taint(stack):
    key, rest = GPU_TAINT.split("=")
    value, effect = rest.split(":")
    assert GPU_TOLERATION == {"key": key, "operator": "Equal", "value": value, "effect": effect}
    eks_taint = stack("aws-prod").named("cluster-gpu-nodes")["inputs"]["taints"][0]
    assert (eks_taint["key"], eks_taint["value"], eks_taint["effect"]) == \
        (key, value, "NO_SCHEDULE")


@pytest.mark.parametrize("label", FULL)
def test_gpu_stacks_install_the_device_plugin_and_emit_the_toleration(stack, label):
    inventory = stack(label)
    gpu = label.endswith("prod")  # only the prod stacks have a GPU pool / node group
    releases = _releases(inventory)
    profile = inventory.profile
    if not gpu:
        assert "nvidia-device-plugin" not in releases
        assert "METAFLOW_KUBERNETES_TOLERATIONS" not in profile
        return
    plugin = releases["nvidia-device-plugin"]
    assert plugin["repositoryOpts"] == {"repo": DEVICE_PLUGIN_REPOSITORY}
    assert plugin["version"] == "0.17.1"  # pinned: a chart upgrade is a reviewed change
    assert plugin["values"]["tolerations"] == [GPU_TOLERATION]
    assert plugin["values"]["nodeSelector"] == {"headwater.dev/pool": "gpu"}
    assert json.loads(profile["METAFLOW_KUBERNETES_TOLERATIONS"]) == [GPU_TOLERATION]
    assert profile["METAFLOW_KUBERNETES_GPU_VENDOR"] == "nvidia"


def test_eks_runs_a_cluster_autoscaler_with_its_own_irsa_role(stack):
    inventory = stack("aws-prod")
    autoscaler = _releases(inventory)["cluster-autoscaler"]
    assert autoscaler["repositoryOpts"] == {"repo": AUTOSCALER_REPOSITORY}
    assert autoscaler["version"] == "9.43.2"
    values = autoscaler["values"]
    assert values["autoDiscovery"] == {"clusterName": "hw-prod-eks"}
    assert values["awsRegion"] == "eu-west-1"
    role = inventory.named("autoscaler-role")
    annotations = values["rbac"]["serviceAccount"]["annotations"]
    assert annotations == {"eks.amazonaws.com/role-arn": role["inputs"]["name"].join(
        ["arn:aws:iam::123456789012:role/", ""])}
    trust = json.loads(role["inputs"]["assumeRolePolicy"])["Statement"]
    assert [list(s["Condition"]["StringEquals"].values())[0] for s in trust] == [
        "system:serviceaccount:kube-system:cluster-autoscaler"]
    policy = json.loads(inventory.named("autoscaler-role-scale-node-groups")["inputs"]["policy"])
    writes = [s for s in policy["Statement"]
              if "autoscaling:SetDesiredCapacity" in s["Action"]][0]
    # It may resize only this cluster's groups (EKS tags them for auto-discovery).
    assert writes["Condition"] == {"StringEquals": {
        "aws:ResourceTag/k8s.io/cluster-autoscaler/hw-prod-eks": "owned"}}
    describe = [s for s in policy["Statement"] if s["Action"] == ["eks:DescribeNodegroup"]][0]
    assert describe["Resource"] == [
        "arn:aws:eks:eu-west-1:123456789012:nodegroup/hw-prod-eks/*"]
    gpu = inventory.named("cluster-gpu-nodes")["inputs"]["scalingConfig"]
    assert gpu["minSize"] == 0 and gpu["maxSize"] > 0  # the autoscaler grows it from 0
