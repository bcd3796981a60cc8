"""Backup and restore of the whole registry as one versioned JSON document.

Layout (one record per line, so a reader can stream it and a person can diff it):

    {"format": "model-registry-export", "format_version": 1, "exported_at": "...",
     "users": [...], "registries": [...], "registrations": [...], "versions": [...],
     "aliases": [...], "transitions": [...], "tokens": [...],
     "counts": {"users": 2, ...}}

Every concrete field of each table is written under its column name (foreign keys as ids),
so a field added later travels without touching this module. Never written: passwords and
token digests (a token's secret itself is never stored). Users are written only as far as the
registry refers to them (created_by, transition actors, token owners); on import they are
matched by username, and missing ones are created without a usable password.

Export walks each table with a server-side cursor in primary-key order and writes records one
by one: memory stays flat whatever the size. Import reads with ijson (a streaming parser),
validates the whole file first (structure, every field, counts), and only then writes
everything in one transaction; any failure leaves the database as it was.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Callable, Iterator
from typing import IO, Any

import ijson
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.color import no_style
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from models_app import audit
from models_app.models import (
    DEFAULT_REGISTRY,
    ApiToken,
    ModelAlias,
    ModelRegistration,
    ModelVersion,
    Registry,
    StageTransition,
    SyncRun,
)

FORMAT = "model-registry-export"
FORMAT_VERSION = 1
BATCH = 2000
USER_FIELDS = (
    "id",
    "username",
    "email",
    "first_name",
    "last_name",
    "is_active",
    "is_staff",
    "is_superuser",
    "date_joined",
    "last_login",
)
# Section name -> (model, columns never written).
SECTIONS: dict[str, tuple[type[models.Model], tuple[str, ...]]] = {
    "registries": (Registry, ()),
    "registrations": (ModelRegistration, ()),
    "versions": (ModelVersion, ()),
    "aliases": (ModelAlias, ()),
    "transitions": (StageTransition, ()),
    "tokens": (ApiToken, ("digest",)),
}
USER_REFERENCES = {
    "registrations": ("created_by_id", "deleted_by_id"),
    "versions": ("created_by_id", "deleted_by_id"),
    "transitions": ("actor_id",),
    "tokens": ("user_id",),
}


class ImportRefused(Exception):
    """The file cannot be imported; nothing was changed. The message says why."""


def _columns(model: type[models.Model], excluded: tuple[str, ...] = ()) -> list[models.Field]:
    return [f for f in model._meta.concrete_fields if f.name not in excluded]


def _user_columns() -> list[models.Field]:
    user_model = get_user_model()
    return [user_model._meta.get_field(name) for name in USER_FIELDS]


def _plain(value):
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


# Export ----------------------------------------------------------------------------------
def registry_export(*, out: IO[str], progress: Callable[[str, int], None] | None = None) -> dict:
    """Write the whole registry to `out`; returns the number of records per section."""
    counts: dict[str, int] = {}
    header = {"format": FORMAT, "format_version": FORMAT_VERSION}
    header["exported_at"] = timezone.now().isoformat()
    out.write("{\n")
    for key, value in header.items():
        out.write(f"{json.dumps(key)}: {json.dumps(value)},\n")
    tables = [("users", get_user_model(), _user_columns())] + [
        (section, model, _columns(model, excluded))
        for section, (model, excluded) in SECTIONS.items()
    ]
    # One snapshot for every table, so references between sections agree.
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        for section, model, fields in tables:
            names = [f.attname for f in fields]
            # The base manager: the trash is part of a backup (history points into it).
            rows = model._base_manager.order_by("pk").values_list(*names)
            if section == "users":
                rows = rows.filter(pk__in=_referenced_user_ids())
            out.write(f"{json.dumps(section)}: [")
            count = 0
            for row in rows.iterator(chunk_size=BATCH):
                record = {name: _plain(value) for name, value in zip(names, row)}
                out.write(",\n" if count else "\n")
                out.write(json.dumps(record, ensure_ascii=False, allow_nan=False))
                count += 1
                if progress and count % 10_000 == 0:
                    progress(section, count)
            out.write("\n],\n")
            counts[section] = count
    out.write(f'"counts": {json.dumps(counts)}\n}}\n')
    return counts


def _referenced_user_ids():
    ids = models.Q()
    for model, column in (
        (ModelRegistration, "created_by"),
        (ModelRegistration, "deleted_by"),
        (ModelVersion, "created_by"),
        (ModelVersion, "deleted_by"),
        (StageTransition, "actor"),
        (ApiToken, "user"),
    ):
        referenced = model._base_manager.filter(**{f"{column}__isnull": False}).values(column)
        ids |= models.Q(pk__in=referenced)
    return get_user_model().objects.filter(ids).values("pk")


# Import ----------------------------------------------------------------------------------
def _checker(field: models.Field) -> Callable[[Any], Any]:
    """A converter for one column that raises ValueError with a reason."""
    nullable = field.null

    def typed(kind, convert=None):
        def check(value):
            if value is None:
                if nullable:
                    return None
                raise ValueError("may not be null")
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise ValueError(f"expected {getattr(kind, '__name__', kind)}")
            return convert(value) if convert else value

        return check

    if isinstance(field, models.DateTimeField):

        def parse(value):
            moment = dt.datetime.fromisoformat(value)
            if moment.tzinfo is None:
                raise ValueError("a time without a time zone")
            return moment

        return typed(str, parse)
    if isinstance(field, models.BooleanField):
        return typed(bool)
    if isinstance(field, (models.IntegerField, models.AutoField, models.ForeignKey)):
        minimum = 1 if isinstance(field, (models.AutoField, models.ForeignKey)) else None
        if isinstance(field, models.PositiveIntegerField):
            minimum = 0

        def number(value):
            if minimum is not None and value < minimum:
                raise ValueError(f"must be at least {minimum}")
            if value >= 2**63:
                raise ValueError("too large")
            return value

        return typed(int, number)
    if isinstance(field, models.JSONField):
        return typed(dict)
    if isinstance(field, (models.CharField, models.TextField)):
        choices = {str(value) for value, _ in field.choices} if field.choices else None
        limit = field.max_length

        def text(value):
            if limit and len(value) > limit:
                raise ValueError(f"longer than {limit} characters")
            if choices is not None and value not in choices:
                raise ValueError(f"{value!r} is not one of {', '.join(sorted(choices))}")
            if "\x00" in value:
                raise ValueError("contains a NUL character")
            return value

        return typed(str, text)
    raise TypeError(f"no import rule for {field!r}")  # a new kind of column: add a rule


def _schema(fields: list[models.Field]) -> dict[str, Callable[[Any], Any]]:
    return {field.attname: _checker(field) for field in fields}


def _clean(section: str, index: int, record, schema) -> dict:
    where = f"{section}[{index}]"
    if not isinstance(record, dict):
        raise ImportRefused(f"{where}: expected an object.")
    if isinstance(record.get("id"), int):
        where += f" (id {record['id']})"
    if record.keys() != schema.keys():
        missing = sorted(schema.keys() - record.keys())
        extra = sorted(record.keys() - schema.keys())
        raise ImportRefused(
            f"{where}: "
            + "; ".join(
                part
                for part in (
                    f"missing {', '.join(missing)}" if missing else "",
                    f"unknown {', '.join(extra)}" if extra else "",
                )
                if part
            )
            + "."
        )
    clean = {}
    for name, check in schema.items():
        try:
            clean[name] = check(record[name])
        except (ValueError, TypeError) as exc:
            raise ImportRefused(f"{where}: {name}: {exc}.") from None
    return clean


# The C parser is fast but stops at integers beyond 64 bits (PostgreSQL's jsonb hands back a
# huge float metric as one); such a file is read again with ijson's pure-Python parser.
FAST, EXACT = ijson, ijson.get_backend("python")


def _records(stream: IO[bytes], section: str, parser=FAST) -> Iterator[Any]:
    stream.seek(0)
    return parser.items(stream, f"{section}.item", use_float=True)


def _read_header(stream: IO[bytes]) -> None:
    stream.seek(0)
    try:
        events = ijson.parse(stream)
        prefix, event, _ = next(events)
        if event != "start_map":
            raise ImportRefused("Not a model registry export: the file is not a JSON object.")
        header = {}
        for prefix, event, value in events:
            if event == "map_key" and prefix == "" and value not in ("format", "format_version"):
                break
            if prefix in ("format", "format_version"):
                header[prefix] = value
    except (ijson.JSONError, ValueError, StopIteration) as exc:
        raise ImportRefused(f"Not a JSON file: {exc or 'it is empty'}.") from None
    if header.get("format") != FORMAT:
        raise ImportRefused(
            f'Not a model registry export: it does not start with "format": "{FORMAT}".'
        )
    version = header.get("format_version")
    if version != FORMAT_VERSION:
        raise ImportRefused(
            f"Export format version {version!r} is not one this registry reads "
            f"(it reads version {FORMAT_VERSION})."
        )


def _sections() -> list[tuple[str, type[models.Model], dict]]:
    return [("users", get_user_model(), _schema(_user_columns()))] + [
        (section, model, _schema(_columns(model, excluded)))
        for section, (model, excluded) in SECTIONS.items()
    ]


def _validate(stream: IO[bytes]):
    """Read the whole file, writing nothing; returns the record counts and the parser to use."""
    try:
        return _validate_with(stream, FAST), FAST
    except ImportRefused as exc:
        if "integer overflow" not in str(exc):
            raise
    return _validate_with(stream, EXACT), EXACT


def _validate_with(stream: IO[bytes], parser) -> dict[str, int]:
    _read_header(stream)
    counts: dict[str, int] = {}
    user_ids: set[int] = set()
    try:
        for section, _model, schema in _sections():
            count = 0
            for count, record in enumerate(_records(stream, section, parser), start=1):
                clean = _clean(section, count - 1, record, schema)
                if section == "users":
                    user_ids.add(clean["id"])
                for column in USER_REFERENCES.get(section, ()):
                    if clean[column] is not None and clean[column] not in user_ids:
                        raise ImportRefused(
                            f"{section}[{count - 1}]: {column} {clean[column]} is not in users."
                        )
            counts[section] = count
        stream.seek(0)
        declared = next(parser.items(stream, "counts"), None)
    except (ijson.JSONError, ValueError) as exc:  # the pure-Python parser raises ValueErrors
        reason = " ".join(str(exc).split())
        if "premature EOF" in reason or "Incomplete" in reason:
            raise ImportRefused(f"The file ends early (truncated?): {reason}.") from None
        raise ImportRefused(f"The file is not valid JSON: {reason}.") from None
    if not isinstance(declared, dict):
        raise ImportRefused('The file has no "counts" at its end (truncated?).')
    for section, count in counts.items():
        if declared.get(section) != count:
            raise ImportRefused(
                f"{section}: the file holds {count} records but says it holds "
                f"{declared.get(section)}."
            )
    return counts


@contextlib.contextmanager
def _keeping_timestamps():
    """Store created/updated times as they are in the file, not the time of the import."""
    changed = []
    for model, _ in SECTIONS.values():
        for field in model._meta.concrete_fields:
            if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
                changed.append((field, field.auto_now, field.auto_now_add))
                field.auto_now = field.auto_now_add = False
    try:
        yield
    finally:
        for field, auto_now, auto_now_add in changed:
            field.auto_now, field.auto_now_add = auto_now, auto_now_add


def _is_empty() -> bool:
    return not (
        ModelRegistration.all_objects.exists()
        or ApiToken.objects.exists()
        or StageTransition.all_objects.exists()
        or Registry.objects.exclude(name=DEFAULT_REGISTRY).exists()
    )


def _clear() -> None:
    for model in (ApiToken, ModelAlias, StageTransition, ModelVersion, ModelRegistration, SyncRun):
        model._base_manager.all().delete()
    Registry.objects.all().delete()


def _user_map(stream: IO[bytes], schema, parser) -> tuple[dict[int, int], int]:
    """Exported user id -> id of the user with that username here (created when missing)."""
    user_model = get_user_model()
    mapping, created = {}, 0
    for index, record in enumerate(_records(stream, "users", parser)):
        clean = _clean("users", index, record, schema)
        exported_id = clean.pop("id")
        user = user_model.objects.filter(username=clean["username"]).first()
        if user is None:
            user = user_model(**clean)
            user.set_unusable_password()
            user.save()
            created += 1
        mapping[exported_id] = user.pk
    return mapping, created


def registry_import(
    *, stream: IO[bytes], replace: bool = False, progress: Callable[[str, int], None] | None = None
) -> dict:
    """Load an export into this database, all or nothing.

    Refused unless the registry is empty (no registrations, tokens or history, and no registry
    but an unused `default`), or `replace` is set, in which case everything the file holds
    replaces what is here (users are kept and matched by username). Tokens arrive without
    their digests, so they cannot authenticate: active ones are recorded as revoked at the
    time of the import. Returns the record count per section and the users created.
    """
    counts, parser = _validate(stream)
    now = timezone.now()
    try:
        with transaction.atomic(), _keeping_timestamps():
            replaced = not _is_empty()
            if replaced:
                if not replace:
                    raise ImportRefused(
                        "The registry here is not empty; import into an empty database, "
                        "or pass --replace to replace its registries, models, versions, "
                        "history and tokens with the file's."
                    )
                _clear()
            elif Registry.objects.exists():
                Registry.objects.all().delete()  # the unused default; the file has its own
            sections = _sections()
            user_ids, users_created = _user_map(stream, sections[0][2], parser)
            for section, model, schema in sections[1:]:
                batch = []
                for index, record in enumerate(_records(stream, section, parser)):
                    clean = _clean(section, index, record, schema)
                    for column in USER_REFERENCES.get(section, ()):
                        if clean[column] is not None:
                            clean[column] = user_ids[clean[column]]
                    if model is ApiToken and clean["revoked_at"] is None:
                        clean["revoked_at"] = now
                    batch.append(model(**clean))
                    if len(batch) >= BATCH:
                        model.objects.bulk_create(batch)
                        batch.clear()
                        if progress:
                            progress(section, index + 1)
                if batch:
                    model.objects.bulk_create(batch)
            connection.check_constraints()
            with connection.cursor() as cursor:
                for statement in connection.ops.sequence_reset_sql(
                    no_style(), [model for model, _ in SECTIONS.values()]
                ):
                    cursor.execute(statement)
            # One event for the whole restore: its rows are the file's, not changes made here.
            audit.record(
                action=audit.IMPORT,
                object_type="backup",
                object_repr="import_registry",
                changes={
                    section: {"before": None, "after": count} for section, count in counts.items()
                },
                comment="Restored from a backup, replacing what was here."
                if replaced
                else "Restored from a backup into an empty registry.",
            )
    except IntegrityError as exc:
        raise ImportRefused(f"The file's records do not fit together: {exc}".strip()) from None
    except ValidationError as exc:  # pragma: no cover - a model-level rule the checks missed
        raise ImportRefused("; ".join(exc.messages)) from None
    return {**counts, "users_created": users_created}
