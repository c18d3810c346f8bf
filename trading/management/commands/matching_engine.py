"""`manage.py matching_engine [--worker i --workers N]`: the matching engines of the markets whose
settlement queue worker i of N consumes (every market by default), as one process (#19,
`trading.orderbook.engine`). Run it under a supervisor that restarts it, like the Celery workers; two
processes for the same markets are safe (a market's advisory lock admits one engine; the other waits
for it to die and then takes over, reloading the book)."""
from __future__ import annotations

import os
import signal

from django.core.management.base import BaseCommand

from trading.orderbook.engine import serve
from trading.settlement.routing import queues_for_worker, settlement_queue


class Command(BaseCommand):
    help = "Run the sequenced matching engines (ORDER_MATCHING=engine or ENGINE_MARKETS)."

    def add_arguments(self, parser):
        parser.add_argument("--worker", type=int, default=0)
        parser.add_argument("--workers", type=int, default=1)
        parser.add_argument("--poll", type=float, default=1.0, help="seconds between looks without a NOTIFY")
        parser.add_argument("--gather", type=float, default=float(os.environ.get("ENGINE_GATHER", "0")),
                            help="seconds to wait after a batch that was not full, so that batches grow")

    def handle(self, *args, worker, workers, poll, gather, **options):
        queues = set(queues_for_worker(worker, workers, service_queues=False))
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
        self.stdout.write(f"matching engine {worker}/{workers}: queues {','.join(sorted(queues))}")
        serve(markets=lambda market_id: settlement_queue(market_id) in queues, poll=poll, stop=lambda: bool(stopping),
              gather=gather)
