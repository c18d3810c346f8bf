"""A generated client works (issue 16 item 4): openapi-python-client (pinned in requirements.txt) generates a
client from the schema with zero warnings, and that client drives a live server: login → place an order →
cancel it → an order refused by a rule, whose 422 is parsed into the typed error model."""
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from drf_spectacular.generators import SchemaGenerator

from tests.support.rules import install

PASSWORD = "Str0ng-pass-phrase!"
CONFIG = """\
project_name_override: exchange_client
package_name_override: exchange_client
# the JSON-lines exports stream text; the generator knows no application/x-ndjson
content_type_overrides:
  application/x-ndjson: text/plain
post_hooks: []
"""


@pytest.fixture(scope="module")
def exchange_client(tmp_path_factory, django_db_blocker):
    root = tmp_path_factory.mktemp("generated")
    with django_db_blocker.unblock():
        schema = SchemaGenerator().get_schema(request=None, public=True)
    (root / "schema.json").write_text(json.dumps(schema, default=str))
    (root / "config.yaml").write_text(CONFIG)
    cli = Path(sys.executable).with_name("openapi-python-client")
    run = subprocess.run([str(cli), "generate", "--path", str(root / "schema.json"), "--meta", "none",
                          "--output-path", str(root / "exchange_client"), "--config", str(root / "config.yaml")],
                         capture_output=True, text=True, timeout=300, cwd=root)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "warning" not in output.lower(), output
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module("exchange_client")
    finally:
        sys.path.remove(str(root))
        for name in [n for n in sys.modules if n == "exchange_client" or n.startswith("exchange_client.")]:
            del sys.modules[name]


@pytest.mark.django_db(transaction=True)
def test_login_order_cancel_and_a_typed_refusal(exchange_client, live_server, make_org, make_member, make_market):
    from exchange_client import AuthenticatedClient, Client
    from exchange_client.api.auth import auth_login
    from exchange_client.api.orders import orders_cancel_create, orders_create
    from exchange_client.models import (
        ErrorCode,
        ErrorEnvelope,
        LoginInputRequest,
        OrderCreateRequest,
        OrderCreateSideEnum,
    )

    from accounts.actor import Actor
    from ledger.services import cash_deposit

    org = make_org("enterprise", "350102", discharge_permit_no="P-GEN-0001")
    member = make_member(org, "trader", username="generated-client")
    cash_deposit(actor=Actor.system(), organization=org, amount=10_000_000, bank_reference="gen-1",
                 idempotency_key="gen-dep-1")
    market = make_market(subtype="SO2", region="350121")
    install(("guided_price", {"right_types": ["emission"], "floor": 100000, "basis": "paid_use_fee"}))

    anonymous = Client(base_url=live_server.url, headers={"Accept-Language": "en"})
    login = auth_login.sync_detailed(client=anonymous, body=LoginInputRequest(username="generated-client",
                                                                               password=PASSWORD))
    assert login.status_code == 200, login.content
    client = AuthenticatedClient(base_url=live_server.url, token=login.parsed.token,
                                 headers={"Accept-Language": "en"})
    assert member.organization_id == org.id

    placed = orders_create.sync_detailed(client=client, body=OrderCreateRequest(
        market=market.id, side=OrderCreateSideEnum.BUY, price="1200.00", quantity="1"))
    assert placed.status_code == 201, placed.content
    order_id = placed.parsed.order.id
    cancelled = orders_cancel_create.sync_detailed(order_id, client=client)
    assert cancelled.status_code == 200, cancelled.content
    assert cancelled.parsed.status.value == "cancelled"

    refused = orders_create.sync_detailed(client=client, body=OrderCreateRequest(
        market=market.id, side=OrderCreateSideEnum.BUY, price="900.00", quantity="1"))
    assert refused.status_code == 422
    assert isinstance(refused.parsed, ErrorEnvelope)
    assert refused.parsed.code == ErrorCode.P_PRICE_003
    assert refused.parsed.message == "The price is below the paid-use fee of 1000.00 yuan"
