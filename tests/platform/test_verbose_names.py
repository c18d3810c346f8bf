"""Admin in Chinese (issue 16 item 12): every model of the project's apps has a verbose name and a plural
marked for translation (gettext_lazy), English in the source and Chinese in locale/zh_Hans, so the admin
shows 委托 / 成交 / 机构 … to a zh reader and English to an en reader."""
import re

import pytest
from django.apps import apps
from django.utils import translation

APPS = ("accounts", "ledger", "marketplace", "trading", "oversight")
CJK = re.compile(r"[\u4e00-\u9fff]")


def _models():
    return [m for app in APPS for m in apps.get_app_config(app).get_models()]


@pytest.mark.parametrize("model", _models(), ids=lambda m: m._meta.label)
def test_verbose_names_are_translated(model):
    meta = model._meta
    with translation.override("zh-hans"):
        zh = (str(meta.verbose_name), str(meta.verbose_name_plural))
    with translation.override("en"):
        en = (str(meta.verbose_name), str(meta.verbose_name_plural))
    assert all(CJK.search(name) for name in zh), (meta.label, zh)
    assert not any(CJK.search(name) for name in en), (meta.label, en)  # marked for translation, not hard-coded


@pytest.mark.django_db
def test_admin_index_in_chinese(client, make_org, make_member, fast_passwords):
    m = make_member(make_org("exchange_operator", "350000"), "admin", username="root-zh", password="Adm1n-pass-phrase!")
    m.user.is_staff = m.user.is_superuser = True
    m.user.save()
    r = client.post("/admin/login/", {"username": "root-zh", "password": "Adm1n-pass-phrase!", "next": "/admin/"})
    assert r.status_code == 302
    page = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    for name in ("机构", "委托", "成交", "市场", "审批申请", "审计事件"):
        assert name in page, name
    english = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Organizations" in english and "机构" not in english
