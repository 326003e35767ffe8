"""``@kubernetes``: run the step as a Kubernetes Job (AKS, EKS or any cluster).

Attributes left unset come from the profile (``METAFLOW_KUBERNETES_*``); cpu, memory, disk,
gpu and shared memory are the larger of this decorator's and ``@resources``' values (as in
Metaflow). The Job itself is built by ``headwater.compute.kubernetes``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .base import DecoratorError, StepDecorator
from .resources import ResourcesDecorator

if TYPE_CHECKING:
    from ..settings import Settings

GPU_VENDORS = ("nvidia", "amd")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
# Sizes used when neither this decorator nor @resources asks (Metaflow's defaults).
DEFAULT_CPU, DEFAULT_MEMORY_MB, DEFAULT_DISK_MB = 1, 4096, 10240


def parse_pairs(text: str | None, what: str) -> dict[str, str]:
    """``k=v,k2=v2`` (the profile's format for labels, annotations, node selectors)."""
    out: dict[str, str] = {}
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise DecoratorError(f"{what}: {part!r} is not key=value",
                                 f"write {what} as key=value,key2=value2")
        out[key.strip()] = value.strip()
    return out


def _mapping(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, str):
        return parse_pairs(value, what)
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    raise DecoratorError(f"{what} must be a dict or 'key=value,...', not {value!r}")


def _names(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in value]


def _larger(*values: Any) -> float | None:
    numbers = [float(v) for v in values if v is not None]
    return max(numbers) if numbers else None


class KubernetesDecorator(StepDecorator):
    """Run the step in a container on Kubernetes: ``@kubernetes(cpu=2, memory=8192)``.

    ``cpu`` (cores), ``memory``/``disk``/``tmpfs_size``/``shared_memory`` (MB), ``gpu``
    (count) and ``gpu_vendor`` (nvidia, amd); ``image``, ``image_pull_policy``,
    ``namespace``, ``service_account``; ``secrets`` (names of Kubernetes Secrets whose keys
    become environment variables); ``node_selector``, ``tolerations`` (list of toleration
    dicts), ``labels``, ``annotations``; ``use_tmpfs`` with ``tmpfs_size``/``tmpfs_path``;
    ``persistent_volume_claims`` (``{claim: mount_path}``)."""

    name = "kubernetes"
    defaults = {"cpu": None, "memory": None, "disk": None, "gpu": None, "gpu_vendor": None,
                "image": None, "image_pull_policy": None, "namespace": None,
                "service_account": None, "secrets": None, "node_selector": None,
                "tolerations": None, "labels": None, "annotations": None, "use_tmpfs": False,
                "tmpfs_size": None, "tmpfs_path": "/metaflow_temp", "shared_memory": None,
                "persistent_volume_claims": None}

    def compute_backend(self) -> str:
        return "kubernetes"

    def resource_requests(self) -> dict:
        """The sizes given here (the task gets the larger of these and ``@resources``')."""
        return {k: v for k in ("cpu", "memory", "gpu")
                if (v := self.attributes.get(k)) is not None}

    def step_init(self, flow_cls, graph, step_name):
        a = self.attributes
        for key in ("cpu", "memory", "disk", "gpu", "tmpfs_size", "shared_memory"):
            if a[key] is None:
                continue
            try:
                number = float(a[key])
            except (TypeError, ValueError):
                number = -1
            if number < 0 or (key == "gpu" and number != int(number)):
                raise DecoratorError(f"@kubernetes({key}={a[key]!r}) on step {step_name!r} "
                                     f"must be a non-negative number"
                                     + (" (whole GPUs)" if key == "gpu" else ""))
        if a["gpu_vendor"] is not None and str(a["gpu_vendor"]).lower() not in GPU_VENDORS:
            raise DecoratorError(f"@kubernetes(gpu_vendor={a['gpu_vendor']!r}) on step "
                                 f"{step_name!r} is not supported",
                                 f"use one of: {', '.join(GPU_VENDORS)}")
        if a["image_pull_policy"] is not None and a["image_pull_policy"] not in PULL_POLICIES:
            raise DecoratorError(f"@kubernetes(image_pull_policy={a['image_pull_policy']!r}) "
                                 f"on step {step_name!r} is not a pull policy",
                                 f"use one of: {', '.join(PULL_POLICIES)}")
        if a["tolerations"] is not None and not (
                isinstance(a["tolerations"], list)
                and all(isinstance(t, dict) for t in a["tolerations"])):
            raise DecoratorError(f"@kubernetes(tolerations=...) on step {step_name!r} must be "
                                 f"a list of dicts",
                                 "e.g. tolerations=[{'key': 'pool', 'operator': 'Equal', "
                                 "'value': 'ml', 'effect': 'NoSchedule'}]")
        pvcs = a["persistent_volume_claims"]
        if pvcs is not None and not (isinstance(pvcs, dict) and all(
                isinstance(v, str) and v.startswith("/") for v in pvcs.values())):
            raise DecoratorError(f"@kubernetes(persistent_volume_claims=...) on step "
                                 f"{step_name!r} must map claim names to absolute paths",
                                 "e.g. persistent_volume_claims={'data-claim': '/data'}")
        for key in ("labels", "annotations", "node_selector"):
            _mapping(a[key], f"@kubernetes({key}=...)")

    def resolve(self, settings: "Settings", decorators: list[StepDecorator]) -> dict[str, Any]:
        """Every attribute with its final value: this decorator's, else the profile's, with
        sizes combined with ``@resources`` (the larger wins)."""
        a = dict(self.attributes)
        resources: dict[str, Any] = {}
        for deco in decorators:
            if isinstance(deco, ResourcesDecorator):
                resources = deco.requests()
        # @resources' own defaults (cpu 1, memory 4096) count like explicit values.
        a["cpu"] = _larger(a["cpu"], resources.get("cpu")) or DEFAULT_CPU
        a["memory"] = _larger(a["memory"], resources.get("memory")) or DEFAULT_MEMORY_MB
        a["disk"] = _larger(a["disk"], resources.get("disk")) or DEFAULT_DISK_MB
        gpu = _larger(a["gpu"], resources.get("gpu"))
        a["gpu"] = int(gpu) if gpu else 0
        a["shared_memory"] = _larger(a["shared_memory"], resources.get("shared_memory"))
        a["gpu_vendor"] = str(a["gpu_vendor"] or settings.get("METAFLOW_KUBERNETES_GPU_VENDOR")
                              or "nvidia").lower()
        a["image"] = a["image"] or container_image(settings)
        a["namespace"] = a["namespace"] or settings.get("METAFLOW_KUBERNETES_NAMESPACE") \
            or "default"
        a["service_account"] = a["service_account"] or settings.get(
            "METAFLOW_KUBERNETES_SERVICE_ACCOUNT")
        a["secrets"] = sorted(set(_names(settings.get("METAFLOW_KUBERNETES_SECRETS"))
                                  + _names(a["secrets"])))
        a["node_selector"] = {**parse_pairs(settings.get("METAFLOW_KUBERNETES_NODE_SELECTOR"),
                                            "METAFLOW_KUBERNETES_NODE_SELECTOR"),
                              **_mapping(a["node_selector"], "node_selector")}
        a["labels"] = {**parse_pairs(settings.get("METAFLOW_KUBERNETES_LABELS"),
                                     "METAFLOW_KUBERNETES_LABELS"),
                       **_mapping(a["labels"], "labels")}
        a["annotations"] = {**parse_pairs(settings.get("METAFLOW_KUBERNETES_ANNOTATIONS"),
                                          "METAFLOW_KUBERNETES_ANNOTATIONS"),
                            **_mapping(a["annotations"], "annotations")}
        tolerations = a["tolerations"]
        if tolerations is None:
            raw = settings.get("METAFLOW_KUBERNETES_TOLERATIONS")
            try:
                tolerations = json.loads(raw) if raw else []
            except ValueError:
                raise DecoratorError("METAFLOW_KUBERNETES_TOLERATIONS must be a JSON list of "
                                     "tolerations") from None
        tolerations = [dict(t) for t in tolerations]
        if a["gpu"]:
            key = f"{a['gpu_vendor']}.com/gpu"
            if not any(t.get("key") == key for t in tolerations):
                # The stacks taint GPU node pools with <vendor>.com/gpu=present:NoSchedule.
                tolerations.append({"key": key, "operator": "Exists", "effect": "NoSchedule"})
        a["tolerations"] = tolerations
        a["persistent_volume_claims"] = dict(a["persistent_volume_claims"] or {})
        a["image_pull_policy"] = a["image_pull_policy"] or None
        return a


def container_image(settings: "Settings", keys: tuple[str, ...] = (
        "METAFLOW_KUBERNETES_CONTAINER_IMAGE", "METAFLOW_DEFAULT_CONTAINER_IMAGE"),
        registry_keys: tuple[str, ...] = ("METAFLOW_KUBERNETES_CONTAINER_REGISTRY",
                                          "METAFLOW_DEFAULT_CONTAINER_REGISTRY")) -> str:
    """The task image the profile names (a bare image name gets the registry prefix)."""
    image = next((settings.get(k) for k in keys if settings.get(k)), None)
    if not image:
        raise DecoratorError(
            f"no container image for remote tasks: {keys[0]} is not set",
            f"set image=... on the decorator or {keys[0]} in the profile (the stack's "
            f"profile names the task image built from infra/images/task.Dockerfile)")
    registry = next((settings.get(k) for k in registry_keys if settings.get(k)), None)
    first = image.split("/", 1)[0]
    if registry and ("/" not in image or not ("." in first or ":" in first
                                              or first == "localhost")):
        image = f"{registry.rstrip('/')}/{image}"
    return image
