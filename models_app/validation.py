"""Input checks shared by every service. Each raises ValidationError keyed by field."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from models_app.models import NAME_MAX_LENGTH, ModelVersionStage

URI_MAX_LENGTH = 1000
LINEAGE_MAX_LENGTH = 255
# MLflow reserves these alias forms for its own URIs (models:/name@latest, version shortcuts).
_RESERVED_ALIAS = re.compile(r"^(latest|v\d+)$", re.IGNORECASE)
_ALIAS = re.compile(r"^[A-Za-z0-9_\-]+$")
_REGISTRY_NAME = re.compile(r"^[A-Za-z0-9_\-]+$")


def limit(name: str) -> int:
    """One of the input limits in settings (MODEL_REGISTRY_MAX_*), read when checked."""
    return getattr(settings, name)


def limit_message(what: str, name: str) -> str:
    """Says which limit was passed, so a caller knows what to shorten or an operator to raise."""
    return f"{what}: the limit is {limit(name)} ({name})."


def _has_control_chars(value: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" for ch in value)


def clean_name(value: Any, *, field: str = "name", what: str = "Name") -> str:
    """A model or registration name: 1..255 visible characters, no '/', no control chars."""
    if not isinstance(value, str):
        raise ValidationError({field: f"{what} must be a string."})
    if not value.strip():
        raise ValidationError({field: f"{what} must not be empty."})
    if value != value.strip():
        raise ValidationError({field: f"{what} must not start or end with whitespace."})
    if len(value) > NAME_MAX_LENGTH:
        raise ValidationError({field: f"{what} must be at most {NAME_MAX_LENGTH} characters."})
    if "/" in value:
        raise ValidationError({field: f"{what} must not contain '/'."})
    if _has_control_chars(value):
        raise ValidationError({field: f"{what} must not contain control characters."})
    _refuse_nul(value, field)
    return value


def clean_registry_name(value: Any) -> str:
    name = clean_name(value, what="Registry name")
    if len(name) > 100 or not _REGISTRY_NAME.match(name):
        raise ValidationError(
            {"name": "Registry name may use letters, digits, '-' and '_' (at most 100)."}
        )
    return name


def clean_alias(value: Any) -> str:
    alias = clean_name(value, field="alias", what="Alias")
    if not _ALIAS.match(alias):
        raise ValidationError({"alias": "Alias may use letters, digits, '-' and '_' only."})
    if _RESERVED_ALIAS.match(alias):
        raise ValidationError({"alias": f"Alias '{alias}' is reserved (latest, v<number>)."})
    return alias


def clean_stage(value: Any, *, field: str = "stage") -> str:
    """A stage name, case-insensitively as MLflow accepts it."""
    if isinstance(value, str):
        for stage in ModelVersionStage.values:
            if value.strip().lower() == stage.lower():
                return stage
    raise ValidationError(
        {field: f"Unknown stage {value!r}. Valid stages: {', '.join(ModelVersionStage.values)}."}
    )


MAX_VERSION_NUMBER = 2**31 - 1


def clean_version_number(value: Any, *, field: str = "version") -> int:
    if isinstance(value, bool):
        raise ValidationError({field: "Version must be a positive whole number."})
    try:
        number = int(str(value).strip()) if not isinstance(value, int) else value
    except (TypeError, ValueError):
        raise ValidationError({field: f"Version must be a positive whole number, not {value!r}."})
    if not 1 <= number <= MAX_VERSION_NUMBER:
        raise ValidationError({field: "Version must be a positive whole number."})
    return number


def _refuse_nul(value: Any, field: str) -> None:
    """Refuse what no database can store: NUL characters and unpaired surrogates (not UTF-8)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValidationError({field: "Must not contain NUL characters."})
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationError({field: "Must be valid Unicode text (no unpaired surrogates)."})
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _refuse_nul(key, field)
            _refuse_nul(item, field)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _refuse_nul(item, field)


def clean_moment(value: datetime, *, field: str) -> datetime:
    """An aware datetime in UTC; databases refuse odd offsets (PostgreSQL allows +-15:59)."""
    try:
        if timezone.is_naive(value):
            value = timezone.make_aware(value, UTC)
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValidationError({field: "Date and time out of range."})


