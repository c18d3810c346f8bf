"""Demo data: `seed_accounts` is idempotent and covers every kind and role; `seed_demo` runs it (and the
other apps' seeders when they exist); `--list-logins` prints what `make run` shows; the logins work."""
from io import StringIO

import pytest
from django.core.management import call_command

from accounts.demo import DEMO_LOGINS, DEMO_PASSWORD, ORGANIZATIONS, seed_accounts
from accounts.models import Membership, Organization, Role, User
from accounts.uscc import is_valid_uscc

pytestmark = pytest.mark.usefixtures("fast_passwords", "clear_login_throttle")


def test_demo_password_passes_the_validators():
    from django.contrib.auth.password_validation import validate_password

    validate_password(DEMO_PASSWORD, User(username="operator_admin"))


@pytest.mark.django_db
def test_seed_is_idempotent_and_complete():
    seed_accounts()
    counts = (Organization.objects.count(), User.objects.count(), Membership.objects.count())
    seed_accounts()
    assert (Organization.objects.count(), User.objects.count(), Membership.objects.count()) == counts
    assert counts[0] == len(ORGANIZATIONS)
    kinds = set(Organization.objects.values_list("kind", flat=True))
    assert kinds == {"exchange_operator", "provincial_authority", "regulator", "city_government",
                     "county_government", "enterprise"}
    assert set(Membership.objects.values_list("role", flat=True)) == set(Role.values)
    assert all(is_valid_uscc(u) for u in Organization.objects.values_list("uscc", flat=True))
    assert Organization.objects.filter(kind="enterprise").exclude(discharge_permit_no="").exists()
    assert len(set(Organization.objects.filter(kind="enterprise").values_list("region__parent", flat=True))) >= 5
    assert Organization.objects.get(kind="regulator", jurisdiction="350000")
    assert {o.jurisdiction_id for o in Organization.objects.filter(kind="regulator")} == {"350000", "350100",
                                                                                         "350200"}
    multi = User.objects.get(username="chen_consultant")
    assert multi.memberships.count() == 2
    assert User.objects.get(username="operator_admin").is_staff


@pytest.mark.django_db
def test_seed_keeps_changed_data():
    seed_accounts()
    user = User.objects.get(username="minhou_trader")
    user.set_password("A-changed-password-99")
    user.save()
    seed_accounts()
    user.refresh_from_db()
    assert user.check_password("A-changed-password-99")


@pytest.mark.django_db
def test_every_printed_login_works(anon_client):
    seed_accounts()
    for username, org_name, role in DEMO_LOGINS:
        org = Organization.objects.get(name_zh=org_name)
        r = anon_client.post("/api/v1/auth/login", {"username": username, "password": DEMO_PASSWORD,
                                                    "organization": org.pk}, format="json")
        assert r.status_code == 200, (username, r.content)
        assert r.json()["membership"]["role"] == role
        me = anon_client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {r.json()['token']}")
        assert me.status_code == 200 and me.json()["acting"]["organization"]["name_zh"] == org_name


def test_seed_demo_runs_the_seeders_in_layer_order(monkeypatch):
    import types

    from oversight.management.commands import seed_demo

    calls = []
    present = {
        "accounts.demo": types.SimpleNamespace(seed_accounts=lambda: calls.append("accounts")),
        "trading.demo": types.SimpleNamespace(seed_trading=lambda: calls.append("trading")),
        "ledger.demo": types.SimpleNamespace(seed_ledger=lambda: calls.append("ledger")),
    }

    def fake_import(name):
        if name in present:
            return present[name]
        err = ModuleNotFoundError(f"No module named {name!r}")
        err.name = name
        raise err

    monkeypatch.setattr(seed_demo, "import_module", fake_import)
    out = StringIO()
    call_command("seed_demo", stdout=out, verbosity=2)
    assert calls == ["accounts", "ledger", "trading"]
    assert "skipped marketplace.demo" in out.getvalue()


def test_seed_demo_skips_only_missing_modules(monkeypatch):
    from oversight.management.commands import seed_demo

    assert seed_demo._import_optional("accounts.no_such_demo_module") is None

    def import_with_missing_dependency(name):
        err = ModuleNotFoundError("No module named 'some_dependency'")
        err.name = "some_dependency"
        raise err

    # a demo module that exists but fails to import something else is a bug, not "not built yet"
    monkeypatch.setattr(seed_demo, "import_module", import_with_missing_dependency)
    with pytest.raises(ModuleNotFoundError):
        seed_demo._import_optional("ledger.demo")


def test_list_logins():
    out = StringIO()
    call_command("seed_demo", "--list-logins", stdout=out)
    lines = out.getvalue().splitlines()
    assert len(lines) == len(DEMO_LOGINS)
    assert all(line.startswith("    ") and not line.startswith("     ") for line in lines)
    for line, (username, org, role) in zip(lines, DEMO_LOGINS):
        assert line.split()[0] == username and org in line and line.rstrip().endswith(role)
    assert {role for _, _, role in DEMO_LOGINS} == set(Role.values)
