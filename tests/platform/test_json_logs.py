"""One JSON log line format: a 4xx answered by Django logs a `django.request` line that still carries the
request's id (it used to be reset before Django logged it), and a Celery task's lines carry its task id."""
import io
import json
import logging

import pytest
from celery import shared_task
from django.test import Client

from core.logs import ContextLogFilter, JsonLogFormatter, current_request_id, current_task_id


@pytest.fixture
def json_lines():
    """Lines the project's handler setup (filter + JSON formatter) writes, captured from the root logger."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextLogFilter())
    handler.setFormatter(JsonLogFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


@pytest.mark.django_db
def test_a_4xx_logs_a_json_line_with_its_request_id(json_lines):
    r = Client().get("/api/v1/me", HTTP_X_REQUEST_ID="req-4xx-check-1")
    assert r.status_code == 401 and r["X-Request-ID"] == "req-4xx-check-1"
    lines = [line for line in json_lines() if line["logger"] == "django.request"]
    assert lines, json_lines()
    assert lines[-1]["request_id"] == "req-4xx-check-1"
    assert lines[-1]["level"] == "WARNING" and "/api/v1/me" in lines[-1]["message"]
    assert set(lines[-1]) >= {"time", "level", "logger", "message", "request_id", "task_id"}
    assert current_request_id.get() == ""  # cleared once the response was done


@shared_task(name="tests.platform.log_something")
def log_something():
    logging.getLogger("exchange.test").info("inside the task")
    return current_task_id.get()


def test_a_task_logs_its_task_id(json_lines):
    import config.celery  # noqa: F401  (connects the task signals)

    result = log_something.apply(task_id="task-id-check-7")
    assert result.get() == "task-id-check-7"
    lines = [line for line in json_lines() if line["logger"] == "exchange.test"]
    assert lines and lines[-1]["task_id"] == "task-id-check-7" and lines[-1]["message"] == "inside the task"
    assert current_task_id.get() == ""
