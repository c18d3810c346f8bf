"""The Fujian division fixture and the regions/basins endpoints."""
import pytest

from accounts.models import Basin, Region

pytestmark = pytest.mark.django_db


FUJIAN = {"code__startswith": "35"}  # Guangdong's regions on the Ting–Han River come with compensation.reference
GUANGDONG = 5  # the province, Meizhou and Dabu, Chaozhou, Shantou


def test_fixture_counts():
    assert Region.objects.filter(level="province", **FUJIAN).count() == 1
    assert Region.objects.filter(level="city", **FUJIAN).count() == 9
    assert Region.objects.filter(level="county", **FUJIAN).count() == 83
    assert Region.objects.exclude(**FUJIAN).count() == GUANGDONG
    assert not Region.objects.filter(code="350527").exists()  # Kinmen is left out


def test_every_county_has_a_city_parent_zone_and_basin():
    for county in Region.objects.filter(level="county", **FUJIAN).select_related("parent"):
        assert county.parent.level == "city"
        assert county.parent.code == county.code[:4] + "00"
        assert county.zone in ("mindongbei", "minxinan")
        assert county.zone == county.parent.zone
        assert county.basins.exists()


def test_zones():
    assert set(Region.objects.filter(level="city", zone="mindongbei").values_list("code", flat=True)) == {
        "350100", "350300", "350700", "350900"}
    assert set(Region.objects.filter(level="city", zone="minxinan").values_list("code", flat=True)) == {
        "350200", "350400", "350500", "350600", "350800"}


def test_basins():
    assert Basin.objects.count() == 8
    assert set(Region.objects.get(code="350803").basins.values_list("code", flat=True)) == {"tingjiang_hanjiang"}
    assert Region.objects.get(code="350121").basins.filter(code="minjiang").exists()
    assert Basin.objects.get(code="minjiang").regions.count() > 20


def test_a_county_may_straddle_basins():
    county = Region.objects.get(code="350121")
    county.basins.add("aojiang")
    assert county.basins.count() == 2


def test_covers():
    province, fuzhou, minhou = (Region.objects.get(code=c) for c in ("350000", "350100", "350121"))
    assert province.covers("350121") and province.covers("350200") and province.covers("350000")
    assert fuzhou.covers("350121") and fuzhou.covers("350100")
    assert not fuzhou.covers("350205") and not fuzhou.covers("") and not fuzhou.covers(None)
    assert minhou.covers("350121") and not minhou.covers("350122")


@pytest.fixture
def member_client(make_org, make_member, client_for, fast_passwords):
    return client_for(make_member(make_org("enterprise"), "viewer"))


def _codes(response):
    assert response.status_code == 200, response.content
    return [r["code"] for r in response.json()["results"]]


def test_list_is_paginated_and_complete(member_client):
    body = member_client.get("/api/v1/regions?page_size=500").json()
    assert body["count"] == 93 + GUANGDONG and len(body["results"]) == 93 + GUANGDONG
    first = member_client.get("/api/v1/regions").json()
    assert len(first["results"]) == 50 and first["next"]


def test_filters(member_client):
    assert len([c for c in _codes(member_client.get("/api/v1/regions?level=city")) if c.startswith("35")]) == 9
    fuzhou = _codes(member_client.get("/api/v1/regions?parent=350100&page_size=100"))
    assert len(fuzhou) == 13 and "350121" in fuzhou
    assert all(c.startswith("3501") for c in fuzhou)
    ting = _codes(member_client.get("/api/v1/regions?basin=tingjiang_hanjiang"))
    assert {c for c in ting if c.startswith("35")} == {"350803", "350821", "350823", "350824", "350825"}
    south_cities = _codes(member_client.get("/api/v1/regions?zone=minxinan&level=city"))
    assert len(south_cities) == 5


@pytest.mark.parametrize("query, field, code", [
    ("level=village", "level", "invalid_choice"),
    ("basin=yangtze", "basin", "invalid_choice"),
    ("parent=999999", "parent", "unknown_region"),
    ("parent=35", "parent", "unknown_region"),
])
def test_bad_filters_are_400(member_client, query, field, code):
    r = member_client.get(f"/api/v1/regions?{query}")
    assert r.status_code == 400
    assert r.json()["fields"][field][0]["code"] == code


def test_retrieve(member_client):
    r = member_client.get("/api/v1/regions/350803")
    assert r.status_code == 200
    assert r.json() == {"code": "350803", "name_zh": "永定区", "name_en": "Yongding District", "level": "county",
                        "parent": "350800", "zone": "minxinan", "basins": ["tingjiang_hanjiang"]}
    assert member_client.get("/api/v1/regions/350000").json()["parent"] is None
    assert member_client.get("/api/v1/regions/999999").json()["code"] == "not_found"


def test_basins_endpoint(member_client):
    body = member_client.get("/api/v1/basins").json()
    assert body["count"] == 8
    r = member_client.get("/api/v1/basins/mulanxi")
    assert r.status_code == 200 and "350322" in r.json()["regions"]
    assert member_client.get("/api/v1/basins/nile").status_code == 404


def test_anonymous_is_refused(anon_client):
    for path in ("/api/v1/regions", "/api/v1/regions/350100", "/api/v1/basins", "/api/v1/basins/minjiang"):
        r = anon_client.get(path)
        assert r.status_code == 401 and r.json()["code"] == "not_authenticated"
