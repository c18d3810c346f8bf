"""Reference data of compensation between regions, written by the data migration 0002 and again by the demo
(a test that flushes the database removes migration data):

* the Guangdong divisions on the Ting–Han River downstream of Fujian (GB/T 2260 codes): Guangdong
  province, Meizhou city and its Dabu county (where the Tingjiang enters Guangdong and becomes the
  Hanjiang), Chaozhou and Shantou. A party outside Fujian is an organization of its own with a region
  row of its own; Guangdong's organizations are demo data (compensation.demo).
* the seat of the central government (Beijing, 110000), where the Ministry of Finance — the `rewarder`
  party of an agreement with the central reward — has its region. Written by the demo and the tests
  only (`ensure_central_region`), not by the migration: the region catalogue stays Fujian's plus the
  Ting–Han River's Guangdong divisions.
* the water-quality indicators measured at assessment sections, with their units and the physically
  valid range a measurement must lie in (GB 3838-2002 parameters).
"""
from __future__ import annotations

from decimal import Decimal

REGIONS = [  # code, zh, en, level, parent
    ("440000", "广东省", "Guangdong", "province", None),
    ("441400", "梅州市", "Meizhou", "city", "440000"),
    ("441422", "大埔县", "Dabu County", "county", "441400"),
    ("445100", "潮州市", "Chaozhou", "city", "440000"),
    ("440500", "汕头市", "Shantou", "city", "440000"),
]
INDICATORS = [  # code, zh, en, unit, min, max, scale
    ("codmn", "高锰酸盐指数", "Permanganate index (CODMn)", "mg/L", "0", "100", 2),
    ("nh3n", "氨氮", "Ammonia nitrogen (NH3-N)", "mg/L", "0", "50", 3),
    ("tp", "总磷", "Total phosphorus (TP)", "mg/L", "0", "10", 3),
    ("bod5", "五日生化需氧量", "Five-day biochemical oxygen demand (BOD5)", "mg/L", "0", "200", 2),
    ("cod", "化学需氧量", "Chemical oxygen demand (COD)", "mg/L", "0", "1000", 1),
    ("wq_class", "水质类别", "Water-quality class (1 = I … 6 = worse than V)", "class", "1", "6", 0),
]


def ensure_reference(Region, Basin, Indicator) -> None:
    """Create what is missing (models passed in: the migration's historical ones or the real ones)."""
    basin = Basin.objects.filter(code="tingjiang_hanjiang").first()
    for code, zh, en, level, parent in REGIONS:
        region, _ = Region.objects.get_or_create(code=code, defaults=dict(name_zh=zh, name_en=en, level=level,
                                                                          parent_id=parent, zone="guangdong"))
        if basin is not None and code != "440000":
            region.basins.add(basin)
    for code, zh, en, unit, lo, hi, scale in INDICATORS:
        Indicator.objects.get_or_create(code=code, defaults=dict(name_zh=zh, name_en=en, unit=unit,
                                                                 min_value=Decimal(lo), max_value=Decimal(hi),
                                                                 scale=scale))


CENTRAL_REGION = ("110000", "北京市", "Beijing", "province", None)


def ensure_central_region(Region):
    code, zh, en, level, parent = CENTRAL_REGION
    region, _ = Region.objects.get_or_create(code=code, defaults=dict(name_zh=zh, name_en=en, level=level,
                                                                      parent_id=parent, zone="central"))
    return region
