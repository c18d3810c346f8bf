"""Demo organizations, users and memberships for `make run` (`python manage.py seed_demo`).

`seed_accounts()` is idempotent: organizations are found by unified social credit code, users by
username and memberships by (user, organization); whatever exists is left as it is (a changed password
stays changed). New rows are made through the services, so they appear in the audit log as system
actions. Names of enterprises are invented; their codes are valid GB 32100-2015 codes built for the demo.
"""
from __future__ import annotations

import hashlib

from django.db import transaction

from .actor import Actor
from .models import Membership, Organization, User
from .services import membership_create, organization_create, user_create
from .uscc import make_uscc

DEMO_PASSWORD = "Exchange-Demo-2026!"

_ORG_CODE_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _organization_code(body8: str) -> str:
    """GB 11714 organization code (8 characters + check character), the 9 characters inside a USCC."""
    total = sum(_ORG_CODE_ALPHABET.index(c) * w for c, w in zip(body8, (3, 7, 9, 10, 5, 8, 4, 2)))
    check = 11 - total % 11
    return body8 + {10: "X", 11: "0"}.get(check, str(check))


def demo_uscc(region: str, serial: int, *, authority: str = "9", category: str = "1") -> str:
    """authority 9/category 1: a company (market regulator); 1/1: a government body (编制部门, 机关)."""
    return make_uscc(region + _organization_code(f"MA{serial:06d}"), authority=authority, category=category)


# key: (kind, name_zh, name_en, region, jurisdiction, uscc authority+category, discharge permit?)
ORGANIZATIONS: dict[str, tuple] = {
    "operator": ("exchange_operator", "海峡资源环境交易中心", "Straits Resources and Environment Exchange",
                 "350000", None, "91", False),
    "prov_authority": ("provincial_authority", "福建省自然资源厅", "Fujian Department of Natural Resources",
                       "350000", None, "11", False),
    "prov_regulator": ("regulator", "福建省生态环境厅", "Fujian Department of Ecology and Environment",
                       "350000", "350000", "11", False),
    "fz_regulator": ("regulator", "福州市生态环境局", "Fuzhou Ecology and Environment Bureau",
                     "350100", "350100", "11", False),
    "xm_regulator": ("regulator", "厦门市生态环境局", "Xiamen Ecology and Environment Bureau",
                     "350200", "350200", "11", False),
    "fz_city": ("city_government", "福州市人民政府", "Fuzhou Municipal Government", "350100", None, "11", False),
    "minhou": ("county_government", "闽侯县人民政府", "Minhou County Government", "350121", None, "11", False),
    "fuqing": ("county_government", "福清市人民政府", "Fuqing Municipal Government", "350181", None, "11", False),
    "songxi": ("county_government", "松溪县人民政府", "Songxi County Government", "350724", None, "11", False),
    "yongding": ("county_government", "龙岩市永定区人民政府", "Yongding District Government", "350803", None,
                 "11", False),
    "zhaoan": ("county_government", "诏安县人民政府", "Zhao'an County Government", "350624", None, "11", False),
    "ent_minjiang": ("enterprise", "闽江热电有限公司", "Minjiang Thermal Power Co., Ltd.", "350121", None, "91",
                     True),
    "ent_haicang": ("enterprise", "海沧新材料股份有限公司", "Haicang New Materials Co., Ltd.", "350205", None,
                    "91", False),
    "ent_jinjiang": ("enterprise", "晋江纺织印染有限公司", "Jinjiang Textile Dyeing Co., Ltd.", "350582", None,
                     "91", False),
    "ent_longyan": ("enterprise", "龙岩闽西水泥有限公司", "Longyan Minxi Cement Co., Ltd.", "350802", None, "91",
                    False),
    "ent_ningde": ("enterprise", "宁德蕉城锂电材料有限公司", "Ningde Jiaocheng Battery Materials Co., Ltd.",
                   "350902", None, "91", False),
}

