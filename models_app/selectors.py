"""The read side: lookups and one queryset per listing, each at a constant number of queries."""

from __future__ import annotations

import dataclasses
import operator
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import reduce

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.db.models import (
    Count,
    Exists,
    F,
    Func,
    IntegerField,
    Lookup,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    Window,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce, RowNumber
from django.db.models.lookups import Exact, GreaterThan

from models_app import access
from models_app.exceptions import Conflict, NotFound
from models_app.models import (
    DEFAULT_REGISTRY,
    NAME_MAX_LENGTH,
    ApiToken,
    AuditEvent,
    ModelAlias,
    ModelRegistration,
    ModelVersion,
    ModelVersionStage,
    PromotionRequest,
    RegistrationRole,
    Registry,
    RoleName,
    StageTransition,
    SyncRun,
    TransitionCause,
    Webhook,
    WebhookDelivery,
)
from models_app.names import name_key
from models_app.prepared import PreparedRead, result_cache
from models_app.validation import MAX_VERSION_NUMBER, clean_like_pattern, clean_stage

# Annotation name per stage for "the highest version number in that stage".
STAGE_ANNOTATIONS = {
    ModelVersionStage.PRODUCTION.value: "production_version",
    ModelVersionStage.STAGING.value: "staging_version",
    ModelVersionStage.ARCHIVED.value: "archived_version",
    ModelVersionStage.NONE.value: "none_version",
}
# Annotation name per stage for "how many versions are in that stage".
STAGE_COUNT_ANNOTATIONS = {
    ModelVersionStage.PRODUCTION.value: "production_count",
    ModelVersionStage.STAGING.value: "staging_count",
    ModelVersionStage.ARCHIVED.value: "archived_count",
    ModelVersionStage.NONE.value: "none_count",
}


def protected_aliases(registration: ModelRegistration) -> list[str]:
    """The aliases of this registration that only users allowed to promote may change."""
    return protected_aliases_of(registration.protected_aliases)


def protected_aliases_of(stored: list[str] | None) -> list[str]:
    """protected_aliases from a registration's stored value (None: the settings' list)."""
    if stored is None:
        return list(settings.MODEL_REGISTRY_PROTECTED_ALIASES)
    return list(stored)


def similar_registration_names(
    registry: Registry, name: str, limit: int = 5, *, user=None
) -> list[str]:
    """Existing names in `registry` that differ from `name` only by case or lookalike
    characters (for a warning before a confusing second model is created), of the models
    `user` may read."""
    if not isinstance(name, str) or not name or len(name) > 1000:
        return []
    name = unicodedata.normalize("NFKC", name)
    return list(
        access.readable_registrations(user, ModelRegistration.objects.all())
        .filter(registry=registry, name_key=name_key(name))
        .exclude(name=name)
        .order_by("name")
        .values_list("name", flat=True)[:limit]
    )


def case_clashes(registry: Registry) -> list[list[str]]:
    """Groups of names in `registry` that differ only by case."""
    keys = (
        ModelRegistration.objects.filter(registry=registry)
        .values("name_key")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .values_list("name_key", flat=True)
    )
    groups: dict[str, list[str]] = {}
    for name in ModelRegistration.objects.filter(registry=registry, name_key__in=keys).values_list(
        "name", flat=True
    ):
        groups.setdefault(name.casefold(), []).append(name)
    return [sorted(group) for group in groups.values() if len(group) > 1]


def json_keys_equal(field: str, pairs: Mapping[str, str] | None) -> Q:
    """Match every key of a JSON object field to a value, compared as text.

    Built from KeyTextTransform so a key is always one key, never a lookup path.
    """
    condition = Q()
    for key, value in (pairs or {}).items():
        condition &= Q(Exact(KeyTextTransform(key, field), str(value)))
    return condition


# Characters every JSON writer keeps as they are inside a string (no escape, no \u form).
_JSON_VERBATIM = re.compile(r"[A-Za-z0-9 _.:,;=+@#$%^*()\[\]{}?!~|'-]+")


def tags_equal(field: str, pairs: Mapping[str, str] | None) -> Q:
    """Match every key of a tag map (a JSON object of strings) to a value.

    On PostgreSQL as JSON containment (`@>`), which the GIN index on the field serves; the same
    rows as comparing each key as text, since tag values are always strings.
    """
    if not pairs:
        return Q()
    if connection.vendor == "postgresql":
        return Q(**{f"{field}__contains": {key: str(value) for key, value in pairs.items()}})
    # SQLite has no index for it and reads every row: a plain value appears verbatim in the
    # JSON text of a row that holds it, so a substring test spares parsing nearly every row.
    verbatim = Q()
    for value in map(str, pairs.values()):
        if _JSON_VERBATIM.fullmatch(value):
            found = Func(F(field), Value(value), function="INSTR", output_field=IntegerField())
            verbatim &= Q(GreaterThan(found, 0))
    return verbatim & json_keys_equal(field, pairs)


_REGISTRY_NAMED = PreparedRead(lambda name: Registry.objects.filter(name=name).order_by()[:1], str)


def registry_get(name: str | None = None) -> Registry:
    name = name or DEFAULT_REGISTRY
    if "\x00" in name:
        raise NotFound("Registry names never contain NUL.")
    found = _REGISTRY_NAMED.first(name)
    if found is None:
        raise NotFound(f"Registry '{name}' does not exist.")
    return found


def registry_list(*, with_counts: bool = False) -> QuerySet[Registry]:
    """Registries by name; `with_counts` adds `model_count` (its registrations)."""
    registries = Registry.objects.order_by("name")
    if with_counts:
        registries = registries.annotate(
            model_count=Count("registrations", filter=Q(registrations__deleted_at__isnull=True))
        )
    return registries


def sync_run_list(*, registry: Registry) -> QuerySet[SyncRun]:
    return registry.sync_runs.select_related("registry")


def sync_run_get(*, registry: Registry, run_id: int | None) -> SyncRun:
    run = sync_run_list(registry=registry).filter(pk=run_id).first() if run_id else None
    if run is None:
        raise NotFound("No such sync.")
    return run


def sync_run_latest(registries: Iterable[Registry]) -> dict[int, SyncRun]:
    """The newest sync of each registry, by registry id, in one query."""
    latest: dict[int, SyncRun] = {}
    for run in SyncRun.objects.filter(registry__in=list(registries)).order_by(
        "registry_id", "-created_at", "-id"
    ):
        latest.setdefault(run.registry_id, run)
    return latest


_REGISTRATION_AT = PreparedRead(
    lambda registry, name: (
        ModelRegistration.objects.select_related("registry")
        .filter(registry__name=registry, name=name)
        .order_by()[:1]
    ),
    str,
    str,
)
_REGISTRATION_IN = PreparedRead(
    lambda registry, name: (
        ModelRegistration.objects.select_related("registry")
        .filter(registry_id=registry, name=name)
        .order_by()[:1]
    ),
    int,
    str,
)


def registration_get(*, registry: Registry | str | None, name: str) -> ModelRegistration:
    """One query by registry and model name; the error says which of the two is missing."""
    if "\x00" in name or (isinstance(registry, str) and "\x00" in registry):
        raise NotFound("Names never contain NUL.")
    if isinstance(registry, Registry):
        found = _REGISTRATION_IN.first(registry.pk, name)
    else:
        found = _REGISTRATION_AT.first(registry or DEFAULT_REGISTRY, name)
    if found is None:
        registry = registry if isinstance(registry, Registry) else registry_get(registry)
        raise NotFound(f"Model '{name}' does not exist in registry '{registry.name}'.")
    return found


# `user` on a selector limits it to what that user may read (None: everything, for operators).
def registration_count(*, user=None) -> int:
    return access.readable_registrations(user, ModelRegistration.objects.all()).count()


def registration_names(*, user=None, containing: str = "", limit: int = 500) -> QuerySet:
    """Distinct model names (those containing `containing`), for suggestions while typing one."""
    names = access.readable_registrations(user, ModelRegistration.objects.order_by("name"))
    if containing:
        names = names.filter(name__icontains=containing)
    return names.values_list("name", flat=True).distinct()[:limit]


def registration_addresses() -> Iterator[tuple[str, str]]:
    """(registry name, model name) of every registration, streamed in bounded memory."""
    return (
        ModelRegistration.objects.values_list("registry__name", "name")
        .order_by()
        .iterator(chunk_size=5000)
    )


_VERSION_OF = PreparedRead(
    lambda registration, number: (
        ModelVersion.objects.select_related("registration__registry")
        .filter(registration_id=registration, version=number)
        .order_by()[:1]
    ),
    int,
    int,
)


def version_get(*, registration: ModelRegistration, version: int) -> ModelVersion:
    number = _number(version)
    found = None if number is None else _VERSION_OF.first(registration.pk, number)
    if found is None:
        raise NotFound(f"Model '{registration.name}' has no version {version}.")
    return found


def version_latest(*, registration: ModelRegistration, stage: str | None = None) -> ModelVersion:
    """The highest-numbered version, in `stage` if given (MLflow's "latest")."""
    versions = ModelVersion.objects.select_related("registration__registry").filter(
        registration=registration
    )
    if stage:
        versions = versions.filter(stage=clean_stage(stage))
    found = versions.order_by("-version").first()
    if found is None:
        where = f" in stage {clean_stage(stage)}" if stage else ""
        raise NotFound(f"Model '{registration.name}' has no version{where}.")
    return found


_VERSION_BY_ALIAS = PreparedRead(
    lambda registration, alias: (
        ModelVersion.objects.select_related("registration__registry")
        .filter(registration_id=registration, aliases__name=alias)
        .order_by()[:1]
    ),
    int,
    str,
)


def version_by_alias(*, registration: ModelRegistration, alias: str) -> ModelVersion:
    if "\x00" in alias:
        raise NotFound("Aliases never contain NUL.")
    found = _VERSION_BY_ALIAS.first(registration.pk, alias)
    if found is None:
        raise NotFound(f"Model '{registration.name}' has no alias '{alias}'.")
    return found


# Single reads by address: the version with its model, registry and creator in one prepared
# query, plus one for its aliases; only a miss pays for finding out which part of the address
# is wrong.
def _versions_at(registry: str, name: str) -> QuerySet[ModelVersion]:
    return (
        ModelVersion.objects.select_related("registration__registry", "created_by")
        .filter(registration__registry__name=registry, registration__name=name)
        .order_by()
    )


_VERSION_AT = PreparedRead(
    lambda registry, name, number: _versions_at(registry, name).filter(version=number)[:1],
    str,
    str,
    int,
)
_LATEST_AT = PreparedRead(
    lambda registry, name: _versions_at(registry, name).order_by("-version")[:1], str, str
)
_LATEST_IN_STAGE_AT = PreparedRead(
    lambda registry, name, stage: (
        _versions_at(registry, name).filter(stage=stage).order_by("-version")[:1]
    ),
    str,
    str,
    str,
)
_ALIAS_AT = PreparedRead(
    lambda registry, name, alias: _versions_at(registry, name).filter(aliases__name=alias)[:1],
    str,
    str,
    str,
)
_ALIASES_OF = PreparedRead(
    lambda version: ModelAlias.objects.filter(version_id=version).order_by("name"), int
)
_ALIAS_VERSION = ModelAlias._meta.get_field("version")


def _with_aliases(version: ModelVersion | None) -> ModelVersion | None:
    """The version with its aliases read as prefetch_related("aliases") would leave them."""
    if version is not None:
        aliases = _ALIASES_OF(version.pk)
        for alias in aliases:
            _ALIAS_VERSION.set_cached_value(alias, version)
        version._prefetched_objects_cache = {"aliases": result_cache(ModelAlias, aliases)}
    return version


def _registry_name(registry: Registry | str | None) -> str:
    return registry.name if isinstance(registry, Registry) else (registry or DEFAULT_REGISTRY)


def _first(queryset):
    """The one row of a lookup by a unique key, without compiling or sorting by an ordering."""
    return next(iter(queryset.order_by()[:1]), None)


def _number(version) -> int | None:
    """`version` as a number a row can hold; None for anything else, which matches nothing."""
    if isinstance(version, str) and version.isdecimal() and len(version) <= 10:
        version = int(version)
    if type(version) is int and 1 <= version <= MAX_VERSION_NUMBER:
        return version
    return None


def _has_nul(*texts) -> bool:
    return any(isinstance(text, str) and "\x00" in text for text in texts)


def version_find(*, registry: Registry | str | None, name: str, version: int) -> ModelVersion:
    """The version at registry/name/version, ready to serialize (same errors as version_get)."""
    found, number = None, _number(version)
    if number is not None and not _has_nul(registry, name):
        found = _with_aliases(_VERSION_AT.first(_registry_name(registry), name, number))
    if found is None:
        return version_get(
            registration=registration_get(registry=registry, name=name), version=version
        )
    return found


def version_latest_find(
    *, registry: Registry | str | None, name: str, stage: str | None = None
) -> ModelVersion:
    """As version_latest, addressed by names, ready to serialize."""
    found = None
    if not _has_nul(registry, name):
        try:
            where = (_registry_name(registry), name)
            found = (
                _LATEST_IN_STAGE_AT.first(*where, clean_stage(stage))
                if stage
                else _LATEST_AT.first(*where)
            )
        except ValidationError:
            found = None  # the slow path says whether the model or the stage is wrong
    if found is None:
        return version_latest(
            registration=registration_get(registry=registry, name=name), stage=stage
        )
    return _with_aliases(found)


def version_alias_find(*, registry: Registry | str | None, name: str, alias: str) -> ModelVersion:
    """As version_by_alias, addressed by names, ready to serialize."""
    found = None
    if not _has_nul(registry, name, alias):
        found = _with_aliases(_ALIAS_AT.first(_registry_name(registry), name, alias))
    if found is None:
        return version_by_alias(
            registration=registration_get(registry=registry, name=name), alias=alias
        )
    return found


def _highest_version(stage: str | None = None) -> Subquery:
    versions = ModelVersion.objects.filter(registration=OuterRef("pk"))
    if stage:
        versions = versions.filter(stage=stage)
    return Subquery(
        versions.order_by("-version").values("version")[:1], output_field=IntegerField()
    )


def _version_count(stage: str | None = None) -> Coalesce:
    versions = ModelVersion.objects.filter(registration=OuterRef("pk"))
    if stage:
        versions = versions.filter(stage=stage)
    counted = versions.order_by().values("registration").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


# What registration_list adds to each registration about its versions.
SUMMARY_FIELDS = (
    "latest_version",
    "version_count",
    *STAGE_ANNOTATIONS.values(),
    *STAGE_COUNT_ANNOTATIONS.values(),
)
_STAGE_OF = {
    **{annotation: stage for stage, annotation in STAGE_ANNOTATIONS.items()},
    **{annotation: stage for stage, annotation in STAGE_COUNT_ANNOTATIONS.items()},
}


def summary_annotations(*fields: str) -> dict:
    """Annotations for the SUMMARY_FIELDS named, for a queryset of registrations."""
    annotations = {}
    for field in fields:
        stage = _STAGE_OF.get(field)
        counts = field == "version_count" or field in STAGE_COUNT_ANNOTATIONS.values()
        annotations[field] = _version_count(stage) if counts else _highest_version(stage)
    return annotations


def summarise(registrations: list) -> list:
    """Set on each registration (or plain row with its "id") what summary_annotations would,
    from one query for any number of them, rather than ten subqueries a row."""
    plain = bool(registrations) and isinstance(registrations[0], dict)
    ids = [r["id"] if plain else r.pk for r in registrations]
    found: dict[int, dict[str, tuple[int, int]]] = {pk: {} for pk in ids}
    if found:
        # The registrations are live rows, so only the versions' own trash mark is left to
        # check (the live manager's join to every registration would scan them all).
        grouped = (
            ModelVersion.all_objects.filter(registration__in=ids, deleted_at__isnull=True)
            .order_by()
            .values_list("registration_id", "stage")
            .annotate(highest=Max("version"), n=Count("*"))
        )
        for registration_id, stage, highest, n in grouped:
            found[registration_id][stage] = (highest, n)
    for pk, registration in zip(ids, registrations):
        stages = found[pk]
        summary = {
            "latest_version": max((h for h, _ in stages.values()), default=None),
            "version_count": sum(n for _, n in stages.values()),
            **{a: stages.get(stage, (None, 0))[0] for stage, a in STAGE_ANNOTATIONS.items()},
            **{a: stages.get(stage, (None, 0))[1] for stage, a in STAGE_COUNT_ANNOTATIONS.items()},
        }
        if plain:
            registration.update(summary)
        else:
            registration.__dict__.update(summary)
    return registrations


# The order of every listing of registrations unless the user picks another.
REGISTRATION_ORDER = ("registry__name", "name")


def registration_listing() -> QuerySet[ModelRegistration]:
    """Registrations for a list page, in REGISTRATION_ORDER, to filter and then page through
    with registration_pages (which summarises each page); an ordering by a summary field
    annotates it (RegistrationOrdering)."""
    return ModelRegistration.objects.select_related("registry").order_by(*REGISTRATION_ORDER)


def registration_list(
    *,
    registry: Registry | None = None,
    name: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> QuerySet[ModelRegistration]:
    """Registrations with their latest version, the highest version in each stage and how
    many versions each stage holds (subqueries on the registration/stage index)."""
    registrations = ModelRegistration.objects.select_related("registry").annotate(
        **summary_annotations(*SUMMARY_FIELDS)
    )
    if registry is not None:
        registrations = registrations.filter(registry=registry)
    if name:
        registrations = registrations.filter(name=name)
    return registrations.filter(tags_equal("tags", tags)).order_by(*REGISTRATION_ORDER)


class RegistrationPages:
    """A listing of registrations in REGISTRATION_ORDER, for a Paginator to count and slice.

    Ordering by registry name then name across the join makes the database sort every
    registration to find one page. Registries are few: one query counts the listing per
    registry (in registry name order), which tells which registries a page spans and where
    in each; the page is then read from each one's (registry, name) index, between the names
    found at its ends. Two queries, as a plain count and slice take, with the same rows.
    """

    def __init__(self, queryset: QuerySet[ModelRegistration], *, by_registry: bool = True):
        self.queryset = queryset
        self.by_registry = by_registry
        self._counts: list[tuple[int, int]] | None = None

    def _per_registry(self) -> list[tuple[int, int]]:
        """(registry id, rows of the listing in it), registries by name, empty ones left out."""
        if self._counts is None:
            rows = (
                self.queryset.filter(registry=OuterRef("pk"))
                .order_by()
                .values("registry")
                .annotate(n=Count("*"))  # not a column: the count reads the index alone
                .values("n")
            )
            counted = registry_list().annotate(n=Subquery(rows, output_field=IntegerField()))
            self._counts = [(pk, n) for pk, n in counted.values_list("pk", "n") if n]
        return self._counts

    def count(self) -> int:
        if not self.by_registry:
            return self.queryset.count()
        return sum(n for _, n in self._per_registry())

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, key: slice) -> list[ModelRegistration]:
        if not isinstance(key, slice) or key.step is not None:
            raise TypeError("A page of registrations is read by a slice.")
        if not self.by_registry:
            return summarise(list(self.queryset[key]))
        low, high = key.start or 0, key.stop
        parts, whole, start = [], [], 0
        for registry_id, n in self._per_registry():
            # This registry's rows are [start, start + n) of the listing; the page takes
            # [first, last) of them.
            first = max(low - start, 0)
            last = min(n if high is None else high - start, n)
            start += n
            if first >= last:
                continue
            if first == 0 and last == n:
                whole.append(registry_id)
                continue
            # The names at both ends of the page's part, read from the index; with both ends
            # bound the planner expects a page of rows, not a third of the table.
            names = self.queryset.filter(registry_id=registry_id).order_by("name").values("name")
            lowest, highest = Subquery(names[first : first + 1]), Subquery(names[last - 1 : last])
            parts.append(Q(registry_id=registry_id, name__gte=lowest, name__lte=highest))
        if whole:
            parts.append(Q(registry_id__in=whole))
        if not parts:
            return []
        condition = parts[0]
        for part in parts[1:]:
            condition |= part
        return summarise(list(self.queryset.filter(condition).order_by(*REGISTRATION_ORDER)))


def registration_pages(queryset: QuerySet[ModelRegistration]) -> RegistrationPages:
    """What a Paginator pages through for a listing from registration_listing: each page
    summarised; in the default order (REGISTRATION_ORDER) read registry by registry, in any
    other as the database sorts it."""
    query = queryset.query
    ordering = tuple(query.order_by) or (
        tuple(ModelRegistration._meta.ordering) if query.default_ordering else ()
    )
    by_registry = ordering == REGISTRATION_ORDER and not (
        query.is_sliced or query.combinator or query.distinct
    )
    return RegistrationPages(queryset, by_registry=by_registry)


def search_registrations(text: str) -> QuerySet[ModelRegistration]:
    """Registrations whose name, description, or a tag key or value contains `text` (any
    case), with registration_list's annotations, most recently updated first. Callers bound
    `text` (clean_filter_text); LIKE with escaped wildcards runs in time linear in the rows."""
    return (
        registration_list()
        .filter(Q(name__icontains=text) | Q(description__icontains=text) | Q(tags__icontains=text))
        .order_by("-updated_at", "name")
    )


def search_versions(text: str) -> QuerySet[ModelVersion]:
    """Versions whose experiment run id or pipeline run id is `text` or starts with it, or
    that an alias named `text` (a leading @ ignored) points at; newest first."""
    alias = text.removeprefix("@")
    return (
        version_list()
        .filter(
            Q(experiment_run_id__istartswith=text)
            | Q(pipeline_run_id__istartswith=text)
            | Q(Exists(ModelAlias.objects.filter(version=OuterRef("pk"), name=alias)))
        )
        .order_by("-created_at", "-id")
    )


_SUMMARY_AT = PreparedRead(
    lambda registry, name: (
        registration_list()
        .select_related("created_by")
        .filter(registry__name=registry, name=name)
        .order_by()[:1]
    ),
    str,
    str,
)


def registration_summary(*, registry: Registry | str | None, name: str) -> ModelRegistration:
    """One registration with the annotations of registration_list, in one query."""
    found = None
    if not _has_nul(registry, name):
        found = _SUMMARY_AT.first(_registry_name(registry), name)
    if found is None:
        registration_get(registry=registry, name=name)  # raises the NotFound that fits
        raise NotFound(f"Model '{name}' does not exist.")  # deleted in between
    return found


def version_list(
    *,
    registration: ModelRegistration | None = None,
    registry: Registry | None = None,
    stage: str | None = None,
    metadata: Mapping[str, str] | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    order_by_date: str | None = None,
    numbers: Iterable[int] | None = None,
) -> QuerySet[ModelVersion]:
    """Versions, newest first. `numbers` picks versions of `registration`, oldest first."""
    versions = ModelVersion.objects.select_related(
        "registration__registry", "created_by"
    ).prefetch_related(Prefetch("aliases", queryset=ModelAlias.objects.order_by("name")))
    if registration is not None:
        versions = versions.filter(registration=registration)
    if registry is not None:
        versions = versions.filter(registration__registry=registry)
    if stage:
        versions = versions.filter(stage=clean_stage(stage))
    versions = versions.filter(json_keys_equal("metadata", metadata))
    if created_after:
        versions = versions.filter(created_at__gt=created_after)
    if created_before:
        versions = versions.filter(created_at__lt=created_before)
    if numbers is not None:
        return versions.filter(version__in=list(numbers)).order_by("version")
    if order_by_date == "asc":
        return versions.order_by("created_at", "version")
    if order_by_date == "desc":
        return versions.order_by("-created_at", "-version")
    if registration is not None:
        return versions.order_by("-version")
    # Across registrations, newest first: served by the created_at index, no sort of the table.
    return versions.order_by("-created_at", "-id")


def version_numbers(*, registration: ModelRegistration, limit: int = 500) -> list[tuple[int, str]]:
    """(number, stage) of a registration's versions, newest first, for pickers."""
    return list(registration.versions.order_by("-version").values_list("version", "stage")[:limit])


def version_stage_counts(*, user=None) -> Counter:
    """How many versions are in each stage, across every registry."""
    return Counter(
        dict(
            access.readable_versions(user, ModelVersion.objects.all())
            .values_list("stage")
            .annotate(n=Count("pk"))
            .values_list("stage", "n")
        )
    )


def production_recent(*, user=None) -> QuerySet[ModelVersion]:
    """Versions in Production, most recently promoted first (the stage/updated index)."""
    return access.readable_versions(
        user, version_list(stage=ModelVersionStage.PRODUCTION)
    ).order_by("-updated_at", "registration__name")


def metric_history(*, registration: ModelRegistration) -> list[tuple[int, str, dict]]:
    """(version, stage, metrics) of every version, oldest first: the metric chart's input."""
    return list(
        registration.versions.order_by("version").values_list("version", "stage", "metrics")
    )


def transition_list(
    *,
    registration: ModelRegistration | None = None,
    version: ModelVersion | None = None,
    version_number: int | None = None,
) -> QuerySet[StageTransition]:
    """Stage changes, newest first. `version_number` also finds those of a deleted version."""
    transitions = StageTransition.objects.select_related("registration__registry", "actor")
    if registration is not None:
        transitions = transitions.filter(registration=registration)
    if version is not None:
        transitions = transitions.filter(version=version)
    if version_number is not None:
        transitions = transitions.filter(version_number=version_number)
    return transitions.order_by("-created_at", "-id")


def role_list(*, registration: ModelRegistration) -> QuerySet[RegistrationRole]:
    """The roles granted on a registration: groups first, then users, by name."""
    return RegistrationRole.objects.filter(registration=registration).select_related(
        "user", "group"
    )


def alias_list(*, registration: ModelRegistration | None) -> QuerySet[ModelAlias]:
    aliases = ModelAlias.objects.select_related("version").order_by("name")
    return aliases.filter(registration=registration) if registration else aliases.none()


# The trash ---------------------------------------------------------------------------
@dataclass(frozen=True)
class TrashItem:
    """A trashed registration (kind "model", with the versions that would come back with
    it) or a trashed version of a live registration (kind "version")."""

    kind: str
    id: int
    registry: str
    name: str
    version: int | None
    stage: str
    version_count: int | None
    deleted_at: datetime
    deleted_by: str
    expires_at: datetime


TRASH_KINDS = ("model", "version")


def trash_days() -> int:
    return int(settings.MODEL_REGISTRY_TRASH_DAYS)


def trash_expiry(deleted_at: datetime) -> datetime:
    """When an item trashed at `deleted_at` may be purged by `trash purge --expired`."""
    return deleted_at + timedelta(days=trash_days())


def _deleted_by(row) -> str:
    return row.deleted_by.get_username() if row.deleted_by_id else "system"


def trash_list(
    *, registry: Registry | None = None, kind: str | None = None, user=None
) -> list[TrashItem]:
    """Everything in the trash (of the models `user` may read; None: all), most recently
    deleted first, in two queries."""
    items: list[TrashItem] = []
    if kind in (None, "model"):
        kept = (
            ModelVersion.all_objects.filter(registration=OuterRef("pk"), deleted_at__isnull=True)
            .order_by()
            .values("registration")
            .annotate(n=Count("pk"))
            .values("n")
        )
        registrations = (
            ModelRegistration.all_objects.filter(deleted_at__isnull=False)
            .select_related("registry", "deleted_by")
            .annotate(kept=Coalesce(Subquery(kept, output_field=IntegerField()), 0))
        )
        if registry is not None:
            registrations = registrations.filter(registry=registry)
        if user is not None:
            registrations = access.readable(user, registrations)
        items += [
            TrashItem(
                kind="model",
                id=r.pk,
                registry=r.registry.name,
                name=r.name,
                version=None,
                stage="",
                version_count=r.kept,
                deleted_at=r.deleted_at,
                deleted_by=_deleted_by(r),
                expires_at=trash_expiry(r.deleted_at),
            )
            for r in registrations
        ]
    if kind in (None, "version"):
        versions = ModelVersion.all_objects.filter(
            deleted_at__isnull=False, registration__deleted_at__isnull=True
        ).select_related("registration__registry", "deleted_by")
        if registry is not None:
            versions = versions.filter(registration__registry=registry)
        if user is not None:
            versions = access.readable(user, versions, "registration")
        items += [
            TrashItem(
                kind="version",
                id=v.pk,
                registry=v.registration.registry.name,
                name=v.registration.name,
                version=v.version,
                stage=v.stage,
                version_count=None,
                deleted_at=v.deleted_at,
                deleted_by=_deleted_by(v),
                expires_at=trash_expiry(v.deleted_at),
            )
            for v in versions
        ]
    return sorted(items, key=lambda item: (item.deleted_at, item.kind, item.id), reverse=True)


def trashed_registration(*, item_id: int) -> ModelRegistration:
    found = (
        ModelRegistration.all_objects.select_related("registry")
        .filter(pk=item_id, deleted_at__isnull=False)
        .first()
    )
    if found is None:
        raise NotFound(f"No model {item_id} in the trash.")
    return found


def trashed_version(*, item_id: int) -> ModelVersion:
    found = (
        ModelVersion.all_objects.select_related("registration__registry")
        .filter(pk=item_id, deleted_at__isnull=False)
        .first()
    )
    if found is None:
        raise NotFound(f"No version {item_id} in the trash.")
    return found


def trash_item(*, kind: str, item_id: int, user=None) -> ModelRegistration | ModelVersion:
    """A trashed item by id; one of a model `user` may not read answers as a missing one."""
    if kind in ("model", "version"):
        item = (trashed_registration if kind == "model" else trashed_version)(item_id=item_id)
        registration = item if kind == "model" else item.registration
        if not access.can(user, registration, access.Role.VIEWER):
            raise NotFound(f"No {kind} {item_id} in the trash.")
        return item
    raise NotFound(f"No trash items of kind '{kind}' (use {' or '.join(TRASH_KINDS)}).")


def trash_find(
    *, registry: Registry, name: str, version: int | None = None
) -> ModelRegistration | ModelVersion:
    """A trashed item by address: model `name`, or its version `version` (of the live model,
    or of a trashed one). Several trashed models of one name: the error lists their ids."""
    if version is not None:
        found = list(
            ModelVersion.all_objects.select_related("registration__registry").filter(
                registration__registry=registry,
                registration__name=name,
                version=version,
                deleted_at__isnull=False,
            )[:5]
        )
        what = f"Version {version} of model '{name}'"
    else:
        found = list(
            ModelRegistration.all_objects.select_related("registry").filter(
                registry=registry, name=name, deleted_at__isnull=False
            )[:5]
        )
        what = f"Model '{name}'"
    if not found:
        raise NotFound(f"{what} is not in the trash of registry '{registry.name}'.")
    if len(found) > 1:
        ids = ", ".join(str(item.pk) for item in found)
        raise Conflict(f"{what} is in the trash more than once (ids {ids}); name one by its id.")
    return found[0]


def token_list(*, user) -> QuerySet[ApiToken]:
    """The user's own API tokens, newest first."""
    return ApiToken.objects.filter(user_id=user.pk).order_by("-created_at")


def token_get(*, user, token_id: int | None = None, prefix: str | None = None) -> ApiToken:
    """One of the user's own tokens by id or prefix; NotFound for anyone else's."""
    tokens = token_list(user=user)
    if token_id is not None:
        tokens = tokens.filter(pk=token_id)
    elif prefix:
        tokens = tokens.filter(prefix=prefix)
    else:
        tokens = tokens.none()
    token = tokens.first()
    if token is None:
        raise NotFound("You have no token with that id.")
    return token


# Searches by filter clauses (the MLflow-compatible API parses them with MLflow's parser and
# checks them against MLflow's rules; these only build the queries). ----------------------
class MlflowLike(Lookup):
    """SQL LIKE as MLflow means it: `%` any run, `_` one character, everything else literal
    (no escape character); case-sensitive, or not for ILIKE. The database's own matcher runs
    it (GLOB on SQLite, whose LIKE ignores case), in polynomial time, where a regular
    expression took exponential time on patterns like '%%%%%%%!'."""

    lookup_name = "mlflow_like"
    prepare_rhs = False

    def __init__(self, lhs, rhs, *, case_sensitive: bool = True):
        self.case_sensitive = case_sensitive
        super().__init__(lhs, rhs)

    def as_sql(self, compiler, connection):
        lhs, params = self.process_lhs(compiler, connection)
        pattern = self.rhs
        if connection.vendor == "sqlite" and self.case_sensitive:
            glob = {"%": "*", "_": "?", "*": "[*]", "?": "[?]", "[": "[[]"}
            return f"{lhs} GLOB %s", [*params, "".join(glob.get(ch, ch) for ch in pattern)]
        pattern = pattern.replace("\\", "\\\\")
        if connection.vendor == "postgresql":
            operator = "LIKE" if self.case_sensitive else "ILIKE"
            return f"{lhs} {operator} %s", [*params, pattern]
        return f"{lhs} LIKE %s ESCAPE '\\'", [*params, pattern]


_COMPARISONS = {"=": "exact", ">": "gt", "<": "lt", ">=": "gte", "<=": "lte"}


def clause_condition(field, comparator: str, value) -> Q:
    """One filter clause on a field name, or on an expression such as a tag's text."""
    if comparator in ("IN", "NOT IN"):
        condition = Q(**{f"{field}__in": list(value)})
        return condition if comparator == "IN" else ~condition
    if comparator in ("LIKE", "ILIKE"):
        pattern = clean_like_pattern(value, what=f"The {comparator} pattern")
        target = F(field) if isinstance(field, str) else field
        return Q(MlflowLike(target, pattern, case_sensitive=comparator == "LIKE"))
    if isinstance(field, str) and comparator == "!=":
        return ~Q(**{field: value})
    if isinstance(field, str) and comparator in _COMPARISONS:
        return Q(**{f"{field}__{_COMPARISONS[comparator]}": value})
    where = "here" if isinstance(field, str) else "for tags"
    raise ValidationError(f"Comparator {comparator} is not supported {where}.")


def filter_by_clauses(
    queryset: QuerySet, clauses, *, fields: Mapping[str, str], tag_field: str = "tags"
) -> QuerySet:
    """Rows matching every clause ({"type": "attribute" | "tag", "key", "comparator",
    "value"}); an attribute's key is looked up in `fields`. A tag clause matches only rows
    that have the tag, so `tags.k != 'v'` leaves out a row without `k` (as MLflow does)."""
    for clause in clauses:
        key, comparator, value = clause["key"], clause["comparator"], clause["value"]
        if clause["type"] != "tag":
            queryset = queryset.filter(clause_condition(fields[key], comparator, value))
            continue
        has_tag = Q(**{f"{tag_field}__has_key": key})
        if comparator == "=":
            queryset = queryset.filter(tags_equal(tag_field, {key: value}))
        elif comparator == "!=":
            queryset = queryset.filter(has_tag).exclude(tags_equal(tag_field, {key: value}))
        else:
            queryset = queryset.filter(
                has_tag, clause_condition(KeyTextTransform(key, tag_field), comparator, value)
            )
    return queryset


def tagged(queryset: QuerySet, key: str, value: str, *, present=True, tag_field="tags"):
    """Rows whose tag `key` is `value`; with present=False, every other row."""
    # has_key first: a row without the tag must stay out of NOT(NULL) in the exclude.
    condition = Q(**{f"{tag_field}__has_key": key}) & tags_equal(tag_field, {key: value})
    return queryset.filter(condition) if present else queryset.exclude(condition)


def registration_search(*, registry: Registry | str) -> QuerySet[ModelRegistration]:
    """A registry's registrations (by row or name), with what a search answer shows of each
    and nothing more (no card, no registry row: a page of them is read a hundred at a time)."""
    registrations = ModelRegistration.objects.select_related("created_by").only(
        "registry",
        "name",
        "description",
        "tags",
        "created_at",
        "updated_at",
        "created_by__username",
    )
    if isinstance(registry, Registry):
        return registrations.filter(registry=registry)
    return registrations.filter(registry__name=registry)


_SEARCH_ROW_AT = PreparedRead(
    lambda registry, name: registration_search(registry=registry).filter(name=name).order_by()[:1],
    str,
    str,
)


def registration_search_at(*, registry: str, name: str) -> ModelRegistration | None:
    """One row of registration_search by name (None if there is none), not limited by roles."""
    return None if _has_nul(registry, name) else _SEARCH_ROW_AT.first(registry, name)


def version_search(*, registry: Registry) -> QuerySet[ModelVersion]:
    return ModelVersion.objects.filter(registration__registry=registry)


def version_latest_per_stage(
    *, registrations: list[ModelRegistration], stages: list[str], fields: Iterable[str]
) -> QuerySet:
    """The highest version in each of `stages` of each registration, as rows of `fields`
    (name registration_id among them), oldest first, in one query (a prepared one for a
    single registration)."""
    # At most the four stages, each once, in one order: a client's list (any length, order,
    # repeats) must neither grow the cache of prepared reads nor the query.
    stages = tuple(stage for stage in ModelVersionStage.values if stage in set(stages))
    if len(registrations) == 1:
        return _latest_per_stage_read(stages, tuple(fields))(registrations[0].pk)
    # Ranked in the database, one query: the rows of the first in each (registration, stage).
    # The live manager of the outer query leaves out what the trash holds.
    ranked = (
        ModelVersion.all_objects.filter(
            registration__in=[r.pk for r in registrations],
            deleted_at__isnull=True,
            stage__in=list(stages),
        )
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("registration_id"), F("stage")],
                order_by=F("version").desc(),
            )
        )
        .filter(rank=1)
        .values("pk")
    )
    return ModelVersion.objects.filter(pk__in=ranked).order_by("version").values(*fields)


