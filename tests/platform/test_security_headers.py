"""Headers (issue 14 item 15; issue 16 item 1): HSTS and secure cookies when served over HTTPS
(SECURE_HTTPS=1), `Cache-Control: no-store` on API responses, a Content-Security-Policy on the docs and
admin pages, and no third-party script anywhere on the docs page (Swagger UI is served from the project by
drf-spectacular-sidecar; it was loaded from a CDN at @latest without integrity)."""
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]


def _settings_with(**env) -> dict:
    clean = {**os.environ, "DEBUG": "0", **env}
    code = ("import json, config.settings as s; print(json.dumps({k: getattr(s, k, None) for k in ("
            "'SECURE_HSTS_SECONDS', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SECURE_SSL_REDIRECT', "
            "'SECURE_PROXY_SSL_HEADER', 'SECURE_HSTS_INCLUDE_SUBDOMAINS')}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    import json

    return json.loads(out.stdout)


def test_https_setting_turns_on_hsts_and_secure_cookies():
    on = _settings_with(SECURE_HTTPS="1")
    assert on["SECURE_HSTS_SECONDS"] >= 31_536_000 and on["SECURE_HSTS_INCLUDE_SUBDOMAINS"]
    assert on["SESSION_COOKIE_SECURE"] and on["CSRF_COOKIE_SECURE"] and on["SECURE_SSL_REDIRECT"]
    assert on["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    off = _settings_with(SECURE_HTTPS="0")
    assert not off["SECURE_HSTS_SECONDS"] and not off["SESSION_COOKIE_SECURE"] and not off["SECURE_SSL_REDIRECT"]


@pytest.mark.django_db
def test_hsts_header_over_https(settings):
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    r = Client().get("/healthz", secure=True)
    assert r["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/auth/me", "/api/v1/checkpoints/public-keys", "/api/v1/nothing-here",
                                  "/api/schema/"])
def test_api_responses_are_not_cached(path):
    r = Client().get(path)
    assert r["Cache-Control"] == "no-store", (path, r.status_code)


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/docs/", "/admin/login/"])
def test_docs_and_admin_pages_have_a_csp(path):
    r = Client().get(path)
    assert r.status_code == 200
    csp = r["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == "'self'" and directives["default-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"


def _urls(text: str) -> list[str]:
    attributes = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", text)
    return attributes + re.findall(r"""url\(\s*["']?([^"')]+)""", text)


@pytest.mark.django_db
def test_the_docs_page_references_no_external_host():
    client = Client()
    html = client.get("/api/docs/").content.decode()
    refs = _urls(html)
    assert refs, html
    external = [u for u in refs if urlsplit(u).netloc or u.startswith("//")]
    assert external == [], external
    assert "<script>" not in html.replace(" ", "")  # no inline script: the CSP's script-src 'self' holds
    scripts = re.findall(r"""<script[^>]*src=["']([^"']+)""", html)
    assert any("swagger-ui-bundle.js" in s for s in scripts) and any("?script" in s for s in scripts), scripts
    # the start-up script, served by the project, points at the project's own schema
    init = client.get(next(s for s in scripts if "?script" in s)).content.decode()
    assert '"/api/schema/"' in init and "validatorUrl" in init and "http" not in init.split("SwaggerUIBundle(")[1]
