"""Fixtures shared by every area. Tests run against real PostgreSQL and Redis (started by `make test`).

Factories: `make_org`, `make_member`, `client_for` (an APIClient authenticated as a membership).
Regions are loaded by a data migration; transactional tests flush the database, so `_regions_present`
reloads them when a flush removed them.

Layout: one package per area (`tests/<area>/`, its own fixtures in its `conftest.py`); helpers that tests
import live in `tests/support/` (never in a `test_*` module, never imported from a conftest). The Celery
worker fixtures (`celery_env`, `celery_worker`) come from `tests/support/celery.py`, registered below.
"""
from __future__ import annotations

import itertools

import pytest
from rest_framework.test import APIClient

from accounts.models import Basin, Membership, Organization, Region, User
from accounts.regions import load_regions
from accounts.services import token_issue
from accounts.uscc import make_uscc
from ledger.posting import forget_cached_accounts
from ledger.reference import ensure_reference_data

pytest_plugins = ["tests.support.celery"]  # the settlement and system areas both use the real worker

_seq = itertools.count(1)


@pytest.fixture(autouse=True)
def _regions_present(request):
    if "django_db_setup" not in request.fixturenames and not request.node.get_closest_marker("django_db"):
        yield
        return
    request.getfixturevalue("django_db_blocker")
    marker = request.node.get_closest_marker("django_db")
    transactional = "transactional_db" in request.fixturenames or (
        marker is not None and (marker.kwargs.get("transaction") or (marker.args and marker.args[0]))
    )
    request.getfixturevalue("transactional_db" if transactional else "db")
    if not Region.objects.filter(code="350000").exists():
        load_regions(Region, Basin)
    ensure_reference_data()
    forget_cached_accounts()  # a flush (transactional tests) deletes accounts behind the per-process cache
    yield


def _uscc() -> str:
    n = next(_seq)
    return make_uscc(f"350000{n:09d}")


@pytest.fixture
def make_org():
    def factory(kind="enterprise", region="350102", *, jurisdiction=None, name=None, **extra):
        if kind == "regulator" and jurisdiction is None:
            jurisdiction = region
        return Organization.objects.create(
            kind=kind, name_zh=name or f"{kind}-{next(_seq)}", name_en=name or "", region_id=region,
            uscc=_uscc(), jurisdiction_id=jurisdiction, **extra,
        )

    return factory


@pytest.fixture
def make_member():
    def factory(org, role="trader", *, username=None, password="Str0ng-pass-phrase!"):
        user = User.objects.create_user(username=username or f"user{next(_seq)}", password=password)
        return Membership.objects.create(user=user, organization=org, role=role)

    return factory


@pytest.fixture
def client_for():
    def factory(membership, *, language="en"):
        secret, _ = token_issue(membership=membership)
        client = APIClient(HTTP_ACCEPT_LANGUAGE=language)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        client.membership = membership
        return client

    return factory


@pytest.fixture
def anon_client():
    return APIClient(HTTP_ACCEPT_LANGUAGE="en")


# --- accounts helpers (opt-in: request them by name) ------------------------------------------------

@pytest.fixture
def fast_passwords(settings):
    """A cheap password hasher: tests that create many users or log in often need not pay PBKDF2."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def clear_login_throttle():
    """The login throttle counts in the shared Redis cache; forget earlier tests' attempts (and only those,
    so that a concurrent run's other cache entries survive)."""
    from django.core.cache import cache

    def clear():
        client = cache._cache.get_client(write=True)
        keys = list(client.scan_iter(match=cache.make_key("throttle_login_*")))
        if keys:
            client.delete(*keys)

    clear()
    yield clear
    clear()


@pytest.fixture(autouse=True)
def _forget_lockouts():
    """Login lockouts and refusal-audit buckets (accounts.lockout, accounts.refusals) count per client
    address in the shared cache, and every test client is 127.0.0.1: each test starts with none."""
    from django.core.cache import cache

    def clear():
        try:
            client = cache._cache.get_client(write=True)
            keys = [k for pattern in ("lockout:*", "refusal*")
                    for k in client.scan_iter(match=cache.make_key(pattern))]
            if keys:
                client.delete(*keys)
        except Exception:  # noqa: BLE001  (no cache in a pure unit test: nothing to forget)
            pass

    clear()
    yield clear


# --- markets and money (trading tests) ----------------------------------------------------------------

@pytest.fixture
def operator_org(make_org):
    from accounts.models import Organization

    existing = Organization.objects.filter(kind="exchange_operator").first()
    return existing or make_org("exchange_operator", "350000", name="海峡资源环境交易中心")


@pytest.fixture
def make_market(make_org, operator_org):
    """A market on a fresh instrument, issued by a county government of `region`."""
    from accounts.actor import Actor
    from ledger.services import asset_create
    from marketplace.services import market_create

    def factory(*, right_type="emission", subtype="SO2", unit="t", scale=3, region="350121", lot_units=1,
                fee_bps=0, fee_min=0, price_band_bps=None, basin=None, **market_kwargs):
        issuer = make_org("county_government", region)
        n = next(_seq)
        asset = asset_create(actor=Actor.system(), code=f"{right_type}-{subtype}-{n}", right_type_id=right_type,
                             subtype=subtype, unit=unit, scale=scale, vintage=2026, origin_region_id=region,
                             issuer=issuer, basin_id=basin)
        market = market_create(actor=Actor.system(), asset=asset, code=f"m-{n}", lot_size=lot_units * 10**scale,
                               fee_bps=fee_bps, fee_min=fee_min, price_band_bps=price_band_bps, **market_kwargs)
        market.issuer = issuer
        return market

    return factory


@pytest.fixture
def fund():
    """fund(org, cny=<fen>) deposits cash; fund(org, market=m, quantity=<minor units>) issues rights."""
    from accounts.actor import Actor
    from ledger.services import cash_deposit, rights_issue

    def factory(org, *, cny: int = 0, market=None, quantity: int = 0):
        key = f"fund-{org.id}-{next(_seq)}"
        if cny:
            cash_deposit(actor=Actor.system(), organization=org, amount=cny, bank_reference=key, idempotency_key=key)
        if quantity:
            rights_issue(actor=Actor.system(), issuer=market.issuer, asset=market.asset, recipient=org,
                         amount=quantity, idempotency_key=key)

    return factory


@pytest.fixture(autouse=True)
def _forget_trading_caches():
    """ledger.services caches the CNY asset per process; a transactional test's flush re-creates it."""
    from ledger.services import forget_cached

    forget_cached()
    yield


@pytest.fixture(autouse=True)
def _close_engine_listener():
    """`Prefer: wait` keeps a listening connection per process (`trading.orderbook.waiting`); closed after
    each test, so that none is left open on the test database when it is dropped."""
    yield
    from trading.orderbook.waiting import close_listener

    close_listener()
