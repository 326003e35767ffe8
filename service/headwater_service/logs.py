"""Structured logs: one JSON object per line on stderr, for the service and for uvicorn.

An access line looks like::

    {"ts": "2026-11-24T10:00:00.123Z", "level": "info", "logger": "headwater_service.access",
     "message": "GET /ping 200", "http": {"method": "GET", "path": "/ping", "status": 200,
     "bytes": 4, "duration_ms": 0.41, "client": "10.0.0.7"}}

Headers are never logged (they carry the API key), nor are bodies or database URLs.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line; an ``http`` extra becomes a nested object."""

    def format(self, record: logging.LogRecord) -> str:
        seconds = int(record.created)
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
                  + f".{int(record.msecs):03d}Z",
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


def log_config(level: str = "info", access: bool = True) -> dict:
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
            "headwater_service.access": {"level": "INFO" if access else "WARNING"},
            "uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            # our middleware writes the access log; uvicorn's would duplicate it
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "psycopg": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
        },
    }
