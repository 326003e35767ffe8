"""Schedule strings for each target: Argo's CronWorkflow takes standard five-field cron;
EventBridge takes ``cron(min hour day-of-month month day-of-week year)`` with a ``?`` in one
of the day fields, or ``rate(...)``. A ``@schedule(timezone=...)`` is an IANA zone name
(``Europe/Berlin``): Argo's CronWorkflow and EventBridge Scheduler both take one."""

from __future__ import annotations

import re

from ..exceptions import ConfigurationError

_FIELD = r"[0-9A-Za-z*?/,\-#LW]+"
_EVENTBRIDGE = re.compile(rf"^cron\(({_FIELD}(?: {_FIELD}){{5}})\)$|^rate\(\d+ (minute|minutes|hour|hours|day|days)\)$")


def argo_schedule(cron: str) -> str:
    """A five-field cron for Argo. The EventBridge fields ``@schedule`` also takes
    (``0 2 * * ? *`` or ``cron(0 2 * * ? *)``) translate when the year is ``*``."""
    text = cron[5:-1] if cron.startswith("cron(") and cron.endswith(")") else cron
    fields = text.split()
    if len(fields) == 6 and fields[5] == "*":
        fields = [("*" if f == "?" else f) for f in fields[:5]]
    if cron.startswith("rate(") or len(fields) != 5 or "?" in fields:
        raise ConfigurationError(
            f"schedule {cron!r} is not a cron expression Argo Workflows can run",
            "write it as 'minute hour day month weekday', e.g. '0 2 * * *'")
    return " ".join(fields)


def eventbridge_schedule(cron: str) -> str:
    """An EventBridge schedule: given as one (``cron(...)``/``rate(...)``), or translated
    from five-field cron."""
    if len(cron.split()) == 6 and not cron.startswith(("cron(", "rate(")):
        cron = f"cron({cron})"  # @schedule(cron='0 2 * * ? *'): EventBridge fields
    if cron.startswith(("cron(", "rate(")):
        match = _EVENTBRIDGE.match(cron)
        if not match or (cron.startswith("cron(") and "?" not in match.group(1).split()[2::2]):
            raise ConfigurationError(
                f"schedule {cron!r} is not a valid EventBridge expression",
                "use cron(minute hour day-of-month month day-of-week year) with ? in one of the "
                "day fields, e.g. cron(0 2 * * ? *), or rate(1 day)")
        return cron
    fields = cron.split()
    if len(fields) != 5:
        raise ConfigurationError(f"schedule {cron!r} is not a cron expression",
                                 "e.g. '0 2 * * *' or cron(0 2 * * ? *)")
    minute, hour, dom, month, dow = fields
    if dow == "*":
        dow = "?"
    elif dom == "*":
        dom = "?"
    else:
        raise ConfigurationError(
            f"schedule {cron!r} sets both the day of the month and the weekday, which "
            f"EventBridge cannot express", "set one of them to *")
    return f"cron({minute} {hour} {dom} {month} {dow} *)"


def check_timezone(timezone: str | None) -> str | None:
    """``timezone`` if it is an IANA time zone name this machine knows (None passes)."""
    if timezone is None:
        return None
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(f"@schedule(timezone={timezone!r}) is not a time zone name",
                                 "use an IANA name such as 'Europe/Berlin' or "
                                 "'America/New_York'") from None
    return timezone
