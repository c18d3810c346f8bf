"""Waiting for the matching engine (#19, `Prefer: wait`): the API answers a placement, cancel or reduce on
an engine market once the engine has taken the request, listening for the engine instead of polling.

The engine NOTIFYs its market's channel (`engine.done_channel`) in every batch, so the notification is
delivered when the batch commits. Each API process keeps one dedicated psycopg2 connection for listening
(outside Django's per-request connection handling: made on first use, reused, remade after a fork or an
error, with the parameters of Django's `default` connection). A wait:

1. LISTEN on the market's channel (first, so no batch can commit unseen between the check and the sleep);
2. check the database (`OrderRequest` rows of the order: none left = taken) — the request may already be;
3. sleep on the listener's socket until a notification, the slow poll (`settings.PREFER_WAIT_POLL`,
   0.5 s) or the deadline, whichever comes first, and check again after each; check once more at the
   deadline; then UNLISTEN.

So a lost notification (a listener that broke, an engine that did not notify) only delays the answer to
the next slow poll or the deadline; it never loses it. Without a usable listener (the connection cannot
be made, or another thread of this process is using it) the wait polls with the old back-off (2–50 ms).
"""
from __future__ import annotations

import logging
import os
import select
import threading
import time
from dataclasses import dataclass

import psycopg2
from django.conf import settings
from django.db import connections

from trading.models import Order, OrderRequest
from trading.orderbook.engine import done_channel

log = logging.getLogger(__name__)


@dataclass
class Waited:
    order: Order | None  # None: the engine had not taken the request by the deadline
    how: str  # "at_once", "notify", "poll" (slow poll or the fallback's back-off), "deadline"


class _Listener:
    """The process's listening connection (one at a time: gunicorn's sync workers serve one request)."""

    def __init__(self):
        self.conn = None
        self.key = None  # (pid, connection parameters) the connection was made for
        self.lock = threading.Lock()

    def get(self):
        params = connections["default"].get_connection_params()
        key = (os.getpid(), repr(sorted(params.items())))
        if self.conn is not None and (self.key != key or self.conn.closed):
            if self.key[0] == os.getpid():
                self._close()
            self.conn = None  # after a fork the parent's connection is the parent's: dropped, never closed here
        if self.conn is None:
            conn = _connect(params)
            conn.autocommit = True
            self.conn, self.key = conn, key
        return self.conn

    def _close(self):
        try:
            self.conn.close()
        except Exception:  # noqa: BLE001 - already broken
            pass

    def drop(self):
        if self.conn is not None and self.key and self.key[0] == os.getpid():
            self._close()
        self.conn = None


_listener = _Listener()


def _connect(params: dict):
    return psycopg2.connect(**params)


def _taken(order_id: int) -> bool:
    return not OrderRequest.objects.filter(order_id=order_id).exists()


def _order(order_id: int) -> Order | None:
    return Order.objects.select_related("market__asset").filter(pk=order_id).first()


def wait(order_id: int, timeout: float) -> Waited:
    """Wait up to `timeout` seconds for the engine to take every queued request of the order."""
    deadline = time.monotonic() + timeout
    market_id = Order.objects.filter(pk=order_id).values_list("market_id", flat=True).first()
    if market_id is None:
        return Waited(None, "at_once")
    if not _listener.lock.acquire(blocking=False):
        return _poll(order_id, deadline)
    try:
        try:
            conn = _listener.get()
            conn.poll()
            conn.notifies.clear()  # left from an earlier wait: stale
            with conn.cursor() as cur:
                cur.execute(f'LISTEN "{done_channel(market_id)}"')
        except (psycopg2.Error, OSError):
            log.warning("Prefer: wait cannot listen; polling", exc_info=True)
            _listener.drop()
            return _poll(order_id, deadline)
        try:
            return _listen(conn, order_id, deadline)
        finally:
            try:
                with conn.cursor() as cur:
                    cur.execute(f'UNLISTEN "{done_channel(market_id)}"')
            except (psycopg2.Error, OSError):
                _listener.drop()
    finally:
        _listener.lock.release()


def _listen(conn, order_id: int, deadline: float) -> Waited:
    if _taken(order_id):
        return Waited(_order(order_id), "at_once")
    slow = float(getattr(settings, "PREFER_WAIT_POLL", 0.5))
    while True:
        left = deadline - time.monotonic()
        how = "deadline"  # the check of a sleep that ran to the deadline (or of no sleep left)
        if left > 0:
            last = left <= slow
            try:
                woke = select.select([conn], [], [], min(left, slow)) != ([], [], [])
                if woke:
                    conn.poll()
                notified = bool(conn.notifies)
                conn.notifies.clear()
            except (psycopg2.Error, OSError):  # the listener broke: this wait goes on by polling
                log.warning("Prefer: wait lost its listener; polling", exc_info=True)
                _listener.drop()
                return _poll(order_id, deadline)
            how = "notify" if notified else ("deadline" if last else "poll")
        if _taken(order_id):
            return Waited(_order(order_id), how)
        if how == "deadline":
            return Waited(None, how)


def _poll(order_id: int, deadline: float) -> Waited:
    """The fallback: check with a growing pause (2 ms … 50 ms) until the deadline."""
    pause = 0.002
    first = True
    while True:
        if _taken(order_id):
            return Waited(_order(order_id), "at_once" if first else "poll")
        first = False
        left = deadline - time.monotonic()
        if left <= 0:
            return Waited(None, "deadline")
        time.sleep(min(pause, left))
        pause = min(pause * 2, 0.05)


def wait_for(order_id: int, timeout: float) -> Order | None:
    """The order once the engine has taken its queued requests, else None after `timeout` seconds."""
    return wait(order_id, timeout).order


def close_listener() -> None:
    """Close this process's listening connection (tests; it is remade on the next wait)."""
    with _listener.lock:
        _listener.drop()
