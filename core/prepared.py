"""Server-side prepared statements for the hottest fixed-shape queries.

Django with psycopg2 sends every query as text, so PostgreSQL parses and plans it on each call; for a
wide join that planning costs more than running it (the settlement's trade lock: 0.3 ms of planning
for 0.06 ms of execution). `PreparedQuery` PREPAREs its statement once per database session and then
runs `EXECUTE name(…)`. A session is recognised by its backend pid and the driver connection object,
so a reconnect (CONN_MAX_AGE, a restarted server, a test's new connection) prepares again; the first
use in a session asks PostgreSQL which statements the session already has.

Prepared statements live in the session, not the transaction (a rollback keeps them), and PostgreSQL
re-plans them by itself after DDL. They do not survive a transaction-pooling proxy (PgBouncer in
transaction mode) between the application and PostgreSQL: use session pooling or none.
"""
from __future__ import annotations

import itertools
import re

from django.db import connection
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init

_names = itertools.count(1)
_prepared: dict[tuple[int, int], set[str]] = {}


class PreparedQuery:
    """One statement with `%s` placeholders and the PostgreSQL types of its parameters."""

    def __init__(self, sql: str, types: list[str]):
        if sql.count("%s") != len(types):
            raise ValueError("one type per %s placeholder")
        if "%" in sql.replace("%s", ""):
            raise ValueError("no other % in a prepared statement")
        numbers = itertools.count(1)
        self.body = re.sub(r"%s", lambda _: f"${next(numbers)}", sql)
        self.name = f"exchange_q{next(_names)}"
        self.types = types
        self.execute_sql = f"EXECUTE {self.name}({', '.join(['%s'] * len(types))})" if types \
            else f"EXECUTE {self.name}"

    def execute(self, cursor, params: list | tuple = ()) -> None:
        """Run the statement on `cursor` (a Django cursor of the default connection)."""
        connection.ensure_connection()
        raw = connection.connection
        session = (id(raw), raw.info.backend_pid)
        done = _prepared.get(session)
        if done is None:
            if len(_prepared) > 256:  # forget sessions of connections long closed
                _prepared.clear()
            # what this session already has (a forgotten but live session, a pid reused): one query per session
            cursor.execute("SELECT name FROM pg_prepared_statements")
            done = _prepared[session] = {name for (name,) in cursor.fetchall()}
        if self.name not in done:
            types = f"({', '.join(self.types)})" if self.types else ""
            cursor.execute(f"PREPARE {self.name}{types} AS {self.body}")
            done.add(self.name)
        cursor.execute(self.execute_sql, list(params))


def instance_from_db(model, attnames: list[str], values, alias: str = "default"):
    """What `model.from_db(alias, None, values)` returns (values in concrete-field order, converters
    already applied), without running `Model.__init__`: its per-field descriptor calls and signals cost
    more than the query that read the row. A model with pre_init / post_init receivers (none of ours
    has any) goes through `from_db`."""
    if pre_init.has_listeners(model) or post_init.has_listeners(model):
        return model.from_db(alias, None, values)
    obj = model.__new__(model)
    obj.__dict__.update(zip(attnames, values))
    state = obj._state = ModelState()
    state.adding, state.db = False, alias
    return obj


class JoinedRow:
    """Model instances from one row of a hand-written join: `columns` is the select list for the
    (model, table alias) pairs, in order; `load(row)` builds the instances (as `Model.from_db` does,
    with the fields' database converters applied) and returns them with the extra trailing columns."""

    def __init__(self, *models_aliases):
        self.parts = []
        for model, _alias in models_aliases:
            fields = list(model._meta.concrete_fields)
            converters = [(i, f, f.get_db_converters(connection)) for i, f in enumerate(fields)]
            self.parts.append((model, [f.attname for f in fields], [(i, f, c) for i, f, c in converters if c]))
        self.columns = ", ".join(f'{alias}."{f.column}"' for model, alias in models_aliases
                                 for f in model._meta.concrete_fields)

    def fetch(self, query: PreparedQuery, params: list | tuple) -> tuple[list, tuple] | None:
        """Run `query` (whose select list starts with `columns`) and load its one row; None without one."""
        with connection.cursor() as cur:
            query.execute(cur, params)
            row = cur.fetchone()
        return None if row is None else self.load(row)

    def load(self, row) -> tuple[list, tuple]:
        objs, at = [], 0
        for model, fields, converters in self.parts:
            values = row[at:at + len(fields)]
            at += len(fields)
            if values[0] is None:  # the outer-joined row is absent
                objs.append(None)
                continue
            if converters:
                values = list(values)
                for i, field, funcs in converters:
                    for func in funcs:
                        values[i] = func(values[i], field, connection)
            objs.append(instance_from_db(model, fields, values, connection.alias))
        return objs, tuple(row[at:])
