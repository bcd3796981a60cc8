"""One FilterSet per listing, shared by the pages, their htmx partials and the API."""

from __future__ import annotations

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Exists, F, FloatField, OuterRef, Q
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    LessThan,
    LessThanOrEqual,
)
from drf_spectacular.utils import extend_schema_field

from models_app.metrics import ConditionError, parse_condition
from models_app.models import (
    AuditAction,
    AuditEvent,
    ModelAlias,
    ModelRegistration,
    ModelVersion,
    ModelVersionStage,
    Registry,
    StageTransition,
    TransitionCause,
)
from models_app.selectors import (
    STAGE_COUNT_ANNOTATIONS,
    SUMMARY_FIELDS,
    summary_annotations,
    tags_equal,
)
from models_app.validation import clean_filter_terms, clean_filter_text, clean_moment

_OPERATORS = {
    ">=": GreaterThanOrEqual,
    "<=": LessThanOrEqual,
    ">": GreaterThan,
    "<": LessThan,
    "=": Exact,
    "==": Exact,
}


class BoundedCharField(forms.CharField):
    def to_python(self, value):
        return super().to_python(clean_filter_text(value) if isinstance(value, str) else value)


class BoundedCharFilter(django_filters.CharFilter):
    """A text filter within MODEL_REGISTRY_MAX_FILTER_LENGTH."""

    field_class = BoundedCharField


