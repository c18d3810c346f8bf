"""Messages a person reads (issue 16 item 7): amounts in the asset's unit (yuan with the decimal point,
not fen), and the project's own field messages in Chinese in a zh response (gettext, locale/zh_Hans)."""
import pytest

from tests.support.rules import install


@pytest.mark.django_db
def test_refusal_shows_yuan_with_the_decimal_point(world, client_for):
    install(("guided_price", {"right_types": ["emission"], "floor": 100000, "basis": "paid_use_fee"}))
    m = world.market(subtype="SO2", region="350121")
    buyer = world.enterprise("350102")
    order = {"market": m.id, "side": "buy", "price": "900.00", "quantity": "1"}
    r = client_for(buyer.trader, language="zh-hans").post("/api/v1/orders", order, format="json")
    assert r.status_code == 422 and r.json()["code"] == "P-PRICE-003"
    assert r.json()["message"] == "价格低于有偿使用费 1000.00 元"
    r = client_for(buyer.trader, language="en").post("/api/v1/orders", order, format="json")
    assert r.json()["message"] == "The price is below the paid-use fee of 1000.00 yuan"


@pytest.mark.django_db
def test_field_messages_are_chinese_in_a_zh_response(world, client_for):
    m = world.market(subtype="SO2", region="350121")
    buyer = world.enterprise("350102")
    bad = {"market": m.id, "side": "buy", "price": "abc", "quantity": "1"}
    zh = client_for(buyer.trader, language="zh-hans").post("/api/v1/orders", bad, format="json").json()
    assert zh["fields"]["price"][0]["message"] == "请以 ASCII 数字组成的字符串输入十进制数，例如 \"12.50\"。"
    en = client_for(buyer.trader, language="en").post("/api/v1/orders", bad, format="json").json()
    assert en["fields"]["price"][0]["message"] == "Enter a decimal number as a string of ASCII digits, e.g. \"12.50\"."
    # a refusal computed in the service: the lot in the instrument's unit (1 t, not 1000 minor units)
    off_lot = {"market": m.id, "side": "buy", "price": "100.00", "quantity": "1.5"}
    r = client_for(buyer.trader, language="zh-hans").post("/api/v1/orders", off_lot, format="json").json()
    assert r["fields"]["quantity"][0]["message"] == "交易单位为 1.000 t", r
