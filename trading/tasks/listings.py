"""Celery tasks of listings: closing listings whose end has passed (auction award, offer and fixed-price
expiry), every 15 s from beat. Each close is its own transaction with the listing row locked, and
decides an auction by the bids' own times, so a close that runs late (worker down at the end time)
awards what an on-time close would have; bids after the end are refused under the same lock."""
from __future__ import annotations

import logging

from celery import shared_task

from trading.listings.services import db_now, listing_close, listing_ids_due
from trading.models import ListingStatus

log = logging.getLogger(__name__)

BEAT_SCHEDULE = {
    "listings-close-due": {"task": "trading.listing_tasks.close_due_listings", "schedule": 15.0},
}


@shared_task(name="trading.listing_tasks.close_due_listings", ignore_result=True)
def close_due_listings(limit: int = 200) -> int:
    """Close every open listing whose end has passed; returns how many were closed."""
    closed = 0
    for listing_id in listing_ids_due(db_now(), limit):
        try:
            listing = listing_close(listing_id=listing_id)
        except Exception:  # noqa: BLE001 - one bad listing must not stop the others; retried next run
            log.exception("closing listing %s failed", listing_id)
            continue
        closed += listing.status != ListingStatus.OPEN
    return closed

