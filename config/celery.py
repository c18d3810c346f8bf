"""The Celery application. Beat schedules live next to the tasks they run (`<app>.tasks.BEAT_SCHEDULE`)."""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("exchange")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _install_beat_schedule(sender, **kwargs):
    from importlib import import_module

    from django.conf import settings

    schedule = {}
    for label in ("ledger", "marketplace", "trading", "oversight"):
        try:
            module = import_module(f"{label}.tasks")
        except ModuleNotFoundError:
            continue
        schedule.update(getattr(module, "BEAT_SCHEDULE", {}))
    sender.conf.beat_schedule = {**schedule, **settings.CELERY_BEAT_SCHEDULE}
