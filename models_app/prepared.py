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

# Two sets of markers: the query is compiled with each, and an argument's place is where its
# markers are, the same in both, exactly as given. Text markers hold what a lookup would
# escape or fold (`%`, `_`, `\\`, both cases), so a lookup that changes its value is refused
# instead of being handed raw arguments. Numbers stay within a 32-bit column's range: Django
# compiles an out-of-range comparison to "no rows".
_TEXT_MARKERS = ("\x00Prepared%_\\{}a\x00", "\x00Marker_%\\{}b\x00")
_NUMBER_MARKERS = (1_987_654_321, 1_876_543_219)


def _marker(kind: type, index: int, set_: int):
    if kind is str:
        return _TEXT_MARKERS[set_].format(index)
    if kind is int:
        return _NUMBER_MARKERS[set_] - index
    raise ImproperlyConfigured(f"A prepared read takes str or int arguments, not {kind}.")


def _same(a, b) -> bool:
    """Equal parameters; psycopg's JSON wrappers compare by the value they wrap."""
    return type(a) is type(b) and getattr(a, "obj", a) == getattr(b, "obj", b)


def _places(params: list, markers: list) -> list[list[int]]:
    return [
        [i for i, p in enumerate(params) if isinstance(p, type(marker)) and p == marker]
        for marker in markers
    ]


class _Compiled:
    def __init__(self, read: PreparedRead, connection):
        markers = [_marker(kind, index, 0) for index, kind in enumerate(read.kinds)]
        queryset = read.build(*markers)
        query = queryset.query
        self.compiler = compiler = query.get_compiler(connection=connection)
        self.sql, params = compiler.as_sql()
        self.params = list(params)
        others = [_marker(kind, index, 1) for index, kind in enumerate(read.kinds)]
        other_sql, other_params = (
            read.build(*others).query.get_compiler(connection=connection).as_sql()
        )
        other_params = list(other_params)
        places = _places(self.params, markers)
        used = {i for found in places for i in found}
        if (
            other_sql != self.sql
            or not all(places)
            or places != _places(other_params, others)
            or any(
                not _same(a, b)
                for i, (a, b) in enumerate(zip(self.params, other_params))
                if i not in used
            )
        ):
            raise ImproperlyConfigured(
                f"{read.name}: each argument must reach the query unchanged, as a parameter."
            )
        # A backend may wrap a value (psycopg's Int4, say): an argument is wrapped the same way.
        self.slots = [[(i, type(self.params[i])) for i in found] for found in places]
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
