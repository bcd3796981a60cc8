"""One FilterSet per listing, shared by the pages, their htmx partials and the API."""

from __future__ import annotations

import math
import re

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Exists, FloatField, OuterRef, Q
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

from models_app.models import (
    ModelAlias,
    ModelRegistration,
    ModelVersion,
    ModelVersionStage,
    Registry,
    StageTransition,
    TransitionCause,
)
from models_app.selectors import json_keys_equal
from models_app.validation import clean_moment

_METRIC = re.compile(
    r"^\s*(?P<key>[^<>=!\s][^<>=!]*?)\s*(?P<op>>=|<=|!=|==|=|>|<)\s*(?P<value>[^<>=!]+?)\s*$"
)
_OPERATORS = {
    ">=": GreaterThanOrEqual,
    "<=": LessThanOrEqual,
    ">": GreaterThan,
    "<": LessThan,
    "=": Exact,
    "==": Exact,
}


class _RepeatableField(forms.Field):
    """A query parameter that may repeat (`?tag=a:1&tag=b:2`); each value parsed by `parse`."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value):
        if value in (None, "", [], ()):
            return []
        values = [value] if isinstance(value, str) else list(value)
        parsed = []
        for raw in values:
            if not isinstance(raw, str) or "\x00" in raw:
                raise forms.ValidationError("Invalid value.")
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
        # Messages carry the input as params: django-filter %-formats them, and input may hold '%'.
        match = _METRIC.match(raw)
        if not match:
            raise forms.ValidationError(
                "'%(raw)s' is not a metric condition such as accuracy>=0.9.", params={"raw": raw}
            )
        try:
            number = float(match["value"])
        except ValueError:
            raise forms.ValidationError(
                "'%(value)s' in '%(raw)s' is not a number.",
                params={"value": match["value"], "raw": raw},
            )
        if not math.isfinite(number):
            raise forms.ValidationError(
                "'%(raw)s' compares with a number that is not finite.", params={"raw": raw}
            )
        return match["key"], match["op"], number


class UtcDateTimeField(django_filters.fields.IsoDateTimeField):
    def to_python(self, value):
        moment = super().to_python(value)
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
            condition &= json_keys_equal(field, {key: value})
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


class RegistrationFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label="Search")
    registry = django_filters.ModelChoiceFilter(
        field_name="registry", to_field_name="name", queryset=Registry.objects.all()
    )
    name = django_filters.CharFilter(field_name="name")
    name_contains = django_filters.CharFilter(field_name="name", lookup_expr="icontains")
    tag = TagFilter(method="filter_tag", label="Tag (key:value, repeatable)")
    stage = django_filters.ChoiceFilter(
        choices=ModelVersionStage.choices, method="filter_stage", label="Has a version in stage"
    )
    alias = django_filters.CharFilter(method="filter_alias", label="Has alias")
    ordering = django_filters.OrderingFilter(
        fields=(("name", "name"), ("created_at", "created"), ("updated_at", "updated")),
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


class VersionFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_q", label="Search")
    registry = django_filters.CharFilter(field_name="registration__registry__name")
    name = django_filters.CharFilter(field_name="registration__name")
    name_contains = django_filters.CharFilter(
        field_name="registration__name", lookup_expr="icontains"
    )
    stage = django_filters.MultipleChoiceFilter(choices=ModelVersionStage.choices)
    alias = django_filters.CharFilter(field_name="aliases__name")
    tag = TagFilter(method="filter_tag", label="Tag (key:value, repeatable)")
    metric = MetricFilter(method="filter_metric", label="Metric condition, e.g. accuracy>=0.9")
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gt")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")
    pipeline_name = django_filters.CharFilter()
    pipeline_run_id = django_filters.CharFilter()
    step_name = django_filters.CharFilter()
    run_id = django_filters.CharFilter(field_name="experiment_run_id")
    code_version = django_filters.CharFilter()
    model_library = django_filters.CharFilter()
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
        return queryset.filter(
            Q(registration__name__icontains=value)
            | Q(description__icontains=value)
            | Q(model_source_uri__icontains=value)
        )

    def filter_tag(self, queryset, name, value):
        return queryset.filter(tag_condition("tags", value))

    def filter_metric(self, queryset, name, value):
        return queryset.filter(metric_condition(value))


class TransitionFilterSet(django_filters.FilterSet):
    registry = django_filters.CharFilter(field_name="registration__registry__name")
    name = django_filters.CharFilter(field_name="registration__name")
    version = django_filters.NumberFilter(field_name="version_number", min_value=1)
    from_stage = django_filters.ChoiceFilter(choices=ModelVersionStage.choices)
    to_stage = django_filters.ChoiceFilter(choices=ModelVersionStage.choices)
    cause = django_filters.ChoiceFilter(choices=TransitionCause.choices)
    actor = django_filters.CharFilter(field_name="actor_name")
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gt")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = StageTransition
        fields = []