_LATEST_PER_STAGE: dict[tuple, PreparedRead] = {}


def _latest_per_stage_read(stages: tuple[str, ...], fields: tuple[str, ...]) -> PreparedRead:
    read = _LATEST_PER_STAGE.get((stages, fields))
    if read is None:

        def build(registration_id):
            highest = [
                Q(
                    pk=Subquery(
                        ModelVersion.objects.filter(registration_id=registration_id, stage=stage)
                        .order_by("-version")
                        .values("pk")[:1]
                    )
                )
                for stage in stages
            ]
            return (
                ModelVersion.objects.filter(reduce(operator.or_, highest))
                .order_by("version")
                .values(*fields)
            )

        read = _LATEST_PER_STAGE[(stages, fields)] = PreparedRead(build, int)
    return read


_ROWS_BY_ID: dict[tuple[str, ...], PreparedRead] = {}


def version_rows(*, versions: Iterable[int], fields: Iterable[str]) -> QuerySet | list:
    """Versions by primary key as plain rows of `fields`."""
    versions, fields = list(versions), tuple(fields)
    if len(versions) == 1:
        read = _ROWS_BY_ID.get(fields)
        if read is None:
            read = _ROWS_BY_ID[fields] = PreparedRead(
                lambda pk: ModelVersion.objects.filter(pk=pk).order_by().values(*fields), int
            )
        return read(versions[0])
    return ModelVersion.objects.filter(pk__in=versions).values(*fields)


