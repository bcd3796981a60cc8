"""Hot reads by key, compiled to SQL once per database connection.

For a one-row lookup, building and compiling the Django query costs several times what running
it does (most of a get-version request). A prepared read keeps the query written in the ORM, in
one place: the first call on a connection builds it with marker arguments and compiles it; later
calls only put their arguments where the markers were, run the SQL and turn the rows into
objects with the ORM's own converters, as the queryset would have.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from django.db.models import QuerySet
from django.db.models.query import (
    ModelIterable,
    ValuesIterable,
    _get_from_db,
    get_related_populators,
)

# Markers that no constant of a query equals (checked when compiling). The number stays within
# a 32-bit column's range: Django compiles an out-of-range comparison to "no rows".
_TEXT_MARKER = "\x00prepared-{}\x00"
_NUMBER_MARKER = 1_987_654_321


def _marker(kind: type, index: int):
    if kind is str:
        return _TEXT_MARKER.format(index)
    if kind is int:
        return _NUMBER_MARKER - index
    raise ImproperlyConfigured(f"A prepared read takes str or int arguments, not {kind}.")


class _Compiled:
    def __init__(self, read: PreparedRead, connection):
        markers = [_marker(kind, index) for index, kind in enumerate(read.kinds)]
        queryset = read.build(*markers)
        query = queryset.query
        self.compiler = compiler = query.get_compiler(connection=connection)
        self.sql, params = compiler.as_sql()
        self.params = list(params)
        # Where each argument goes (it may be used more than once). A backend may wrap a value
        # (psycopg's Int4, say): matched as a subclass, and an argument is wrapped the same way.
        self.slots = []
        for index, marker in enumerate(markers):
            found = [
                (i, type(p))
                for i, p in enumerate(self.params)
                if isinstance(p, type(marker)) and p == marker
            ]
            if not found:
                raise ImproperlyConfigured(
                    f"{read.name}: argument {index} must reach the query as a plain parameter."
                )
            self.slots.append(found)
        fields = [column[0] for column in compiler.select[: compiler.col_count]]
        self.converters = compiler.get_converters(fields)
        self.db = connection.alias
        if queryset._iterable_class is ValuesIterable:
            self.names = [*query.extra_select, *query.values_select, *query.annotation_select]
            self.make = self._dicts
        elif queryset._iterable_class is ModelIterable:
            klass_info = compiler.klass_info
            select_fields = klass_info["select_fields"]
            self.start, self.end = select_fields[0], select_fields[-1] + 1
            self.attnames = [
                column[0].target.attname for column in compiler.select[self.start : self.end]
            ]
            fetch_mode = queryset._fetch_mode
            if fetch_mode.track_peers or queryset._known_related_objects:
                raise ImproperlyConfigured(f"{read.name}: not for peer fetching or known objects.")
            self.from_db = _get_from_db(klass_info["model"], fetch_mode)
            self.populators = get_related_populators(
                klass_info, compiler.select, self.db, fetch_mode
            )
            self.annotations = list(compiler.annotation_col_map.items())
            self.make = self._objects
        else:
            raise ImproperlyConfigured(f"{read.name}: a prepared read returns objects or values().")

    def _dicts(self, rows):
        names = self.names
        return [dict(zip(names, row)) for row in rows]

    def _objects(self, rows):
        found = []
        for row in rows:
            obj = self.from_db(self.db, self.attnames, row[self.start : self.end])
            for populator in self.populators:
                populator.populate(row, obj)
            for attribute, position in self.annotations:
                setattr(obj, attribute, row[position])
            found.append(obj)
        return found

    def run(self, connection, args) -> list:
        params = list(self.params)
        for slots, value in zip(self.slots, args):
            for slot, wrap in slots:
                params[slot] = wrap(value)
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            rows = cursor.fetchall()
        if self.converters:
            rows = list(self.compiler.apply_converters(rows, self.converters))
        return self.make(rows)


class PreparedRead:
    """`build(*args)` returns the queryset (objects or values()) for the arguments, whose
    types are `kinds` (str or int); each argument must reach the SQL unchanged as a parameter
    (exact lookups; once or more), and nothing else may vary with them."""

    def __init__(self, build: Callable[..., QuerySet], *kinds: type, using: str = "default"):
        self.build, self.kinds, self.using = build, kinds, using
        self.name = getattr(build, "__qualname__", repr(build))

    def __call__(self, *args) -> list[Any]:
        if len(args) != len(self.kinds):
            raise TypeError(f"{self.name} takes {len(self.kinds)} arguments.")
        for arg, kind in zip(args, self.kinds):
            if type(arg) is not kind:
                raise TypeError(f"{self.name}: {arg!r} is not {kind.__name__}.")
        connection = connections[self.using]
        # Per connection object: each thread has its own, and the SQL is its vendor's.
        compiled = connection.__dict__.setdefault("_prepared_reads", {})
        found = compiled.get(self)
        if found is None:
            found = compiled[self] = _Compiled(self, connection)
        return found.run(connection, args)

    def first(self, *args):
        rows = self(*args)
        return rows[0] if rows else None


def result_cache(model, objects: list) -> QuerySet:
    """A queryset already holding `objects`, as a prefetch leaves on its instances."""
    queryset = QuerySet(model=model)
    queryset._result_cache = objects
    queryset._prefetch_done = True
    return queryset
