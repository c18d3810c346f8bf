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

`Sql` is how apps hand each other pieces of statements: text with named placeholders `%(name)s` and
the PostgreSQL type of every name. Each app builds the fragments on its own tables (its `sql` module:
`ledger.sql.journal_cte`, `accounts.sql.audit_cte`, …) and a caller composes them into one statement
by embedding them in an f-string (`Sql(f"WITH {journal}, … {audit}", journal, audit, trade="bigint")`),
which merges their types. A name used in several places is one parameter. `PreparedJoin` declares a
prepared one-row (or few-row) join that loads model instances and wires their relations.
"""
from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Mapping
from contextlib import contextmanager

from django.db import connection
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init
from django.utils import timezone

_names = itertools.count(1)
_prepared: dict[tuple[int, int], set[str]] = {}
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


class Sql:
    """A statement or a fragment of one: `text` with named placeholders `%(name)s`, and `types`, the
    PostgreSQL type of each name. `Sql(text, *parts, **types)`: `text` usually embeds `parts` (other
    `Sql`, through an f-string: `str(part)` is its text); the result knows the types of the parts'
    placeholders and of its own. One name has one type; every placeholder has a type and every type a
    placeholder. `str()` gives the text, so a fragment reads naturally inside an f-string."""

    __slots__ = ("text", "types")

    def __init__(self, text: str, *parts: Sql, **types: str):
        merged: dict[str, str] = {}
        for part in parts:
            for name, type_ in part.types.items():
                if merged.setdefault(name, type_) != type_:
                    raise ValueError(f"parameter {name!r} is {merged[name]} and {type_}")
        for name, type_ in types.items():
            if merged.setdefault(name, type_) != type_:
                raise ValueError(f"parameter {name!r} is {merged[name]} and {type_}")
        used = set(_PLACEHOLDER.findall(text))
        if used != set(merged):
            raise ValueError(f"placeholders without a type: {sorted(used - set(merged))}, "
                             f"types without a placeholder: {sorted(set(merged) - used)}")
        if "%" in _PLACEHOLDER.sub("", text):
            raise ValueError("no other % in a statement with named placeholders")
        self.text, self.types = text, merged

    def __str__(self) -> str:
        return self.text

    def names(self) -> list[str]:
        """The parameter names, in order of first appearance."""
        return list(dict.fromkeys(_PLACEHOLDER.findall(self.text)))

    def run(self, cursor, params: Mapping) -> None:
        """Run unprepared (psycopg2 fills the named placeholders): for statements off the hot paths."""
        cursor.execute(self.text, {name: params[name] for name in self.types})


@contextmanager
def driver_cursor():
    """A cursor for a hot path's few statements: the database driver's own cursor, inside Django's error
    translation (psycopg2 errors become `django.db` errors, as through `connection.cursor()`), when nothing
    observes queries; Django's `CursorWrapper` otherwise (a query log — DEBUG, `CaptureQueriesContext`,
    `assertNumQueries` — or an execute wrapper), so that every statement stays visible to them. The
    wrapper costs about 15 µs of client CPU per statement here (2026-12-06), a tenth of a posting's."""
    if connection.queries_logged or connection.execute_wrappers:
        with connection.cursor() as cur:
            yield cur
        return
    connection.validate_no_broken_transaction()
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    with connection.wrap_database_errors:
        cur = connection.connection.cursor()
        try:
            yield cur
        finally:
            cur.close()


class PreparedQuery:
    """One statement prepared once per database session: an `Sql` (executed with a mapping of its
    named parameters), or text with `%s` placeholders and the list of their PostgreSQL types (executed
    with a list)."""

    def __init__(self, sql: str | Sql, types: list[str] | None = None, *, cast_arguments: bool = False):
        if isinstance(sql, Sql):
            self.params = sql.names()
            numbers = {name: n for n, name in enumerate(self.params, 1)}
            self.body = _PLACEHOLDER.sub(lambda m: f"${numbers[m[1]]}", sql.text)
            types = [sql.types[name] for name in self.params]
        else:
            if sql.count("%s") != len(types):
                raise ValueError("one type per %s placeholder")
            if "%" in sql.replace("%s", ""):
                raise ValueError("no other % in a prepared statement")
            numbers = itertools.count(1)
            self.params = None
            self.body = re.sub(r"%s", lambda _: f"${next(numbers)}", sql)
        self.name = f"exchange_q{next(_names)}"
        self.types = types
        # cast_arguments: each argument cast to its type in the EXECUTE (an array of NULLs, or of strings
        # for a non-text element type, is not coerced to the declared array type by itself)
        arguments = [f"%s::{t}" for t in types] if cast_arguments else ["%s"] * len(types)
        self.execute_sql = f"EXECUTE {self.name}({', '.join(arguments)})" if types else f"EXECUTE {self.name}"

    def execute(self, cursor, params: list | tuple | Mapping = ()) -> None:
        """Run the statement on `cursor` (a Django cursor of the default connection); `params` a
        mapping by name for a statement built from `Sql`, else a list in placeholder order."""
        if self.params is not None:
            params = [params[name] for name in self.params]
        connection.ensure_connection()
        raw = connection.connection
        session = (id(raw), raw.get_backend_pid())  # get_backend_pid: no ConnectionInfo object per call
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


