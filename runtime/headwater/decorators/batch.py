"""``@batch``: run the step as an AWS Batch job (EC2 or Fargate compute environments).

Attributes left unset come from the profile (``METAFLOW_BATCH_*``, ``METAFLOW_ECS_*``);
cpu, memory, gpu and shared memory are the larger of this decorator's and ``@resources``'
values. The job definition and the job are built by ``headwater.compute.batch``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import DecoratorError, StepDecorator
from .kubernetes import _larger, container_image
from .resources import ResourcesDecorator

if TYPE_CHECKING:
    from ..settings import Settings

DEFAULT_CPU, DEFAULT_MEMORY_MB = 1, 4096


class BatchDecorator(StepDecorator):
    """Run the step on AWS Batch: ``@batch(cpu=4, memory=16000, queue="gpu-queue")``.

    ``cpu`` (vCPUs), ``memory``/``shared_memory``/``max_swap``/``tmpfs_size`` (MB), ``gpu``
    (count); ``image``; ``queue`` (name or ARN); ``iam_role`` (the task's role: what the
    task may read and write) and ``execution_role`` (Fargate: pulls the image, writes
    logs); ``swappiness`` (0-100); ``use_tmpfs`` with ``tmpfs_size``/``tmpfs_path``;
    ``efs_volumes`` (``{file_system_id: mount_path}``); ``ephemeral_storage`` (GiB,
    Fargate)."""

    name = "batch"
    defaults = {"cpu": None, "memory": None, "gpu": None, "image": None, "queue": None,
                "iam_role": None, "execution_role": None, "shared_memory": None,
                "max_swap": None, "swappiness": None, "use_tmpfs": False, "tmpfs_size": None,
                "tmpfs_path": "/metaflow_temp", "efs_volumes": None,
                "ephemeral_storage": None}

    def compute_backend(self) -> str:
        return "batch"

    def resource_requests(self) -> dict:
        """The sizes given here (the task gets the larger of these and ``@resources``')."""
        return {k: v for k in ("cpu", "memory", "gpu")
                if (v := self.attributes.get(k)) is not None}

    def step_init(self, flow_cls, graph, step_name):
        a = self.attributes
        for key in ("cpu", "memory", "gpu", "shared_memory", "max_swap", "swappiness",
                    "tmpfs_size", "ephemeral_storage"):
            if a[key] is None:
                continue
            try:
                number = float(a[key])
            except (TypeError, ValueError):
                number = -1
            if number < 0:
                raise DecoratorError(f"@batch({key}={a[key]!r}) on step {step_name!r} must be "
                                     f"a non-negative number")
        if a["swappiness"] is not None and not 0 <= float(a["swappiness"]) <= 100:
            raise DecoratorError(f"@batch(swappiness={a['swappiness']!r}) on step "
                                 f"{step_name!r} must be between 0 and 100")
        if a["ephemeral_storage"] is not None and not 21 <= float(a["ephemeral_storage"]) <= 200:
            raise DecoratorError(f"@batch(ephemeral_storage={a['ephemeral_storage']!r}) on "
                                 f"step {step_name!r} must be 21-200 GiB (Fargate's range)")
        efs = a["efs_volumes"]
        if efs is not None and not (isinstance(efs, dict) and all(
                isinstance(v, str) and v.startswith("/") for v in efs.values())):
            raise DecoratorError(f"@batch(efs_volumes=...) on step {step_name!r} must map "
                                 f"file system ids to absolute paths",
                                 "e.g. efs_volumes={'fs-0123456789abcdef0': '/data'}")

    def resolve(self, settings: "Settings", decorators: list[StepDecorator]) -> dict[str, Any]:
        """Every attribute with its final value (decorator, else profile; sizes combined
        with ``@resources``)."""
        a = dict(self.attributes)
        resources: dict[str, Any] = {}
        for deco in decorators:
            if isinstance(deco, ResourcesDecorator):
                resources = deco.requests()
        a["cpu"] = _larger(a["cpu"], resources.get("cpu")) or DEFAULT_CPU
        a["memory"] = _larger(a["memory"], resources.get("memory")) or DEFAULT_MEMORY_MB
        gpu = _larger(a["gpu"], resources.get("gpu"))
        a["gpu"] = int(gpu) if gpu else 0
        a["shared_memory"] = _larger(a["shared_memory"], resources.get("shared_memory"))
        a["image"] = a["image"] or container_image(
            settings, ("METAFLOW_BATCH_CONTAINER_IMAGE", "METAFLOW_DEFAULT_CONTAINER_IMAGE"),
            ("METAFLOW_BATCH_CONTAINER_REGISTRY", "METAFLOW_DEFAULT_CONTAINER_REGISTRY"))
        a["queue"] = a["queue"] or settings.get("METAFLOW_BATCH_JOB_QUEUE")
        if not a["queue"]:
            raise DecoratorError("no AWS Batch job queue: METAFLOW_BATCH_JOB_QUEUE is not set",
                                 "set queue=... on @batch or METAFLOW_BATCH_JOB_QUEUE in the "
                                 "profile (the AWS stack's profile has it)")
        a["iam_role"] = a["iam_role"] or settings.get("METAFLOW_ECS_S3_ACCESS_IAM_ROLE")
        a["execution_role"] = a["execution_role"] or settings.get(
            "METAFLOW_ECS_FARGATE_EXECUTION_ROLE")
        a["efs_volumes"] = dict(a["efs_volumes"] or {})
        return a