_ROWS_AT: dict[tuple[str, ...], PreparedRead] = {}


def version_rows_at(*, registry: str, name: str, version: int, fields: Iterable[str]) -> list:
    """One version by its address as a plain row of `fields` in one query ([] if none)."""
    fields = tuple(fields)
    read = _ROWS_AT.get(fields)
    if read is None:
        read = _ROWS_AT[fields] = PreparedRead(
            lambda registry, name, number: (
                ModelVersion.objects.filter(
                    registration__registry__name=registry,
                    registration__name=name,
                    version=number,
                )
                .order_by()
                .values(*fields)[:1]
            ),
            str,
            str,
            int,
        )
    number = _number(version)
    return [] if number is None else read(registry, name, number)


_ALIAS_NAMES_OF = PreparedRead(
    lambda version: ModelAlias.objects.filter(version_id=version).values("name"), int
)


def alias_names_by_version(version_ids: Iterable[int]) -> dict[int, list[str]]:
    """The alias names pointing at each version, by version id."""
    version_ids = list(version_ids)
    if len(version_ids) == 1:
        names = [row["name"] for row in _ALIAS_NAMES_OF(version_ids[0])]
        return {version_ids[0]: names} if names else {}
    names: dict[int, list[str]] = {}
    for version_id, name in ModelAlias.objects.filter(version_id__in=list(version_ids)).values_list(
        "version_id", "name"
    ):
        names.setdefault(version_id, []).append(name)
    return names


