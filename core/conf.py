"""The one reader of tunable settings, with every default in one table. Each name may be set in Django
settings or, failing that, in the environment variable of the same name (so a worker can be tuned by its
environment); read at call time, so tests can override them. Values from the environment are converted to
the default's type (booleans: 1/true/yes/on)."""
from __future__ import annotations

import os
from decimal import Decimal

from django.conf import settings

DEFAULTS = {
    # operations
    "METRICS_TOKEN": "",  # /metrics: bearer token; empty = loopback callers only
    "WORKER_HEARTBEAT_SECONDS": 10.0,  # Celery workers' heartbeat period (readiness reads it)
    # oversight
    "OVERSIGHT_APPROVAL_WORKING_DAYS": 2,  # deadline of an approval, in working days
    "OVERSIGHT_SURVEILLANCE_WINDOW_HOURS": 24,  # how far back each detector looks
    "OVERSIGHT_SURVEILLANCE_LAG_SECONDS": 30,  # trades younger than this do not move the watermark yet
    "OVERSIGHT_VWAP_DEVIATION_PCT": Decimal("20"),  # a print this far from the trailing VWAP is flagged
    "OVERSIGHT_VWAP_TRAILING_HOURS": 24,
    "OVERSIGHT_VWAP_MIN_TRADES": 3,  # trailing trades needed before a VWAP means anything
    "OVERSIGHT_CONCENTRATION_PCT": Decimal("30"),  # a non-government holder above this share is flagged
    "OVERSIGHT_CANCEL_RATIO": Decimal("10"),  # cancels per trade in the window
    "OVERSIGHT_CANCEL_MIN": 20,  # and at least this many cancels
    "OVERSIGHT_CANCEL_BASELINE_DAYS": 7,  # a spike is also ≥ 3× the participant's own baseline ratio
    "OVERSIGHT_CANCEL_SPIKE_FACTOR": Decimal("3"),
    # settlement
    "SETTLEMENT_MAX_ATTEMPTS": 8,  # failed attempts before a trade is failed and its escrow released
    "SETTLEMENT_SWEEP_AFTER_SECONDS": 10.0,  # a pending settlement's first resend
    # listings
    "LISTING_FEE_BPS": 0,  # listings' fee rate and minimum (fen), per side
    "LISTING_FEE_MIN": 0,
    # webhooks
    "WEBHOOK_TIMEOUT_SECONDS": 3.0,
    "WEBHOOK_MAX_ATTEMPTS": 8,
    "WEBHOOK_RETRY_BASE_SECONDS": 10.0,  # doubling per attempt
    "WEBHOOK_RETRY_MAX_SECONDS": 3600.0,
    "WEBHOOK_ALLOW_PRIVATE_URLS": False,  # tests and local development only
    "WEBHOOK_LEASE_SECONDS": 60.0,  # a claimed delivery is retried by the sweeper after this long
    "WEBHOOK_SECRET_OVERLAP_SECONDS": 86400,  # after a rotation the old secret signs too for this long
}
_TRUE = {"1", "true", "yes", "on"}


def get(name: str):
    default = DEFAULTS[name]
    value = getattr(settings, name, None)
    if value is None:
        value = os.environ.get(name)
    if value is None:
        return default
    if isinstance(default, bool):
        return value if isinstance(value, bool) else str(value).strip().lower() in _TRUE
    return type(default)(value)
