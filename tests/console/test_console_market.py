"""The public market pages and the shell of every page: Chinese by default with an English switch,
charts that render, trades that refresh by themselves, numbers that match the API, a phone width that
does not overflow, a keyboard-usable sign-in, and nothing fetched from another host."""
from __future__ import annotations

from decimal import Decimal

from marketplace.models import Market

PHONE = {"width": 390, "height": 844}


def test_markets_list_matches_the_api_and_switches_language(page_for, ui, api_client):
    page = page_for()
    page.goto(page.base + "/")
    assert page.inner_text("h1") == "行情"  # Chinese by default, whatever the browser's language
    carbon = Market.objects.get(code="CA-2026-350000")
    rows = api_client("minjiang_trader").get(f"/api/v1/markets/{carbon.id}/trades", {"limit": 1}).json()
    shown = page.inner_text("tr[data-market='CA-2026-350000'] [data-testid=last]")
    assert Decimal(shown) == Decimal(rows[0]["price"])
    ui.shot(page, "markets-zh")
    page.click("button[name=language][value=en]")
    page.wait_for_load_state()
    assert page.inner_text("h1") == "Markets"
    ui.shot(page, "markets-en")
    page.click("button[name=language][value=zh-hans]")
    assert page.inner_text("h1") == "行情"
    ui.check_clean(page)


def test_market_page_draws_candles_and_depth_and_refreshes_trades(page_for, ui):
    carbon = Market.objects.get(code="CA-2026-350000")
    page = page_for()
    page.goto(f"{page.base}/markets/{carbon.id}/")
    ui.poll(lambda: ui.canvas_has_content(page, "#candles"), message="the candlestick chart")
    ui.poll(lambda: ui.canvas_has_content(page, "#depth"), message="the depth chart")
    with page.expect_response(lambda r: r.url.endswith(f"/markets/{carbon.id}/trades/") and r.status == 200,
                              timeout=15_000):
        pass  # htmx polls the recent trades every 5 s
    assert page.locator("[data-testid=recent-trades] tbody tr").count() > 0
    ui.shot(page, "market-carbon")
    ui.check_clean(page)


def test_phone_width_and_keyboard_sign_in(page_for, ui):
    page = page_for(viewport=PHONE)
    page.goto(page.base + "/")
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"the page is {overflow}px wider than a phone"
    ui.shot(page, "markets-phone")
    page.goto(page.base + "/login/")
    # every field has a label, and the form works from the keyboard alone
    for field in ("username", "password"):
        assert page.locator(f"label[for={field}]").count() == 1
    page.focus("#username")
    page.keyboard.type("minjiang_trader")
    page.keyboard.press("Tab")
    from accounts.demo import DEMO_PASSWORD

    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/desk/")
    assert "闽江热电" in page.inner_text("[data-testid=acting-org]")
    ui.shot(page, "desk-phone")
    ui.check_clean(page)


def test_every_form_field_of_the_main_pages_has_a_label(page_for, ui):
    for username, path in (("minjiang_trader", "/desk/"), ("songxi_trader", "/county/"),
                           ("regulator_fj_approver", "/regulator/"), ("operator_admin", "/operator/")):
        page = page_for(username)
        page.goto(page.base + path)
        unlabelled = page.evaluate("""() => [...document.querySelectorAll('main input:not([type=hidden]), main select')]
            .filter(el => !(el.id && document.querySelector('label[for="' + el.id + '"]')) && !el.closest('label'))
            .map(el => el.name)""")
        assert unlabelled == [], f"{path}: fields without a label: {unlabelled}"
        ui.check_clean(page)


def test_api_docs_list_operations_offline(page_for, ui):
    page = page_for()
    page.goto(page.base + "/api/docs/")
    page.wait_for_selector(".opblock", timeout=20_000)
    # Swagger UI draws a large document lazily: only the operations near the viewport are in the DOM (with
    # ~180 operations it shows about ten at a time). So: every operation of the schema is loaded into the
    # page's state, and scrolling to the end draws the last tag's operations.
    schema = page.request.get(page.base + "/api/schema/?format=json").json()
    operations = sum(1 for item in schema["paths"].values() for method in item
                     if method in ("get", "post", "put", "patch", "delete"))
    assert operations > 150
    assert page.evaluate("ui.specSelectors.operations().size") == operations
    last_path = page.evaluate("ui.specSelectors.taggedOperations().last().get('operations').last().get('path')")
    drawn = page.locator(f'.opblock-summary-path[data-path="{last_path}"]')
    for _ in range(300):
        if drawn.count():
            break
        page.mouse.wheel(0, 1000)
        page.wait_for_timeout(50)
    assert drawn.count() >= 1, last_path
    ui.shot(page, "api-docs")
    ui.check_clean(page)


def test_csrf_is_enforced_and_sign_in_follows_the_api_rules(console_site):
    import re

    from django.test import Client

    from accounts.demo import DEMO_PASSWORD
    from accounts.models import ApiToken

    client = Client(enforce_csrf_checks=True)
    assert client.post("/login/", {"username": "minjiang_trader", "password": DEMO_PASSWORD}).status_code == 403
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', client.get("/login/").content.decode()).group(1)
    wrong = client.post("/login/", {"username": "minjiang_trader", "password": "nope", "csrfmiddlewaretoken": token})
    assert wrong.status_code == 200 and "error" in wrong.content.decode()
    before = ApiToken.objects.count()
    ok = client.post("/login/", {"username": "minjiang_trader", "password": DEMO_PASSWORD,
                                 "csrfmiddlewaretoken": token})
    assert ok.status_code == 302 and ok["Location"] == "/desk/"
    assert ApiToken.objects.count() == before + 1  # a console session is an API token
    assert client.post("/desk/orders/", {"market": "1", "side": "buy", "price": "1", "quantity": "1"}).status_code \
        == 403  # no CSRF token: refused before any order is placed
    page = client.get("/desk/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    out = client.post("/logout/", {"csrfmiddlewaretoken": token})
    assert out.status_code == 302
    assert ApiToken.objects.filter(revoked_at__isnull=False).count() >= 1
    assert client.get("/desk/").status_code == 302  # signed out: back to the login page
