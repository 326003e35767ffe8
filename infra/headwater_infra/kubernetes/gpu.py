"""GPUs that schedule: NVIDIA's device plugin, from its official Helm chart (pinned).

Without it a GPU node advertises no ``nvidia.com/gpu`` resource and every pod that asks for
one stays Pending. The plugin's pods run only on the GPU pool's nodes (label
``headwater.dev/pool=gpu``) and tolerate the pool's taint, as tasks do through the
profile's ``METAFLOW_KUBERNETES_TOLERATIONS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from .manifests import GPU_TOLERATION
from .objects import child_options

__all__ = ["NvidiaDevicePlugin", "NvidiaDevicePluginArgs", "DEVICE_PLUGIN_REPOSITORY",
           "device_plugin_values"]

DEVICE_PLUGIN_REPOSITORY = "https://nvidia.github.io/k8s-device-plugin"


@dataclass
class NvidiaDevicePluginArgs:
    chart_version: str = "0.17.1"
    namespace: str = "kube-system"


def device_plugin_values() -> dict[str, Any]:
    """Helm values: on GPU nodes only, tolerating their taint."""
    return {"nodeSelector": {"headwater.dev/pool": "gpu"},
            "tolerations": [GPU_TOLERATION],
            "priorityClassName": "system-node-critical"}


class NvidiaDevicePlugin(pulumi.ComponentResource):
    """The nvidia-device-plugin Helm release."""

    def __init__(self, name: str, args: NvidiaDevicePluginArgs,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("headwater:kubernetes:NvidiaDevicePlugin", name, None, opts)
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            name="nvidia-device-plugin",
            chart="nvidia-device-plugin",
            version=args.chart_version,
            repository_opts={"repo": DEVICE_PLUGIN_REPOSITORY},
            namespace=args.namespace,
            values=device_plugin_values(),
            atomic=True,
            cleanup_on_fail=True,
            opts=child_options(self, opts))
        self.register_outputs({})
