"""The bare Celery ceiling: one task, one insert (same worker, same settings as settlement)."""
from celery import shared_task

from .models import BenchRow


@shared_task(name="bench.tasks.bare_insert", acks_late=True, ignore_result=True)
def bare_insert(note: str = "") -> None:
    BenchRow.objects.create(source="task", note=note)