_ALIAS_ROWS_OF = PreparedRead(
    lambda registration: (
        ModelAlias.objects.filter(registration_id=registration)
        .order_by("name")
        .values("name", "version__version")
    ),
    int,
)


def alias_rows_by_registration(
    registrations: Iterable[ModelRegistration],
) -> dict[int, list[tuple[str, int]]]:
    """(alias, version number) of each registration, by registration id, sorted by alias."""
    rows: dict[int, list[tuple[str, int]]] = {r.pk: [] for r in registrations}
    if len(rows) == 1:
        (only,) = rows
        rows[only] = [(row["name"], row["version__version"]) for row in _ALIAS_ROWS_OF(only)]
        return rows
    for registration_id, alias, number in (
        ModelAlias.objects.filter(registration__in=list(rows))
        .order_by("name")
        .values_list("registration_id", "name", "version__version")
    ):
        rows[registration_id].append((alias, number))
    return rows


# The stage ledger: what the append-only history says held a stage or an alias at a moment.
# Stage entries are the history rows without an alias; a deletion ends a version (and every
# alias on it). A version with no entry yet at that moment sits in its first stage since it
# was created: the `from_stage` of its first entry, or its stage now if it has none (versions
# imported straight into a stage have no entry).
_ALIAS_CAUSES = (TransitionCause.ALIAS_SET, TransitionCause.ALIAS_DELETED)


