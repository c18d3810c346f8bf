"""Shared fixtures. Tests run against real PostgreSQL and Redis (started by `make test`).

Factories: `make_org`, `make_member`, `client_for` (an APIClient authenticated as a membership).
Regions are loaded by a data migration; transactional tests flush the database, so `_regions_present`
reloads them when a flush removed them.
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
