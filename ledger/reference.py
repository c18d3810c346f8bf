"""Reference data the ledger cannot work without: the right-type code table and the CNY asset."""

RIGHT_TYPES = [
    ("emission", "排污权", "Emission rights", "t", False),
    ("water", "水权", "Water rights", "m3", True),
    ("farmland", "耕地占补平衡指标", "Farmland balance quota", "mu", False),
    ("energy", "用能权", "Energy-use rights", "tce", False),
    ("carbon", "碳排放权配额", "Carbon allowances", "tCO2", False),
    ("power_generation", "发电权", "Power-generation rights", "MWh", False),
]


def ensure_reference_data(RightType=None, Asset=None) -> None:
    if RightType is None:
        # the current models only when called from code; migrations pass their historical ones and must
        # not import the current models when they are loaded
        from .models import Asset, RightType
    for code, zh, en, unit, basin in RIGHT_TYPES:
        RightType.objects.get_or_create(code=code, defaults=dict(name_zh=zh, name_en=en, default_unit=unit,
                                                                 basin_bound=basin))
    Asset.objects.get_or_create(code="CNY", defaults=dict(kind="cash", unit="CNY", scale=2, name_zh="人民币",
                                                          name_en="Renminbi"))
