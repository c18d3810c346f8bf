"""Oversight settings with their defaults. Each may be set in Django settings (or the environment
variable of the same name); read at call time, so tests can override them."""
from __future__ import annotations

import os
from decimal import Decimal

from django.conf import settings

DEFAULTS = {
    "OVERSIGHT_APPROVAL_WORKING_DAYS": 2,  # deadline of an approval, in working days
    "OVERSIGHT_SURVEILLANCE_WINDOW_HOURS": 24,  # how far back each detector looks
    "OVERSIGHT_VWAP_DEVIATION_PCT": Decimal("20"),  # a print this far from the trailing VWAP is flagged
    "OVERSIGHT_VWAP_TRAILING_HOURS": 24,
    "OVERSIGHT_VWAP_MIN_TRADES": 3,  # trailing trades needed before a VWAP means anything
    "OVERSIGHT_CONCENTRATION_PCT": Decimal("30"),  # a non-government holder above this share is flagged
    "OVERSIGHT_CANCEL_RATIO": Decimal("10"),  # cancels per trade in the window
    "OVERSIGHT_CANCEL_MIN": 20,  # and at least this many cancels
    "OVERSIGHT_CANCEL_BASELINE_DAYS": 7,  # a spike is also ≥ 3× the participant's own baseline ratio
    "OVERSIGHT_CANCEL_SPIKE_FACTOR": Decimal("3"),
}


def get(name: str):
    default = DEFAULTS[name]
    value = getattr(settings, name, None)
    if value is None:
        value = os.environ.get(name)
    if value is None:
        return default
    return type(default)(value)