@dataclasses.dataclass(frozen=True)
class LedgerAnswer:
    """Which version held `stage` (or `alias`) of a registration at `at`.

    `version` is, for a stage, the highest-numbered version in it (what `versions/latest`
    would have answered then), `versions` every version in it; for an alias, the version it
    pointed at. `since` is when that version entered the stage or got the alias (None when
    it already had it before the history began), `transition` the history entry that put it
    there (None when there is none: it was registered or imported like that), and `exists`
    whether the version still exists now."""

    at: datetime
    stage: str | None
    alias: str | None
    version: int | None
    versions: list[int]
    since: datetime | None
    transition: StageTransition | None
    exists: bool

    def as_dict(self) -> dict:
        entry = self.transition
        return {
            "at": self.at.isoformat(),
            "stage": self.stage,
            "alias": self.alias,
            "version": self.version,
            "versions": self.versions,
            "since": self.since.isoformat() if self.since else None,
            "exists": self.exists,
            "transition": None
            if entry is None
            else {
                "id": entry.pk,
                "from_stage": entry.from_stage,
                "to_stage": entry.to_stage,
                "actor": entry.actor_name,
                "cause": entry.cause,
                "comment": entry.comment,
                "created_at": entry.created_at.isoformat(),
            },
        }


def _stage_entries(registration: ModelRegistration) -> QuerySet[StageTransition]:
    return StageTransition.objects.filter(registration=registration, alias="")


