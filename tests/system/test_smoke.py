import pytest


@pytest.mark.django_db
def test_region_fixture_counts():
    from accounts.models import Region

    assert Region.objects.filter(level="city").count() == 9
    assert Region.objects.filter(level="county").count() == 83


def test_healthz(client):
    assert client.get("/healthz").status_code == 200


@pytest.mark.django_db
def test_readyz(client):
    assert client.get("/readyz").status_code == 200
