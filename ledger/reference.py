"""Reference data the ledger cannot work without: the right-type code table (with each type's policy,
see `ledger.models.RightType`) and the CNY asset."""

# code, zh, en, unit, then the policy fields (those not named take the model's defaults)
RIGHT_TYPES = [
    ("emission", "排污权", "Emission rights", "t", {
        "pollutant_subtypes": True,
        "permit_required": True,
        "listing_provenance": {"reduction_measure": "the lasting reduction measure that freed the rights",
                               "discharge_permit_no": "the seller's discharge permit (排污许可证) number"},
    }),
    ("water", "水权", "Water rights", "m3", {"basin_bound": True, "notice_period_days": 5}),
    ("farmland", "耕地占补平衡指标", "Farmland balance quota", "mu", {
        "earmark_purpose": "farmland_protection",
        "issuance_evidence": ["project_id", "area_mu", "acceptance_document"],
        "listing_provenance": {"project_id": "the land consolidation/reclamation project that produced the quota",
                               "acceptance_document": "number of the acceptance (验收) document"},
    }),
    ("energy", "用能权", "Energy-use rights", "tce", {}),
    ("carbon", "碳排放权配额", "Carbon allowances", "tCO2", {}),
    ("power_generation", "发电权", "Power-generation rights", "MWh", {}),
]


def right_type_policy(code: str, field_names) -> dict:
    """The policy fields of a reference right type that `field_names` (a model's fields) has."""
    for c, _zh, _en, _unit, policy in RIGHT_TYPES:
        if c == code:
            return {k: v for k, v in policy.items() if k in field_names}
    return {}


def ensure_reference_data(RightType=None, Asset=None) -> None:
    """Create the reference rows that are missing (existing rows are left as they are). Works with a
    migration's historical models too: only the fields the given model has are written."""
    if RightType is None:
        # the current models only when called from code; migrations pass their historical ones and must
        # not import the current models when they are loaded
        from .models import Asset, RightType
    names = {f.name for f in RightType._meta.get_fields()}
    for code, zh, en, unit, _policy in RIGHT_TYPES:
        RightType.objects.get_or_create(code=code, defaults=dict(name_zh=zh, name_en=en, default_unit=unit,
                                                                 **right_type_policy(code, names)))
    Asset.objects.get_or_create(code="CNY", defaults=dict(kind="cash", unit="CNY", scale=2, name_zh="人民币",
                                                          name_en="Renminbi"))