def _one_per_version(entries: QuerySet[StageTransition], *, newest: bool) -> QuerySet:
    """The newest (or oldest) of `entries` of each version number, in one query."""
    order = ("-created_at", "-id") if newest else ("created_at", "id")
    return entries.annotate(
        rank=Window(
            RowNumber(),
            partition_by=[F("version_number")],
            order_by=[F(key[1:]).desc() if key[0] == "-" else F(key).asc() for key in order],
        )
    ).filter(rank=1)


def _deleted_lower_bound(registration, number: int, existing: dict[int, tuple]) -> datetime:
    """A deleted version's creation time is gone with it; numbers are handed out in order,
    so it came no earlier than the newest existing version below it (or the registration)."""
    below = [created for n, (created, _) in existing.items() if n < number]
    return max([registration.created_at, *below])


# Causes after which a version holds no stage (until a restore records it holding one again).
_ENDED = (TransitionCause.VERSION_DELETED, TransitionCause.VERSION_PURGED)


def ledger_at(
    *,
    registration: ModelRegistration,
    at: datetime,
    stage: str | None = None,
    alias: str | None = None,
) -> LedgerAnswer:
    """Which version was in `stage` (default Production), or held `alias`, at moment `at`.

    A constant number of queries (three for a stage, at most four for an alias), each reading
    at most one row per version of this registration."""
    if alias:
        return _alias_at(registration, at, alias)
    stage = clean_stage(stage or ModelVersionStage.PRODUCTION)
    empty = LedgerAnswer(at, stage, None, None, [], None, None, False)
    if at < registration.created_at:
        return empty
    # Trashed versions too: their rows keep their creation time (they no longer "exist").
    rows = (
        ModelVersion.all_objects.filter(registration=registration)
        .order_by()
        .values_list("version", "created_at", "stage", "deleted_at")
    )
    existing = {number: (created, now) for number, created, now, _ in rows}
    live = {number for number, _, _, trashed in rows if trashed is None}
    entries = _stage_entries(registration)
    last = {
        row["version_number"]: row
        for row in _one_per_version(entries.filter(created_at__lte=at), newest=True).values(
            "id", "version_number", "to_stage", "cause", "created_at"
        )
    }
    # A version with no entry up to `at` held its first entry's from_stage then, so only
    # entries after `at` matter, and only of versions that may have existed at `at`: an
    # existing one created by then, or a deleted one numbered below every version created
    # after it (its creation time is bounded below by theirs).
    later = entries.filter(created_at__gt=at)
    after = [number for number, (created, _) in existing.items() if created > at]
    if after:
        before = [number for number, (created, _) in existing.items() if created <= at]
        later = later.filter(version_number__lte=max([min(after) - 1, *before]))
    first = dict(_one_per_version(later, newest=False).values_list("version_number", "from_stage"))
    holders: dict[int, tuple[datetime | None, int | None]] = {}
    for number, row in last.items():
        if row["cause"] not in _ENDED and row["to_stage"] == stage:
            holders[number] = (row["created_at"], row["id"])
    for number in (set(existing) | set(first)) - set(last):
        initial = first[number] if number in first else existing[number][1]
        created = (
            existing[number][0]
            if number in existing
            else _deleted_lower_bound(registration, number, existing)
        )
        if initial == stage and created <= at:
            holders[number] = (created if number in existing else None, None)
    if not holders:
        return empty
    version = max(holders)
    since, entry_id = holders[version]
    entry = StageTransition.objects.get(pk=entry_id) if entry_id else None
    return LedgerAnswer(at, stage, None, version, sorted(holders), since, entry, version in live)


