"""``@project`` and ``@schedule``: flow-level settings recorded for deployers."""

from __future__ import annotations

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

    def branch(self, user: str) -> str:
        if self.attributes["production"]:
            return "prod" + (f".{self.attributes['branch']}" if self.attributes["branch"] else "")
        if self.attributes["branch"]:
            return f"test.{self.attributes['branch']}"
        return f"user.{user}"

    def system_tags(self, user: str) -> list[str]:
        return [f"project:{self.attributes['name']}", f"project_branch:{self.branch(user)}"]

    def current_values(self, flow_name: str, user: str) -> dict:
        branch = self.branch(user)
        return {"project_name": self.attributes["name"], "branch_name": branch,
                "project_flow_name": f"{self.attributes['name']}.{branch}.{flow_name}",
                "is_production": bool(self.attributes["production"]),
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