class PreparedJoin:
    """A prepared join read as model instances: the declarative form of "what `select_related` reads,
    without compiling a queryset per call".

    `tables` are (alias, model) pairs; `statement(columns)` returns the `Sql` whose select list starts
    with `columns` (every concrete column of the tables, in order) and may add `extras` after them;
    `links` are (alias, field name, alias) triples: the field of the first instance gets the second
    instance as its cached related object (for a one-to-one field the reverse side too, so a missing
    outer-joined row reads as DoesNotExist without a query). Built at first use, prepared once per
    session. `one(**params)` returns a `Loaded` for the one row, or None; `all(**params)` one per row."""

    def __init__(self, *tables: tuple[str, type], statement: Callable[[str], Sql],
                 links: tuple[tuple[str, str, str], ...] = (), extras: tuple[str, ...] = ()):
        self.tables, self.statement, self.links, self.extras = tables, statement, links, extras
        self._built = None

    def _build(self):
        if self._built is None:
            row = JoinedRow(*((model, alias) for alias, model in self.tables))
            aliases = [alias for alias, _ in self.tables]
            models = dict(self.tables)
            links = []
            for child, field_name, parent in self.links:
                field = models[child]._meta.get_field(field_name)
                links.append((aliases.index(child), field, aliases.index(parent), field.one_to_one))
            self._built = (row, PreparedQuery(self.statement(row.columns)), links)
        return self._built

    def _loaded(self, row, links, values) -> Loaded:
        objs, extra = row.load(values)
        for child, field, parent, one_to_one in links:
            if objs[child] is not None:
                field.set_cached_value(objs[child], objs[parent])
            if one_to_one and objs[parent] is not None:
                field.remote_field.set_cached_value(objs[parent], objs[child])
        return Loaded(objs, dict(zip(self.extras, extra)))

    def one(self, **params) -> Loaded | None:
        row, query, links = self._build()
        with connection.cursor() as cur:
            query.execute(cur, params)
            values = cur.fetchone()
        return None if values is None else self._loaded(row, links, values)

    def all(self, **params) -> list[Loaded]:
        row, query, links = self._build()
        with connection.cursor() as cur:
            query.execute(cur, params)
            rows = cur.fetchall()
        return [self._loaded(row, links, values) for values in rows]


class Loaded(tuple):
    """The instances of one row of a `PreparedJoin` (in table order; None for an absent outer-joined
    row), with `extra`, the trailing columns by name."""

    def __new__(cls, objs, extra):
        self = super().__new__(cls, objs)
        self.extra = extra
        return self


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


class BulkInsert:
    """Insert model instances with one prepared statement whatever their number: `INSERT … SELECT FROM
    unnest(<one array per column>) RETURNING id`, prepared once per session (what `bulk_create` does
    without compiling an INSERT of rows × columns placeholders per call and PostgreSQL planning it).

    Values are the instances' attributes as they are (the hot paths build them with plain ints, strings
    and datetimes; a JSON field is encoded with its encoder), an `auto_now_add` / `auto_now` field gets
    `now` (set on the instance too, as `pre_save` does), and the new ids are set on the instances in order: the
    rows of an INSERT … SELECT come back from RETURNING in the order the SELECT produced them, the
    property `bulk_create` relies on for its multi-row VALUES on PostgreSQL. Model `save()` is not
    called (as with `bulk_create`); the table's triggers and constraints all apply. Each app declares the
    ones of its own tables in its `sql` module."""

    def __init__(self, model: type):
        self.model = model
        self._built = None

    def _build(self):
        if self._built is None:
            from django.db import models as m

            fields = [f for f in self.model._meta.concrete_fields if not f.primary_key]
            pk = self.model._meta.pk.column
            # the arrays' element types without length or precision modifiers: an explicit cast to
            # varchar(12) would cut a longer value silently, where the INSERT into the column refuses it
            # (as `bulk_create` does)
            types = ["text" if isinstance(f, m.JSONField) else re.sub(r"\([0-9, ]+\)", "", f.db_type(connection))
                     for f in fields]
            columns = ", ".join(f'"{f.column}"' for f in fields)
            select = ", ".join(f"c{i}::jsonb" if isinstance(f, m.JSONField) else f"c{i}" for i, f in enumerate(fields))
            names = ", ".join(f"c{i}" for i in range(len(fields)))
            placeholders = ", ".join(["%s"] * len(fields))
            text = (f"INSERT INTO {self.model._meta.db_table} ({columns}) SELECT {select}"
                    f" FROM unnest({placeholders}) AS u({names}) RETURNING {pk}")
            query = PreparedQuery(text, [f"{t}[]" for t in types], cast_arguments=True)
            encoders = []
            for f in fields:
                if isinstance(f, m.JSONField):
                    encoders.append(("json", f))
                elif getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                    encoders.append(("now", f))
                else:
                    encoders.append((None, f))
            self._built = (query, encoders)
        return self._built

    def insert(self, objs: list) -> None:
        """Insert `objs` (instances of the model, unsaved) and set their ids."""
        if not objs:
            return
        query, encoders = self._build()
        now = timezone.now()
        arrays = []
        for kind, f in encoders:
            attname = f.attname
            if kind is None:
                arrays.append([getattr(o, attname) for o in objs])
            elif kind == "now":
                column = []
                for o in objs:  # as `pre_save(add=True)` does: the time of the insert, whatever was set
                    setattr(o, attname, now)
                    column.append(now)
                arrays.append(column)
            else:
                arrays.append([None if getattr(o, attname) is None
                               else json.dumps(getattr(o, attname), cls=f.encoder) for o in objs])
        with connection.cursor() as cur:
            query.execute(cur, arrays)
            ids = [row[0] for row in cur.fetchall()]
        pk = self.model._meta.pk.attname
        for o, new_id in zip(objs, ids, strict=True):
            setattr(o, pk, new_id)
            o._state.adding, o._state.db = False, connection.alias
