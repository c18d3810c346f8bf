"""The Celery application. Beat schedules live next to the tasks they run (`<app>.tasks.BEAT_SCHEDULE`);
beat sends every one of them to the `beat` queue (a worker must consume it: `all_queues()`)."""
import os

from celery import Celery
from celery.signals import setup_logging, task_postrun, task_prerun, worker_ready, worker_shutdown

from trading.common.queues import BEAT_QUEUE

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("exchange")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def _logging(**kwargs):
    """Worker and beat log JSON lines through Django's LOGGING (`core.logs`), not Celery's own format."""
    from core.logs import configure

    configure()


@task_prerun.connect
def _task_started(task_id=None, **kwargs):
    from core.logs import task_started

    task_started(task_id=task_id)


@task_postrun.connect
def _task_finished(**kwargs):
    from core.logs import task_finished

    task_finished()


@app.on_after_finalize.connect
def _install_beat_schedule(sender, **kwargs):
    from importlib import import_module

    from django.conf import settings

    schedule = {}
    for label in ("ledger", "marketplace", "trading", "oversight", "compensation", "assistance", "compliance"):
        try:
            module = import_module(f"{label}.tasks")
        except ModuleNotFoundError:
            continue
        schedule.update(getattr(module, "BEAT_SCHEDULE", {}))
    schedule = {**schedule, **settings.CELERY_BEAT_SCHEDULE}
    for entry in schedule.values():  # every periodic job on the `beat` queue, off the settlement workers
        entry.setdefault("options", {}).setdefault("queue", BEAT_QUEUE)
    sender.conf.beat_schedule = schedule


@worker_ready.connect
def _start_heartbeat(sender, **kwargs):
    """Each worker says it is alive, and which queues it consumes (`core.heartbeat`, read by /readyz)."""
    from core import heartbeat

    queues = list(sender.app.amqp.queues.consume_from or sender.app.amqp.queues)
    sender._exchange_heartbeat = heartbeat.start(sender.hostname, queues)


@worker_shutdown.connect
def _stop_heartbeat(sender, **kwargs):
    from core import heartbeat

    try:
        heartbeat.forget(sender.hostname)
    except Exception:  # noqa: BLE001 - the key expires anyway
        pass
