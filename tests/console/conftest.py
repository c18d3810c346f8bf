"""Browser tests of the web console: Debian's Chromium driven by Playwright, against a live server.

`console_site` (module scope) loads the demo (`seed_demo` with a few days of history) into the test
database, starts Django's live-server thread (with static files) on a free port, and yields its base
URL; at the end it stops the thread and flushes the database, as a transactional test case does, so
later tests start from an empty database. (pytest-django's `live_server` would flush after every test,
and the demo takes seconds to load.) Tests in these modules run with database access open, so that the
server thread and the test can both read and write.

`page_for(username=None, viewport=...)` opens a fresh browser context (signed in when a username is
given) that records console errors and page errors, refuses every request to a host other than the
server (and records it), and saves a screenshot of each page passed to `shot(page, name)` under
test-artifacts/console/. `check_clean(page)` asserts no console error and no foreign request.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "console"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}


def poll(predicate, timeout: float = 30.0, interval: float = 0.2, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


@pytest.fixture(scope="module")
def console_site(django_db_setup, django_db_blocker):
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.core.management import call_command
    from django.test.testcases import LiveServerThread

    from accounts.models import Basin, Region
    from accounts.regions import load_regions
    from ledger.posting import forget_cached_accounts
    from ledger.reference import ensure_reference_data
    from ledger.services import forget_cached

    previous = os.environ.get("DEMO_HISTORY_DAYS")
    os.environ["DEMO_HISTORY_DAYS"] = "4"
    with django_db_blocker.unblock():
        if not Region.objects.filter(code="350000").exists():
            load_regions(Region, Basin)
        ensure_reference_data()
        # an earlier module may have flushed the database after this process cached the CNY asset or accounts
        forget_cached()
        forget_cached_accounts()
        call_command("seed_demo", verbosity=0)
        server = LiveServerThread("127.0.0.1", StaticFilesHandler, port=0)
        server.daemon = True
        server.start()
        server.is_ready.wait()
        if server.error:
            raise server.error
        try:
            yield f"http://127.0.0.1:{server.port}"
        finally:
            server.terminate()
            # keep the sequences: ids are never reused in production, and per-process caches keyed by id
            # (trading.orderbook.serializers.market_instrument) rely on it; flush's default resets them
            call_command("flush", interactive=False, verbosity=0, reset_sequences=False)
            forget_cached()
            forget_cached_accounts()
            if previous is None:
                os.environ.pop("DEMO_HISTORY_DAYS", None)
            else:
                os.environ["DEMO_HISTORY_DAYS"] = previous


@pytest.fixture
def transactional_db(django_db_blocker):
    """Overrides pytest-django's fixture in this folder: database access open for the test and the server
    thread, without the flush after each test (`console_site` flushes once, at the end of the module).
    Requesting a fixture of this name is also what makes pytest-django create the test database."""
    with django_db_blocker.unblock():
        yield


@pytest.fixture(autouse=True)
def _database_open(transactional_db):
    yield


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # Playwright's sync API keeps an asyncio loop on this thread; Django's ORM calls from the test body
    # are still plain synchronous calls (the documented switch for exactly this case)
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page_for(browser, console_site):
    from accounts.demo import DEMO_PASSWORD

    contexts = []
    server_host = urlsplit(console_site).netloc

    def open_page(username: str | None = None, *, viewport=DESKTOP, organization: str | None = None):
        context = browser.new_context(viewport=viewport, locale="zh-CN")
        contexts.append(context)
        page = context.new_page()
        page.base = console_site
        page.errors, page.foreign = [], []
        page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: page.errors.append(str(e)))

        def guard(route):
            url = route.request.url
            if urlsplit(url).netloc != server_host and not url.startswith(("data:", "blob:", "about:")):
                page.foreign.append(url)
                route.abort()
            else:
                route.continue_()

        context.route("**/*", guard)
        if username:
            page.goto(console_site + "/login/")
            page.fill("#username", username)
            page.fill("#password", DEMO_PASSWORD)
            page.click("button[type=submit]")
            if organization:
                page.select_option("#organization", label=organization)
                page.fill("#password", DEMO_PASSWORD)
                page.click("button[type=submit]")
            page.wait_for_load_state()
            assert "/login/" not in page.url, page.inner_text("main")
        return page

    yield open_page
    for context in contexts:
        context.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def check_clean(page) -> None:
    assert page.errors == [], f"console errors: {page.errors}"
    assert page.foreign == [], f"requests to other hosts: {page.foreign}"


def canvas_has_content(page, selector: str) -> bool:
    """True when the chart's canvas has pixels of more than one colour (something was drawn)."""
    return page.evaluate("""(sel) => {
        const c = document.querySelector(sel + ' canvas');
        if (!c || !c.width || !c.height) return false;
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const seen = new Set();
        for (let i = 0; i < d.length; i += 4 * 97) {
            seen.add(d[i] + ',' + d[i+1] + ',' + d[i+2] + ',' + d[i+3]);
            if (seen.size > 3) return true;
        }
        return false;
    }""", selector)


@pytest.fixture
def api_client():
    """An APIClient signed in as a demo user (the API's view of what the page shows)."""
    from rest_framework.test import APIClient

    from accounts.models import Membership
    from accounts.services import token_issue

    def factory(username: str):
        membership = Membership.objects.select_related("organization").filter(user__username=username).first()
        secret, _ = token_issue(membership=membership)
        client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        return client

    return factory


@pytest.fixture
def ui():
    """The helpers above, as a fixture (test modules do not import each other or the conftest)."""
    from types import SimpleNamespace

    return SimpleNamespace(shot=shot, check_clean=check_clean, canvas_has_content=canvas_has_content, poll=poll)