def clean_text(value: Any, *, field: str, max_length: int | None = None, required=False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError({field: "Must be a string."})
    _refuse_nul(value, field)
    if required and not value.strip():
        raise ValidationError({field: "This field is required."})
    if max_length is not None and len(value) > max_length:
        raise ValidationError({field: f"Must be at most {max_length} characters."})
    return value


def clean_uri(value: Any, *, field: str = "model_source_uri") -> str:
    uri = clean_text(value, field=field, max_length=URI_MAX_LENGTH, required=True).strip()
    if _has_control_chars(uri):
        raise ValidationError({field: "Must not contain control characters."})
    return uri


def _clean_key(key: Any, field: str) -> str:
    if not isinstance(key, str) or not key.strip():
        raise ValidationError({field: "Keys must be non-empty strings."})
    _check_key_length(key, field)
    if _has_control_chars(key):
        raise ValidationError({field: "Keys must not contain control characters."})
    _refuse_nul(key, field)
    return key


def _check_key_length(key: str, field: str) -> None:
    if len(key) > limit("MODEL_REGISTRY_MAX_KEY_LENGTH"):
        message = limit_message(f"Key '{key[:40]}...' is too long", "MODEL_REGISTRY_MAX_KEY_LENGTH")
        raise ValidationError({field: message})


def _check_value_length(text: str, field: str, what: str) -> None:
    if len(text) > limit("MODEL_REGISTRY_MAX_VALUE_LENGTH"):
        message = limit_message(f"{what} is too long", "MODEL_REGISTRY_MAX_VALUE_LENGTH")
        raise ValidationError({field: message})


def _scalar_to_str(value: Any, field: str, key: str) -> str:
    if isinstance(value, str):
        text = value
    elif isinstance(value, (bool, int, float)):
        text = str(value)
    else:
        raise ValidationError({field: f"Value of '{key}' must be a string."})
    _check_value_length(text, field, f"Value of '{key[:40]}'")
    _refuse_nul(text, field)
    return text


def clean_metric_value(value: Any, *, field: str = "metrics", key: str = "") -> float:
    if isinstance(value, bool):
        raise ValidationError({field: f"Metric '{key}' must be a number, not {value!r}."})
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValidationError({field: f"Metric '{key}' must be a number, not {value!r}."})
    if not math.isfinite(number):
        raise ValidationError({field: f"Metric '{key}' must be a finite number."})
    return number


def _mapping(value: Any, field: str) -> Mapping:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError({field: "Must be an object of key/value pairs."})
    check_key_count(value, field=field)
    return value


def check_key_count(value: Mapping | list, *, field: str) -> None:
    if len(value) > limit("MODEL_REGISTRY_MAX_KEYS"):
        raise ValidationError(
            {field: limit_message(f"{len(value)} entries are too many", "MODEL_REGISTRY_MAX_KEYS")}
        )


def clean_str_map(value: Any, *, field: str, allow_delete: bool = False) -> dict[str, str | None]:
    """Tags or parameters: str -> str. With allow_delete, a None value means 'remove this key'."""
    cleaned: dict[str, str | None] = {}
    for key, item in _mapping(value, field).items():
        key = _clean_key(key, field)
        cleaned[key] = None if (item is None and allow_delete) else _scalar_to_str(item, field, key)
    return cleaned


def clean_metrics(
    value: Any, *, field: str = "metrics", allow_delete=False
) -> dict[str, float | None]:
    cleaned: dict[str, float | None] = {}
    for key, item in _mapping(value, field).items():
        key = _clean_key(key, field)
        cleaned[key] = (
            None
            if (item is None and allow_delete)
            else clean_metric_value(item, field=field, key=key)
        )
    return cleaned


def clean_json_object(value: Any, *, field: str) -> dict[str, Any]:
    """Any JSON object that a database can store, within the size and depth limits."""
    cleaned = dict(_mapping(value, field))
    check_json(cleaned, field=field)
    return cleaned


def check_json(value: Any, *, field: str) -> None:
    """Walk a JSON value without recursion: only JSON types, each object or list within
    MODEL_REGISTRY_MAX_KEYS, keys and strings within their lengths, nesting within
    MODEL_REGISTRY_MAX_DEPTH, no NUL, finite numbers."""
    max_depth = limit("MODEL_REGISTRY_MAX_DEPTH")
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, (Mapping, list, tuple)):
            if depth > max_depth:
                raise too_deep(field)
            check_key_count(item, field=field)
            if isinstance(item, Mapping):
                for key, child in item.items():
                    if not isinstance(key, str):
                        raise ValidationError({field: "Keys must be strings."})
                    _check_key_length(key, field)
                    _refuse_nul(key, field)
                    pending.append((child, depth + 1))
            else:
                pending.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            _check_value_length(item, field, f"Text '{item[:40]}...'")
            _refuse_nul(item, field)
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise ValidationError({field: "Numbers must be finite."})
        elif not (item is None or isinstance(item, (bool, int))):
            raise ValidationError({field: f"{type(item).__name__} is not a JSON value."})


