"""`make bench`: benchmarks of the exchange against their ceilings (see bench/run.sh and bench/README.md).

As a Django app (installed only when ENABLE_BENCH_APP=1, never in production) it provides the bare
ceilings measured beside the real paths in the same deployment: a DRF endpoint that inserts one row
(`POST /api/v1/bench/rows`, same token authentication as the real API) and a Celery task that inserts
one row (`bench.tasks.bare_insert`)."""
