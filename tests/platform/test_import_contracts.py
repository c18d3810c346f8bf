"""The import contracts of `.importlinter` (the apps' layer order, the trading rooms, no cycles, a DRF-free
domain error) hold for the tree, and they do fail when an import runs against them: a copy of the tree with
one forbidden import added is refused by `lint-imports`."""
from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _root_packages() -> tuple[str, ...]:
    """The packages `.importlinter` lists (so that a new app is copied without editing this test)."""

    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    return tuple(p.strip() for p in config["importlinter"]["root_packages"].split() if p.strip())


PACKAGES = _root_packages()
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=root, env=env, capture_output=True, text=True,
                          timeout=300)


def test_the_tree_keeps_every_contract():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(("module", "line", "contract"), [
    # a lower app importing a higher one
    ("ledger/models.py", "import trading.models", "App layers"),
    # anything importing the web console (the top layer)
    ("oversight/reports.py", "import console.selectors", "App layers"),
    # the kernel importing an app
    ("core/errors.py", "import accounts.models", "App layers"),
    # one trading room importing its sibling
    ("trading/orderbook/services.py", "import trading.listings.services", "Trading rooms"),
    # a room importing the tasks above it
    ("trading/settlement/outbox.py", "import trading.tasks", "Trading rooms"),
    # a cycle inside one app
    ("marketplace/models.py", "import marketplace.rules", "No import cycles"),
    # the domain error made to depend on DRF
    ("core/errors.py", "import rest_framework.exceptions", "The domain error"),
])
def test_a_forbidden_import_breaks_its_contract(tmp_path, module, line, contract):
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    with open(tmp_path / module, "a") as f:
        f.write(f"\n{line}  # forbidden\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0, result.stdout
    broken = [row for row in result.stdout.splitlines() if row.endswith("BROKEN")]
    assert broken and broken[0].startswith(contract), result.stdout
