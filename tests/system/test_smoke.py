import pytest


@pytest.mark.django_db
def test_region_fixture_counts():
    from accounts.models import Region

    assert Region.objects.filter(level="city", code__startswith="35").count() == 9  # Fujian (Guangdong's too)
    assert Region.objects.filter(level="county", code__startswith="35").count() == 83


def test_healthz(client):
    assert client.get("/healthz").status_code == 200


@pytest.mark.django_db
def test_readyz(client):
    assert client.get("/readyz").status_code == 200