def check_depth(value: Any, *, field: str, max_depth: int) -> None:
    """Refuse JSON nested deeper than `max_depth` containers, walking without recursion."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, Mapping):
            item = item.values()
        elif not isinstance(item, (list, tuple)):
            continue
        if depth > max_depth:
            raise too_deep(field)
        pending.extend((child, depth + 1) for child in item)


def too_deep(field: str) -> ValidationError:
    return ValidationError({field: limit_message("Nested too deeply", "MODEL_REGISTRY_MAX_DEPTH")})


def clean_metadata(value: Any, *, field: str = "metadata", allow_delete=False) -> dict[str, Any]:
    """Free-form JSON: nesting counts from the metadata object itself."""
    cleaned = {}
    for key, item in _mapping(value, field).items():
        key = _clean_key(key, field)
        cleaned[key] = item
    check_json(cleaned, field=field)
    return cleaned


def merge_patch(
    current: Mapping[str, Any], patch: Mapping[str, Any], *, field: str | None = None
) -> dict[str, Any]:
    """JSON merge patch on one level: set each key, drop keys whose value is None.

    With `field`, the result must stay within MODEL_REGISTRY_MAX_KEYS, so that many small
    patches cannot grow an object past what one request may send.
    """
    merged = dict(current)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    if field is not None and len(merged) > len(current):
        check_key_count(merged, field=field)
    return merged


# Filters: every query a user types is bounded before it is parsed. Messages never carry
# the input, since django-filter formats them with '%'.
def clean_filter_text(value: Any, *, what: str = "Filter") -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be text.")
    if len(value) > limit("MODEL_REGISTRY_MAX_FILTER_LENGTH"):
        raise ValidationError(
            limit_message(f"{what} is too long", "MODEL_REGISTRY_MAX_FILTER_LENGTH")
        )
    if "\x00" in value:
        raise ValidationError(f"{what} must not contain NUL characters.")
    return value


def clean_filter_terms(values: list, *, what: str = "Filter") -> list:
    if len(values) > limit("MODEL_REGISTRY_MAX_FILTER_TERMS"):
        raise ValidationError(
            limit_message(f"{what} has too many conditions", "MODEL_REGISTRY_MAX_FILTER_TERMS")
        )
    return values


def clean_like_pattern(pattern: str, *, what: str = "Pattern") -> str:
    """A LIKE pattern: `%` and `_` are wildcards, capped in number."""
    clean_filter_text(pattern, what=what)
    if pattern.count("%") + pattern.count("_") > limit("MODEL_REGISTRY_MAX_FILTER_WILDCARDS"):
        raise ValidationError(
            limit_message(
                f"{what} has too many wildcards (% and _)", "MODEL_REGISTRY_MAX_FILTER_WILDCARDS"
            )
        )
    return pattern


class Cleaner:
    """Runs several checks and raises one ValidationError naming every bad field."""

    def __init__(self):
        self.errors: dict[str, list[str]] = {}

    def __call__(self, check, *args, **kwargs):
        try:
            return check(*args, **kwargs)
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                self.errors.setdefault(field, []).extend(messages)
            return None

    def done(self) -> None:
        if self.errors:
            raise ValidationError(self.errors)