# (username, display name, organization key, role)
MEMBERS: list[tuple[str, str, str, str]] = [
    ("operator_admin", "交易中心管理员", "operator", "admin"),
    ("operator_approver", "交易中心审核员", "operator", "approver"),
    ("operator_viewer", "交易中心查询员", "operator", "viewer"),
    ("province_nr_admin", "省自然资源厅管理员", "prov_authority", "admin"),
    ("province_nr_approver", "省自然资源厅审核员", "prov_authority", "approver"),
    ("regulator_fj_admin", "省生态环境厅管理员", "prov_regulator", "admin"),
    ("regulator_fj_approver", "省生态环境厅审核员", "prov_regulator", "approver"),
    ("regulator_fz_approver", "福州市生态环境局审核员", "fz_regulator", "approver"),
    ("regulator_xm_approver", "厦门市生态环境局审核员", "xm_regulator", "approver"),
    ("fuzhou_city_admin", "福州市政府管理员", "fz_city", "admin"),
    ("minhou_admin", "闽侯县管理员", "minhou", "admin"),
    ("minhou_trader", "闽侯县交易员", "minhou", "trader"),
    ("minhou_approver", "闽侯县审核员", "minhou", "approver"),
    ("fuqing_trader", "福清市交易员", "fuqing", "trader"),
    ("songxi_trader", "松溪县交易员", "songxi", "trader"),
    ("yongding_trader", "永定区交易员", "yongding", "trader"),
    ("zhaoan_trader", "诏安县交易员", "zhaoan", "trader"),
    ("minjiang_admin", "闽江热电管理员", "ent_minjiang", "admin"),
    ("minjiang_trader", "闽江热电交易员", "ent_minjiang", "trader"),
    ("minjiang_approver", "闽江热电审核员", "ent_minjiang", "approver"),
    ("minjiang_viewer", "闽江热电查询员", "ent_minjiang", "viewer"),
    ("haicang_trader", "海沧新材料交易员", "ent_haicang", "trader"),
    ("jinjiang_trader", "晋江纺织交易员", "ent_jinjiang", "trader"),
    ("longyan_trader", "闽西水泥交易员", "ent_longyan", "trader"),
    ("ningde_trader", "蕉城锂电交易员", "ent_ningde", "trader"),
    # one person acting for two organizations: log in with "organization": <id> to choose
    ("chen_consultant", "陈顾问（两家企业）", "ent_haicang", "admin"),
    ("chen_consultant", "陈顾问（两家企业）", "ent_jinjiang", "viewer"),
]

# users who may also sign in to the Django admin (session login)
STAFF_USERNAMES = {"operator_admin"}

DEMO_LOGINS: list[tuple[str, str, str]] = [
    (username, ORGANIZATIONS[org_key][1], role) for username, _, org_key, role in MEMBERS
]


def _uscc_for(key: str) -> str:
    """A stable code per demo key (not per position), so that editing the list never duplicates rows."""
    _, _, _, region, _, authority_category, _ = ORGANIZATIONS[key]
    serial = int(hashlib.sha256(key.encode()).hexdigest(), 16) % 1_000_000
    return demo_uscc(region, serial, authority=authority_category[0], category=authority_category[1])


@transaction.atomic
def demo_password_hash() -> str | None:
    """The stored hash of the demo password (seed_accounts' first login), for the demo users the apps above
    create: one key derivation per seed, not one per user (each takes seconds). None before seed_accounts."""
    return User.objects.filter(username=MEMBERS[0][0]).values_list("password", flat=True).first()


def seed_accounts() -> dict[str, Organization]:
    """Create what is missing; returns the demo organizations by key (other apps' demo data uses them)."""
    actor = Actor.system()
    orgs: dict[str, Organization] = {}
    for key, (kind, name_zh, name_en, region, jurisdiction, _, permit) in ORGANIZATIONS.items():
        uscc = _uscc_for(key)
        org = Organization.objects.filter(uscc=uscc).first()
        if org is None:
            org = organization_create(
                actor=actor, kind=kind, name_zh=name_zh, name_en=name_en, region_id=region, uscc=uscc,
                jurisdiction_id=jurisdiction,
                # a pollutant discharge permit number is the holder's USCC plus a serial and a letter
                discharge_permit_no=f"{uscc}001P" if permit else "",
            )
        orgs[key] = org
    demo_hash = None  # one key derivation for the one published demo password, not one per user (seconds each)
    for username, display_name, org_key, role in MEMBERS:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = user_create(actor=actor, username=username, password=DEMO_PASSWORD, display_name=display_name,
                               password_hash=demo_hash)
            demo_hash = user.password
            if username in STAFF_USERNAMES:
                # the admin site is the operator's back office; Django's own permissions gate it
                User.objects.filter(pk=user.pk).update(is_staff=True, is_superuser=True)
        if not Membership.objects.filter(user=user, organization=orgs[org_key]).exists():
            membership_create(actor=actor, user=user, organization=orgs[org_key], role=role)
    return orgs
