"""Trading: one Django app (label `trading`) in rooms, each a sub-package with its own services,
selectors, serializers, views and urls. `orderbook` and `listings` make trades and never import each
other; `settlement` settles them (lifecycle, outbox, queue routing, reports); `notifications` tells the
parties (webhooks); `common` and `models` are shared by all; `tasks` (Celery) and `demo` sit on top.
The order is checked by `.importlinter`. This package imports nothing itself, so
`trading.settlement.routing` can be imported without Django set up."""
