"""Each app owns the SQL on its own tables: no app's Python code spells another app's table name.

Another app's table is reached through that app's model (`Model._meta.db_table`) or its `sql` module
(fragments such as `ledger.sql.journal_cte`, `accounts.sql.audit_cte`). The tables are every table of
the test database named `<app label>_…` (models, many-to-many tables and tables made by migrations
alone); the code is every string literal (f-strings and docstrings included, comments not) of every
module of each app, migrations aside (they create the tables and their triggers)."""
from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.db import connection

pytestmark = pytest.mark.django_db

ROOT = Path(settings.BASE_DIR)


def _project_apps() -> dict[str, Path]:
    """label → directory of the apps that live in this repository, with tables or without (a kernel
    app owns none, so every table is another app's to it); the benchmark's own app aside: it exists to
    compare against, not to ship."""
    found = {}
    for config in apps.get_app_configs():
        path = Path(config.path)
        if ROOT in path.parents and "site-packages" not in path.parts and config.label != "bench":
            found[config.label] = path
    return found


def _tables_by_app(labels) -> dict[str, set[str]]:
    with connection.cursor() as cur:
        cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
        names = {name for (name,) in cur.fetchall()}
    for model in apps.get_models(include_auto_created=True):
        names.add(model._meta.db_table)
    # the longest label first: `<label>_` must not claim another label's tables
    ordered = sorted(labels, key=len, reverse=True)
    owned: dict[str, set[str]] = {label: set() for label in labels}
    for name in names:
        owner = next((label for label in ordered if name.startswith(label + "_")), None)
        if owner:
            owned[owner].add(name)
    return owned


def foreign_tables_in(source: str, tables: set[str]) -> list[tuple[int, str]]:
    """(line, table) for each of `tables` spelled inside a string literal of `source`."""
    if not tables:
        return []
    pattern = re.compile(r"\b(" + "|".join(sorted(map(re.escape, tables), key=len, reverse=True)) + r")\b")
    hits = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.STRING:
            hits += [(token.start[0], m[1]) for m in pattern.finditer(token.string)]
    return hits


def _modules(path: Path):
    for file in sorted(path.rglob("*.py")):
        if "migrations" not in file.relative_to(path).parts:
            yield file


def test_the_scanner_finds_a_table_name_in_strings_and_fstrings_only():
    source = ('SQL = f"""SELECT 1 FROM {x} JOIN accounts_auditevent a ON true"""\n'
              '# accounts_auditevent in a comment is prose\n'
              'OTHER = "accounts_auditevents_archive and trading_trade"\n')
    assert foreign_tables_in(source, {"accounts_auditevent", "trading_trade"}) == \
        [(1, "accounts_auditevent"), (3, "trading_trade")]


def test_no_app_spells_another_apps_table_names():
    app_paths = _project_apps()
    assert {"accounts", "ledger", "marketplace", "trading", "oversight"} <= set(app_paths) and \
        not {"auth", "admin", "rest_framework"} & set(app_paths)
    owned = _tables_by_app(app_paths)
    assert {"trading_trade", "accounts_auditevent", "ledger_posting", "marketplace_rules_generation"} <= \
        set().union(*owned.values())
    offences = []
    for label, path in app_paths.items():
        foreign = set().union(*(tables for other, tables in owned.items() if other != label))
        for file in _modules(path):
            offences += [f"{file.relative_to(ROOT)}:{line}: {table}"
                         for line, table in foreign_tables_in(file.read_text(), foreign)]
    assert not offences, "another app's table spelled literally (use its model's _meta or its sql module):\n" \
        + "\n".join(offences)