class _RepeatableField(forms.Field):
    """A query parameter that may repeat (`?tag=a:1&tag=b:2`); each value parsed by `parse`."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value):
        if value in (None, "", [], ()):
            return []
        values = clean_filter_terms([value] if isinstance(value, str) else list(value))
        parsed = []
        for raw in values:
            clean_filter_text(raw)
            if raw.strip():
                parsed.append(self.parse(raw.strip()))
        return parsed


class TagListField(_RepeatableField):
    def parse(self, raw: str) -> tuple[str, str | None]:
        """`key:value`; a bare `key` asks only that the tag exists."""
        key, sep, value = raw.partition(":")
        if not key.strip():
            raise forms.ValidationError("'%(raw)s' is not key:value.", params={"raw": raw})
        return key.strip(), (value if sep else None)


class MetricListField(_RepeatableField):
    def parse(self, raw: str) -> tuple[str, str, float]:
        """`accuracy>=0.9`, `loss<0.2`, `f1=1`, `auc!=0.5`."""
        try:
            return parse_condition(raw)
        except ConditionError as exc:
            # django-filter %-formats messages: the input travels as params, it may hold '%'.
            raise forms.ValidationError(exc.template, params=exc.params)


class UtcDateTimeField(django_filters.fields.IsoDateTimeField):
    def to_python(self, value):
        moment = super().to_python(clean_filter_text(value) if isinstance(value, str) else value)
        if moment is None:
            return None
        try:
            return clean_moment(moment, field="datetime")
        except ValidationError:
            raise forms.ValidationError("Date and time out of range.")


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField


@extend_schema_field({"type": "array", "items": {"type": "string"}})
class TagFilter(django_filters.Filter):
    field_class = TagListField


@extend_schema_field({"type": "array", "items": {"type": "string"}})
class MetricFilter(django_filters.Filter):
    field_class = MetricListField


def tag_condition(field: str, pairs: list[tuple[str, str | None]]) -> Q:
    condition = Q()
    for key, value in pairs:
        if value is None:
            condition &= Q(**{f"{field}__has_key": key})
        else:
            condition &= tags_equal(field, {key: value})
    return condition


def metric_condition(conditions: list[tuple[str, str, float]]) -> Q:
    """Every condition must hold; a version without the metric never matches."""
    condition = Q()
    for key, op, number in conditions:
        metric = Cast(KeyTextTransform(key, "metrics"), FloatField())
        if op == "!=":
            condition &= Q(metrics__has_key=key) & ~Q(Exact(metric, number))
        else:
            condition &= Q(_OPERATORS[op](metric, number))
    return condition


def _blank(value) -> bool:
    return isinstance(value, str) and not value.strip()


class AnyWhenEmptyFilterSet(django_filters.FilterSet):
    """An empty parameter (`?stage=`, as a form's "any" option sends) means "any"."""

    def __init__(self, data=None, *args, **kwargs):
        if hasattr(data, "getlist"):
            data = data.copy()
            for key in list(data.keys()):
                values = [v for v in data.getlist(key) if not _blank(v)]
                if values:
                    data.setlist(key, values)
                else:
                    del data[key]
        elif data is not None:
            data = {key: value for key, value in data.items() if not _blank(value)}
        super().__init__(data, *args, **kwargs)


class RegistrationOrdering(django_filters.OrderingFilter):
    """Model with no version last either way, and name as the tie-break, so pages are stable."""

    def filter(self, qs, value):
        if value in (None, "", [], ()):
            return qs
        ordering, fields = [], [self.get_ordering_value(param) for param in value]
        # A summary field (a listing's rows come without them) is annotated to sort by.
        wanted = {field.lstrip("-") for field in fields} & set(SUMMARY_FIELDS)
        missing = wanted - set(qs.query.annotations)
        if missing:
            qs = qs.annotate(**summary_annotations(*sorted(missing)))
        for field in fields:
            descending = field.startswith("-")
            expression = F(field.lstrip("-"))
            ordering.append(
                expression.desc(nulls_last=True) if descending else expression.asc(nulls_last=True)
            )
        return qs.order_by(*ordering, "registry__name", "name")


class RegistrationFilterSet(AnyWhenEmptyFilterSet):
    q = BoundedCharFilter(method="filter_q", label="Search")
    registry = django_filters.ModelChoiceFilter(
        field_name="registry", to_field_name="name", queryset=Registry.objects.all()
    )
    name = BoundedCharFilter(field_name="name")
    name_contains = BoundedCharFilter(field_name="name", lookup_expr="icontains")
    tag = TagFilter(method="filter_tag", label="Tag (key:value, repeatable)")
    stage = django_filters.ChoiceFilter(
        choices=ModelVersionStage.choices, method="filter_stage", label="Has a version in stage"
    )
    alias = BoundedCharFilter(method="filter_alias", label="Has alias")
    ordering = RegistrationOrdering(
        fields=(
            ("name", "name"),
            ("registry__name", "registry"),
            ("created_at", "created"),
            ("updated_at", "updated"),
            ("latest_version", "latest"),
            ("version_count", "versions"),
            *((annotation, stage.lower()) for stage, annotation in STAGE_COUNT_ANNOTATIONS.items()),
        ),
        help_text="Sort by name, registry, created, updated, latest (version number), versions "
        "(count), or the number of versions in a stage: production, staging, archived, none. "
        "A leading '-' sorts descending.",
    )

    class Meta:
        model = ModelRegistration
        fields = []

    def filter_q(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(description__icontains=value))

    def filter_tag(self, queryset, name, value):
        return queryset.filter(tag_condition("tags", value))

    def filter_stage(self, queryset, name, value):
        return queryset.filter(
            Exists(ModelVersion.objects.filter(registration=OuterRef("pk"), stage=value))
        )

    def filter_alias(self, queryset, name, value):
        return queryset.filter(
            Exists(ModelAlias.objects.filter(registration=OuterRef("pk"), name=value))
        )


class VersionFilterSet(AnyWhenEmptyFilterSet):
    q = BoundedCharFilter(method="filter_q", label="Search")
    registry = BoundedCharFilter(field_name="registration__registry__name")
    name = BoundedCharFilter(field_name="registration__name")
    name_contains = BoundedCharFilter(field_name="registration__name", lookup_expr="icontains")
    stage = django_filters.MultipleChoiceFilter(choices=ModelVersionStage.choices)
    alias = BoundedCharFilter(field_name="aliases__name")
    tag = TagFilter(method="filter_tag", label="Tag (key:value, repeatable)")
    metric = MetricFilter(method="filter_metric", label="Metric condition, e.g. accuracy>=0.9")
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gt")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")
    pipeline_name = BoundedCharFilter()
    pipeline_run_id = BoundedCharFilter()
    step_name = BoundedCharFilter()
    run_id = BoundedCharFilter(field_name="experiment_run_id")
    code_version = BoundedCharFilter()
    model_library = BoundedCharFilter()
    ordering = django_filters.OrderingFilter(
        fields=(
            ("version", "version"),
            ("created_at", "created"),
            ("updated_at", "updated"),
            ("registration__name", "name"),
        ),
    )

    class Meta:
        model = ModelVersion
        fields = []

    def filter_q(self, queryset, name, value):
        if connection.vendor == "postgresql":
            # A union, so each part uses its own trigram index (an OR across the join scans).
            # On every row: the outer queryset already leaves out the trash, and the live-rows
            # join in each part would keep the planner from the trigram indexes.
            rows = ModelVersion.all_objects
            matching = rows.filter(registration__name__icontains=value).values("pk")
            matching = matching.union(
                rows.filter(description__icontains=value).values("pk"),
                rows.filter(model_source_uri__icontains=value).values("pk"),
            )
            return queryset.filter(pk__in=matching)
        return queryset.filter(
            Q(registration__name__icontains=value)
            | Q(description__icontains=value)
            | Q(model_source_uri__icontains=value)
        )

    def filter_tag(self, queryset, name, value):
        return queryset.filter(tag_condition("tags", value))

    def filter_metric(self, queryset, name, value):
        return queryset.filter(metric_condition(value))


class TransitionFilterSet(AnyWhenEmptyFilterSet):
    registry = BoundedCharFilter(field_name="registration__registry__name")
    name = BoundedCharFilter(field_name="registration__name")
    version = django_filters.NumberFilter(field_name="version_number", min_value=1)
    from_stage = django_filters.ChoiceFilter(choices=ModelVersionStage.choices)
    to_stage = django_filters.ChoiceFilter(choices=ModelVersionStage.choices)
    cause = django_filters.ChoiceFilter(choices=TransitionCause.choices)
    actor = BoundedCharFilter(field_name="actor_name")
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gt")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = StageTransition
        fields = []


class AuditFilterSet(AnyWhenEmptyFilterSet):
    """The audit log: by registry, model, version, actor, action, object type and time."""

    registry = BoundedCharFilter(field_name="registry_name")
    model = BoundedCharFilter(field_name="registration_name", label="Model")
    version = django_filters.NumberFilter(field_name="version_number", min_value=1)
    actor = BoundedCharFilter(field_name="actor_name")
    action = django_filters.ChoiceFilter(choices=AuditAction.choices)
    object_type = BoundedCharFilter(field_name="object_type")
    since = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields = []
