"""Every periodic job beat sends goes to the `beat` queue, which every all-in-one worker consumes (so a
long surveillance run never takes a settlement worker's turn, and nothing beat sends is left unconsumed)."""
from config.celery import app
from trading.settlement.routing import all_queues, queues_for_worker


def test_every_beat_entry_goes_to_the_beat_queue():
    app.loader.import_default_modules()
    app.finalize()
    schedule = app.conf.beat_schedule
    names = {entry["task"] for entry in schedule.values()}
    assert {"oversight.tasks.surveillance", "trading.tasks.settlement_sweep", "ledger.tasks.ledger_seal"} <= names
    assert {entry["options"]["queue"] for entry in schedule.values()} == {"beat"}


def test_workers_consume_the_beat_queue():
    assert "beat" in all_queues()
    assert "beat" in queues_for_worker(0, 3) and "beat" not in queues_for_worker(1, 3)
