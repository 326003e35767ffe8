"""``@project`` and ``@schedule``: flow-level settings recorded for deployers."""

from __future__ import annotations

import os
import re

from .base import DecoratorError, FlowDecorator

_NAME = re.compile(r"^[a-z0-9_]{1,128}$")


class ProjectDecorator(FlowDecorator):
    """Group flows into a project; runs get ``project:<name>`` and a branch tag."""

    name = "project"
    defaults = {"name": None, "branch": None, "production": False}

    def flow_init(self, flow_cls, graph):
        name = self.attributes["name"]
        if not isinstance(name, str) or not _NAME.match(name):
            raise DecoratorError(f"@project(name={name!r}) needs lowercase letters, digits and "
                                 f"underscores", "e.g. @project(name='fraud_model')")

    # Metaflow's --branch and --production options, given as the variables its command
    # line also reads them from, when the decorator does not set them
    def _given_branch(self) -> str | None:
        return self.attributes["branch"] or os.environ.get("METAFLOW_BRANCH") or None

    def _production(self) -> bool:
        if self.attributes["production"]:
            return True
        return os.environ.get("METAFLOW_PRODUCTION", "").strip().lower() in (
            "1", "true", "yes", "on")

    def branch(self, user: str) -> str:
        given = self._given_branch()
        if self._production():
            return "prod" + (f".{given}" if given else "")
        if given:
            return f"test.{given}"
        return f"user.{user}"

    def system_tags(self, user: str) -> list[str]:
        return [f"project:{self.attributes['name']}", f"project_branch:{self.branch(user)}"]

    def current_values(self, flow_name: str, user: str) -> dict:
        branch = self.branch(user)
        return {"project_name": self.attributes["name"], "branch_name": branch,
                "project_flow_name": f"{self.attributes['name']}.{branch}.{flow_name}",
                "is_production": self._production(),
                "is_user_branch": branch.startswith("user.")}


class ScheduleDecorator(FlowDecorator):
    """When a deployed flow runs: ``hourly``, ``daily``, ``weekly`` or a ``cron`` string."""

    name = "schedule"
    defaults = {"cron": None, "hourly": False, "daily": True, "weekly": False,
                "timezone": None}

    def flow_init(self, flow_cls, graph):
        cron = self.attributes["cron"]
        if cron is not None and (not isinstance(cron, str) or len(cron.split()) not in (5, 6)):
            raise DecoratorError(f"@schedule(cron={cron!r}) is not a cron expression",
                                 "e.g. @schedule(cron='0 2 * * ? *')")

    @property
    def schedule(self) -> str:
        a = self.attributes
        if a["cron"]:
            return a["cron"]
        if a["hourly"]:
            return "0 * * * *"
        if a["weekly"]:
            return "0 0 * * 0"
        return "0 0 * * *"
