"""Structured logs: one JSON object per line on stderr, for the service and for uvicorn.

An access line looks like::

    {"ts": "2026-11-24T10:00:00.123Z", "level": "info", "logger": "headwater_service.access",
     "message": "GET /ping 200", "http": {"method": "GET", "path": "/ping", "status": 200,
     "bytes": 4, "duration_ms": 0.41, "client": "10.0.0.7"}}

Headers are never logged (they carry the API key), nor are bodies or database URLs.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import orjson

ACCESS_LOGGER = "headwater_service.access"


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line; an ``http`` extra becomes a nested object."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": _timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        http = getattr(record, "http", None)
        if http is not None:
            entry["http"] = http
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


def _timestamp(created: float) -> str:
    return (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
            + f".{int(created * 1000) % 1000:03d}Z")


def write_access(method: str, path: str, status: int, size: int, seconds: float,
                 client: str | None, fd: int = 2) -> None:
    """One access line, straight to stderr with one ``write`` (atomic on a pipe): the
    ``logging`` machinery costs more than the request itself on the hot paths."""
    line = orjson.dumps({
        "ts": _timestamp(time.time()), "level": "info", "logger": ACCESS_LOGGER,
        "message": f"{method} {path} {status}",
        "http": {"method": method, "path": path, "status": status, "bytes": size,
                 "duration_ms": round(seconds * 1000, 2), "client": client}})
    os.write(fd, line + b"\n")


def log_config(level: str = "info") -> dict:
    """A ``logging.config.dictConfig`` for the service process (uvicorn takes it as is)."""
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json",
                                "stream": "ext://sys.stderr"}},
        "loggers": {
            "headwater_service": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            # our middleware writes the access log (write_access); uvicorn's would repeat it
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "psycopg": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
        },
    }
