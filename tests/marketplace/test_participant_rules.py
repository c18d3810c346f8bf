"""A participant reads the rules in force for a market and its own eligibility (issue 16 item 6), instead
of learning from 422s: GET /api/v1/markets/{id}/rules and /markets/{id}/eligibility, for any member."""
import pytest

from marketplace.models import DischargePermit

from tests.support.rules import install


@pytest.mark.django_db
def test_rules_in_force_for_the_market(world, client_for):
    install(("eligibility", {"right_types": ["emission"], "buyer_kinds": ["enterprise"]}),
            ("basin", {}), ("guided_price", {"right_types": ["emission"], "floor": 100000}))
    m = world.market(subtype="SO2", region="350121")
    buyer = world.enterprise("350102")
    body = client_for(buyer.trader).get(f"/api/v1/markets/{m.id}/rules").json()
    kinds = {r["kind"]: r for r in body["rules"]}
    # the water-only basin rule does not apply to an emission market
    assert set(kinds) == {"eligibility", "guided_price"}, kinds
    assert kinds["eligibility"]["codes"] == ["Q-ELIG-001", "Q-ELIG-002", "Q-ELIG-003"]
    assert kinds["eligibility"]["params"]["buyer_kinds"] == ["enterprise"]
    assert kinds["guided_price"]["policy"]
    assert body["rulebook_version"] is not None


@pytest.mark.django_db
def test_own_eligibility_as_buyer_and_seller(world, client_for):
    install(("eligibility", {"right_types": ["emission"], "buyer_kinds": ["enterprise"]}))
    m = world.market(subtype="SO2", region="350121")
    no_permit = world.enterprise("350102", permit=False)
    client = client_for(no_permit.trader)
    body = client.get(f"/api/v1/markets/{m.id}/eligibility").json()
    assert body["organization"] == no_permit.id
    assert body["as_buyer"]["eligible"] is False
    assert [f["code"] for f in body["as_buyer"]["findings"]] == ["Q-ELIG-002"]
    assert body["as_buyer"]["findings"][0]["message"] == "The buyer has no valid discharge permit on file"
    assert body["as_seller"] == {"eligible": True, "findings": []}

    DischargePermit.objects.create(organization=no_permit, number="91350102-002P", pollutants=["SO2"])
    from marketplace.rules import invalidate
    invalidate()
    assert client.get(f"/api/v1/markets/{m.id}/eligibility").json()["as_buyer"] == {"eligible": True, "findings": []}

    county = world.make_org("county_government", "350102")
    viewer = world.make_member(county, "viewer")
    refused = client_for(viewer).get(f"/api/v1/markets/{m.id}/eligibility").json()["as_buyer"]
    assert refused["eligible"] is False and refused["findings"][0]["code"] == "Q-ELIG-001"


@pytest.mark.django_db
def test_anonymous_reads_neither(world, anon_client):
    m = world.market(subtype="SO2", region="350121")
    assert anon_client.get(f"/api/v1/markets/{m.id}/rules").status_code == 401
    assert anon_client.get(f"/api/v1/markets/{m.id}/eligibility").status_code == 401
