"""Logs on stdout: one JSON object a line (LINLI_LOG_FORMAT=json, the default) or plain text.

A line carries `time`, `level`, `logger`, `message` and the fields a caller passes as
`extra={"fields": {...}}` (requests: method, route template, status, duration_ms, user_id,
request_id; sweeps: duration_ms, done, failed). Nothing here logs a raw path, a query string, a
header, a phone number or a token: callers pass route templates and ids only.
"""

import json
import logging
import sys
from datetime import datetime, timezone

import msgspec

from domain.core import settings

_configured = False


_encode = msgspec.json.Encoder().encode
# Field values msgspec writes exactly as json.dumps does (other types, e.g. a datetime, which json.dumps
# here turns into str() and msgspec into RFC 3339, take the json.dumps path).
_PLAIN = (str, int, float, bool, type(None))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {"time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
                "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage(),
                **getattr(record, "fields", {})}
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        if all(type(v) in _PLAIN for v in line.values()):
            # a request's line: msgspec is ~6x cheaper than json.dumps, and this runs once per request
            return _encode(line).decode()
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{k}={v}" for k, v in getattr(record, "fields", {}).items() if v is not None)
        time = datetime.fromtimestamp(record.created).isoformat(sep=" ", timespec="seconds")
        text = f"{time} {record.levelname:7} {record.name}: {record.getMessage()}" + (f"  {fields}" if fields else "")
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def configure() -> None:
    """Send the `linli` loggers to stdout in the configured format (once per process)."""
    global _configured
    if _configured:
        return
    _configured = True
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter() if settings.get().log_format == "json" else TextFormatter())
    root = logging.getLogger("linli")
    root.addHandler(handler)
    root.setLevel(logging.INFO)  # propagates too: a root handler (pytest's caplog) sees the same records


def event(logger: logging.Logger, message: str, **fields) -> None:
    """An INFO line with `fields`. Built without logger.info's search of the stack for the caller's
    file and line (no format here prints them): this runs once per request."""
    if logger.isEnabledFor(logging.INFO):
        logger.handle(logger.makeRecord(logger.name, logging.INFO, "(unknown file)", 0, message, (), None,
                                        extra={"fields": fields}))


def uvicorn_config() -> dict:
    """Uvicorn's own lines (start, stop, errors) in the same format on stdout (`linli serve`)."""
    formatter = "JsonFormatter" if settings.get().log_format == "json" else "TextFormatter"
    return {"version": 1, "disable_existing_loggers": False,
            "formatters": {"linli": {"()": f"domain.core.logs.{formatter}"}},
            "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "linli",
                                    "stream": "ext://sys.stdout"}},
            "loggers": {"uvicorn": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
                        "uvicorn.access": {"handlers": ["stdout"], "level": "WARNING", "propagate": False}}}