def _alias_at(registration: ModelRegistration, at: datetime, alias: str) -> LedgerAnswer:
    if not isinstance(alias, str) or len(alias) > NAME_MAX_LENGTH or "\x00" in alias:
        raise ValidationError({"alias": "Not an alias name."})
    empty = LedgerAnswer(at, None, alias, None, [], None, None, False)
    if at < registration.created_at:
        return empty
    entries = StageTransition.objects.filter(
        registration=registration, alias=alias, cause__in=_ALIAS_CAUSES
    )
    entry = entries.filter(created_at__lte=at).order_by("-created_at", "-id").first()
    since = None
    if entry is not None:
        if entry.cause == TransitionCause.ALIAS_DELETED:
            return empty
        number, since = entry.version_number, entry.created_at
    else:
        later = entries.filter(created_at__gt=at).order_by("created_at", "id").first()
        if later is not None:
            # Its first entry says where it pointed before (set at import, unrecorded).
            number = later.alias_from_version
        else:
            current = (
                ModelAlias.objects.filter(registration=registration, name=alias)
                .values_list("version__version", "created_at")
                .first()
            )
            number = current[0] if current and current[1] <= at else None
            since = current[1] if number else None
    if number is None:
        return empty
    created = (
        registration.versions.filter(version=number).values_list("created_at", flat=True).first()
    )
    # Deleting a version (to the trash or for good) takes its aliases with it.
    deleted = _stage_entries(registration).filter(
        version_number=number, cause__in=_ENDED, created_at__lte=at
    )
    if since is not None:
        deleted = deleted.filter(created_at__gt=since)
    if (created is not None and created > at) or deleted.exists():
        return empty
    return LedgerAnswer(at, None, alias, number, [number], since, entry, created is not None)


@dataclasses.dataclass(frozen=True)
class RollbackPlan:
    """What a rollback of a registration would do, or why it cannot.

    `current` is the version that entered Production most recently (the promotion being
    undone); every version now in Production (`production`) is archived, and `previous`, the
    version that most recently left Production (by any path), returns to it."""

    current: ModelVersion | None
    production: list[int]
    previous: ModelVersion | None
    refusal: str


