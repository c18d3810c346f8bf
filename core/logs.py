"""One JSON log format for web, worker and beat: every line is one JSON object with `time`, `level`,
`logger`, `message`, `request_id` and `task_id` (and `exc` with a traceback).

`request_id` is set by `core.middleware.RequestIdMiddleware` and kept until the response is completely
done (`request_finished`), so Django's own `django.request` warnings for 4xx/5xx, logged after the
middleware chain has returned, still carry it. `task_id` is set around every Celery task
(`task_prerun` / `task_postrun`, connected in `config.celery`). Celery's worker and beat do not install
their own logging (`setup_logging` is answered by `configure`, which applies Django's LOGGING)."""
from __future__ import annotations

import contextvars
import json
import logging
import logging.config
from datetime import UTC, datetime

current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
current_task_id: contextvars.ContextVar[str] = contextvars.ContextVar("task_id", default="")


class ContextLogFilter(logging.Filter):
    """Puts the request and task ids of the current context on every record."""

    def filter(self, record):
        if not getattr(record, "request_id", ""):
            record.request_id = current_request_id.get()
        if not getattr(record, "task_id", ""):
            record.task_id = current_task_id.get()
        return True


class JsonLogFormatter(logging.Formatter):
    def format(self, record):
        payload = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "") or current_request_id.get(),
            "task_id": getattr(record, "task_id", "") or current_task_id.get(),
        }
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False, default=str)


def request_finished(**kwargs) -> None:
    """The response is fully sent: the request's id no longer applies to what this thread logs."""
    current_request_id.set("")


def task_started(task_id=None, **kwargs) -> None:
    current_task_id.set(task_id or "")


def task_finished(**kwargs) -> None:
    current_task_id.set("")


def configure(**kwargs) -> None:
    """Answer Celery's `setup_logging`: Django's LOGGING, the same JSON lines as the web."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
