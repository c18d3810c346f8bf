"""Loads the Fujian division fixture (accounts/fujian_regions.csv, copied from the project's reference
data) into Region and Basin. Idempotent; used by a data migration."""
import csv
from pathlib import Path

FIXTURE = Path(__file__).with_name("fujian_regions.csv")

BASINS = {
    "minjiang": ("闽江", "Min River"),
    "jiulongjiang": ("九龙江", "Jiulong River"),
    "tingjiang_hanjiang": ("汀江-韩江", "Ting–Han River"),
    "jinjiang": ("晋江", "Jin River"),
    "mulanxi": ("木兰溪", "Mulan River"),
    "aojiang": ("敖江", "Ao River"),
    "mindong_rivers": ("闽东诸河（交溪/霍童溪等）", "Eastern Fujian rivers"),
    "coastal_other": ("沿海诸河及海岛", "Other coastal rivers and islands"),
}


def load_regions(Region, Basin):
    for code, (zh, en) in BASINS.items():
        Basin.objects.update_or_create(code=code, defaults={"name_zh": zh, "name_en": en})
    with FIXTURE.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:  # the file lists parents before children
        region, _ = Region.objects.update_or_create(
            code=row["code"],
            defaults={
                "name_zh": row["name_zh"],
                "name_en": row["name_en"],
                "level": row["level"],
                "parent_id": row["parent_code"] or None,
                "zone": row["zone"],
            },
        )
        if row["primary_basin"]:
            region.basins.add(row["primary_basin"])