def rollback_plan(*, registration: ModelRegistration) -> RollbackPlan:
    """Three queries at most; reads one row per version in Production and one history row."""
    production = list(
        registration.versions.filter(stage=ModelVersionStage.PRODUCTION).order_by("version")
    )
    numbers = [v.version for v in production]
    if not production:
        return RollbackPlan(
            None,
            [],
            None,
            f"No version of '{registration.name}' is in Production: nothing to roll back.",
        )
    entered = dict(
        _stage_entries(registration)
        .filter(version_number__in=numbers, to_stage=ModelVersionStage.PRODUCTION)
        .order_by("created_at", "id")
        .values_list("version_number", "created_at")
    )
    current = max(production, key=lambda v: (entered.get(v.version, v.created_at), v.version))
    left = (
        _stage_entries(registration)
        .filter(from_stage=ModelVersionStage.PRODUCTION)
        .exclude(version_number__in=numbers)
        .order_by("-created_at", "-id")
        .values_list("version_number", flat=True)
        .first()
    )
    if left is None:
        return RollbackPlan(
            current,
            numbers,
            None,
            f"No other version of '{registration.name}' was in Production before version "
            f"{current.version}: nothing to roll back to.",
        )
    previous = registration.versions.filter(version=left).first()
    if previous is None:
        return RollbackPlan(
            current,
            numbers,
            None,
            f"Version {left}, the previous Production version of '{registration.name}', was "
            "deleted: nothing to roll back to.",
        )
    return RollbackPlan(current, numbers, previous, "")


# Webhooks -------------------------------------------------------------------------------
def webhook_list(*, user, registration: ModelRegistration | None = None) -> QuerySet[Webhook]:
    """The webhooks this user may manage: global ones with the webhook view permission, a
    registration's ones with the Owner role on it (`user=None`: every one). Each carries
    `last_status` and `last_delivery_at`, its latest delivery's."""
    latest = WebhookDelivery.objects.filter(webhook=OuterRef("pk")).order_by("-created_at", "-id")
    hooks = (
        Webhook.objects.select_related("registration__registry", "created_by")
        .annotate(
            last_status=Subquery(latest.values("status")[:1]),
            last_delivery_at=Subquery(latest.values("created_at")[:1]),
        )
        .order_by("-created_at", "-id")
    )
    if registration is not None:
        hooks = hooks.filter(registration=registration)
    if user is None:
        return hooks
    if not (user.is_authenticated and user.is_active):
        return hooks.none()
    visible = Q(pk__in=[])
    if user.has_perm("models_app.view_webhook"):
        visible |= Q(registration__isnull=True)
    if access.base_role(user) >= access.Role.OWNER:
        visible |= Q(registration__isnull=False)
    else:
        owned = RegistrationRole.objects.filter(
            Q(user=user) | Q(group__user=user), role=RoleName.OWNER
        )
        visible |= Q(registration__in=owned.values("registration"))
    return hooks.filter(visible)


def webhook_get(*, user, webhook_id: int | None) -> Webhook:
    """One webhook, if the user may manage it: NotFound if there is none (or its model is
    hidden from the user), PermissionDenied if they may see but not manage it."""
    webhook = webhook_list(user=None).filter(pk=webhook_id).first() if webhook_id else None
    if webhook is None or (
        webhook.registration is not None
        and not access.can(user, webhook.registration, access.Role.VIEWER)
    ):
        # A hidden model's webhook answers as a missing one: an id must not reveal a model.
        raise NotFound("No webhook with that id.")
    if webhook.registration is None:
        if user is not None and not (user.is_active and user.has_perm("models_app.view_webhook")):
            raise PermissionDenied(
                "You do not have permission to see global webhooks (needs view_webhook)."
            )
    else:
        access.require(user, webhook.registration, access.Role.OWNER, "manage its webhooks")
    return webhook


def webhook_deliveries(*, webhook: Webhook) -> QuerySet[WebhookDelivery]:
    """The delivery log of one webhook, newest first."""
    return WebhookDelivery.objects.filter(webhook=webhook).order_by("-created_at", "-id")


def promotion_request_list(
    *, user=None, state: str | None = None, registry: Registry | str | None = None
) -> QuerySet[PromotionRequest]:
    """Promotion requests newest first, only of registrations `user` may read (None: all)."""
    from models_app import access

    queryset = PromotionRequest.objects.select_related(
        "registration__registry", "version__registration__registry", "requested_by", "decided_by"
    ).filter(registration__deleted_at__isnull=True)  # a trashed model's requests wait with it
    if state:
        if state not in PromotionRequest.State.values:
            raise ValidationError(
                {
                    "state": f"Unknown state '{state[:50]}': use one of "
                    f"{', '.join(PromotionRequest.State.values)}."
                }
            )
        queryset = queryset.filter(state=state)
    if registry is not None:
        queryset = queryset.filter(
            registration__registry=registry
            if isinstance(registry, Registry)
            else registry_get(registry)
        )
    if user is not None:
        queryset = access.readable(user, queryset, "registration")
    return queryset.order_by("-created_at", "-id")


def promotion_request_get(*, request_id: int | None, user=None) -> PromotionRequest:
    found = (
        promotion_request_list(user=user).filter(pk=request_id).first()
        if request_id is not None
        else None
    )
    if found is None:
        raise NotFound(f"Request #{request_id} does not exist.")
    return found


def promotion_request_actions(*, user, requests: Iterable[PromotionRequest]) -> list:
    """The requests, each with `can_decide` (approve or reject: an approver of its model,
    not its requester) and `can_cancel` (its requester or an approver), when pending."""
    from models_app import access

    found = list(requests)
    for request in found:
        own = user is not None and request.requested_by_id == user.pk
        approver = request.is_pending and access.can(
            user, request.registration, access.Role.APPROVER
        )
        request.can_decide = approver and not own
        request.can_cancel = request.is_pending and (own or approver)
    return found


def promotion_requests_to_decide(*, user, limit: int = 20) -> list[PromotionRequest]:
    """Pending requests this user may approve (an approver of their model, not their own),
    in a constant number of queries: approver grants are matched in the database."""
    from models_app import access

    pending = promotion_request_list(user=user, state=PromotionRequest.State.PENDING)
    if user is not None:
        pending = pending.exclude(requested_by=user)
        if access.base_role(user) < access.Role.APPROVER:
            granted = (
                RegistrationRole.objects.filter(Q(user=user) | Q(group__user=user))
                .filter(role__in=[RoleName.APPROVER, RoleName.OWNER])
                .values("registration")
            )
            pending = pending.filter(registration__in=granted)
    found = list(pending[:limit])
    for request in found:
        request.can_decide = request.can_cancel = True
    return found


AUDIT_VIEW_PERMISSION = "models_app.view_auditevent"


def audit_list(*, user) -> QuerySet[AuditEvent]:
    """The audit log, newest first, for a user allowed to read it (`view_auditevent`;
    superusers; None = the operator). Every event is one row: no joins to follow."""
    if user is not None and not (user.is_active and user.has_perm(AUDIT_VIEW_PERMISSION)):
        raise PermissionDenied("You do not have permission to read the audit log.")
    return AuditEvent.objects.order_by("-created_at", "-id")


def can_view_audit(user) -> bool:
    return user is None or (user.is_active and user.has_perm(AUDIT_VIEW_PERMISSION))


def promotion_request_pending(*, version: ModelVersion) -> PromotionRequest | None:
    """The version's pending request, if any."""
    return (
        PromotionRequest.objects.filter(version=version, state=PromotionRequest.State.PENDING)
        .select_related("registration")
        .first()
    )
