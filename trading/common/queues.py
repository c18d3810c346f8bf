"""Names of the Celery queues other than the settlement shards (which `trading.settlement.routing`
computes). Plain constants, importable without Django set up (the worker's -Q argument is computed by
`python -c`)."""

DEFAULT_QUEUE = "default"  # anything not routed elsewhere
BEAT_QUEUE = "beat"  # periodic jobs from beat (sweepers, sealing, session roll-over, surveillance)
WEBHOOK_QUEUE = "webhooks"  # outgoing HTTP to participants, kept off the settlement queues
