"""MLflow's model-registry REST protocol (`/api/2.0/mlflow/...`), on the same services as
everything else. Point `MLFLOW_REGISTRY_URI` (or `registry_uri=`) at the dashboard and the
MLflow client's registry calls work unchanged; what they do shows in the pages and /api/v1/.

Shapes follow the protos of the pinned MLflow; errors come back as
{"error_code": ..., "message": ...} with the HTTP status MLflow uses, so the client raises its
normal exceptions. Filters and order_by are parsed by MLflow's own search utilities.
"""

from __future__ import annotations

import base64
import binascii
import json
from functools import cached_property

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import F, Lookup, OuterRef, Q, Subquery
from django.db.models.fields.json import KeyTextTransform
from rest_framework import exceptions as drf_exceptions
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from models_app import selectors, services
from models_app.api.authentication import BearerTokenAuthentication, LockoutBasicAuthentication
from models_app.exceptions import ErrorKind, NotFound, describe_error
from models_app.models import ModelAlias, ModelRegistration, ModelVersion, ModelVersionStage
from models_app.selectors import tags_equal
from models_app.validation import (
    check_key_count,
    clean_filter_terms,
    clean_filter_text,
    clean_like_pattern,
    clean_version_number,
)

MAX_MODELS_PAGE = 1000  # MLflow's limits for search_registered_models / search_model_versions
MAX_VERSIONS_PAGE = 200_000
MAX_OFFSET = 2**53  # a page token's offset; the databases' limit is 2**63


class MlflowError(Exception):
    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def _ms(moment) -> int:
    return int(moment.timestamp() * 1000)


def _tags_json(mapping) -> list[dict]:
    return [{"key": key, "value": value} for key, value in mapping.items()]


def _tags(params) -> dict:
    """MLflow's `tags` parameter, a list of {"key", "value"}, as a mapping for the services."""
    tags = params.get("tags")
    if tags in (None, ""):
        return {}
    if not isinstance(tags, list) or not all(
        isinstance(tag, dict) and isinstance(tag.get("key"), str) for tag in tags
    ):
        raise MlflowError(
            "INVALID_PARAMETER_VALUE", 'Parameter tags must be a list of {"key", "value"} objects.'
        )
    check_key_count(tags, field="tags")
    return {tag["key"]: tag.get("value") for tag in tags}


# Versions are read as plain rows: lists of versions are this API's hot path.
VERSION_VALUES = (
    "pk",
    "registration_id",
    "registration__name",
    "version",
    "created_at",
    "updated_at",
    "created_by__username",
    "stage",
    "description",
    "model_source_uri",
    "experiment_run_id",
    "metadata",
    "tags",
)


def version_rows(rows) -> list[dict]:
    """MLflow ModelVersion JSON for rows of VERSION_VALUES (queryset or list), with aliases."""
    rows = list(rows)
    aliases: dict[int, list[str]] = {}
    for version_id, name in ModelAlias.objects.filter(
        version_id__in=[r["pk"] for r in rows]
    ).values_list("version_id", "name"):
        aliases.setdefault(version_id, []).append(name)
    return [
        {
            "name": row["registration__name"],
            "version": str(row["version"]),
            "creation_timestamp": _ms(row["created_at"]),
            "last_updated_timestamp": _ms(row["updated_at"]),
            "user_id": row["created_by__username"] or "",
            "current_stage": row["stage"],
            "description": row["description"],
            "source": row["model_source_uri"],
            "run_id": row["experiment_run_id"],
            "run_link": str(row["metadata"].get("run_link", "")),
            "status": "READY",
            "tags": _tags_json(row["tags"]),
            "aliases": sorted(aliases.get(row["pk"], [])),
        }
        for row in rows
    ]


def model_json(registration: ModelRegistration, latest: list[dict], aliases: list[dict]) -> dict:
    return {
        "name": registration.name,
        "creation_timestamp": _ms(registration.created_at),
        "last_updated_timestamp": _ms(registration.updated_at),
        "user_id": registration.created_by.username if registration.created_by_id else "",
        "description": registration.description,
        "tags": _tags_json(registration.tags),
        "aliases": aliases,
        "latest_versions": latest,
    }


def models_json(registrations: list[ModelRegistration]) -> list[dict]:
    """MLflow RegisteredModel JSON for each registration: three queries for any number."""
    latest = latest_per_stage(registrations)
    aliases: dict[int, list[dict]] = {registration.pk: [] for registration in registrations}
    # Plain rows: alias objects with their versions would cost more than the rest of a page.
    for registration_id, alias, number in (
        ModelAlias.objects.filter(registration__in=list(aliases))
        .order_by("name")
        .values_list("registration_id", "name", "version__version")
    ):
        aliases[registration_id].append({"alias": alias, "version": str(number)})
    return [model_json(r, latest[r.pk], aliases[r.pk]) for r in registrations]


def _models_query():
    return ModelRegistration.objects.select_related("registry", "created_by")


def latest_per_stage(
    registrations: list[ModelRegistration], stages: list[str] | None = None
) -> dict[int, list]:
    """The latest version in each stage (MLflow's latest_versions) of each registration.

    Two indexed queries: the id of the highest version per stage, then those versions.
    """
    stages = stages or ModelVersionStage.values
    highest = {
        f"latest_{index}": Subquery(
            ModelVersion.objects.filter(registration=OuterRef("pk"), stage=stage)
            .order_by("-version")
            .values("pk")[:1]
        )
        for index, stage in enumerate(stages)
    }
    rows = ModelRegistration.objects.filter(pk__in=[r.pk for r in registrations]).annotate(
        **highest
    )
    ids = [pk for row in rows.values_list(*highest) for pk in row if pk]
    result = {registration.pk: [] for registration in registrations}
    versions = ModelVersion.objects.filter(pk__in=ids).order_by("version").values(*VERSION_VALUES)
    for row, body in zip(versions, version_rows(versions)):
        result[row["registration_id"]].append(body)
    return result


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


def _like(field, comparator: str, pattern) -> Q:
    try:
        pattern = clean_like_pattern(pattern, what=f"The {comparator} pattern")
    except ValidationError as exc:
        raise MlflowError("INVALID_PARAMETER_VALUE", " ".join(exc.messages))
    return Q(MlflowLike(field, pattern, case_sensitive=comparator == "LIKE"))


def _condition(field, comparator: str, value) -> Q:
    """One parsed MLflow filter clause on a field name or a JSON tag expression."""
    if comparator == "IN":
        return Q(**{f"{field}__in": list(value)}) if isinstance(field, str) else Q()
    if comparator in ("LIKE", "ILIKE"):
        return _like(F(field) if isinstance(field, str) else field, comparator, value)
    if isinstance(field, str):
        lookups = {
            "=": "exact",
            ">": "gt",
            "<": "lt",
            ">=": "gte",
            "<=": "lte",
        }
        if comparator == "!=":
            return ~Q(**{field: value})
        if comparator not in lookups:
            raise MlflowError(
                "INVALID_PARAMETER_VALUE", f"Comparator {comparator} is not supported here."
            )
        return Q(**{f"{field}__{lookups[comparator]}": value})
    raise MlflowError(
        "INVALID_PARAMETER_VALUE", f"Comparator {comparator} is not supported for tags."
    )


def _parse(parser, text: str | None):
    """MLflow's own filter parser, on a filter bounded first in length and terms."""
    from mlflow.exceptions import MlflowException

    if not text:
        return []
    try:
        clean_filter_text(text, what="The filter")
        clauses = clean_filter_terms(parser(text), what="The filter")
    except MlflowException as exc:
        raise MlflowError("INVALID_PARAMETER_VALUE", exc.message)
    except ValidationError as exc:
        raise MlflowError("INVALID_PARAMETER_VALUE", " ".join(exc.messages))
    return clauses


def _filter(queryset, clauses, attributes: dict[str, str], tag_field: str):
    for clause in clauses:
        key, comparator, value = clause["key"], clause["comparator"], clause["value"]
        if clause["type"] == "tag":
            if comparator == "=":
                queryset = queryset.filter(tags_equal(tag_field, {key: value}))
            elif comparator == "!=":
                # As MLflow: a model without the tag matches `tags.k != 'v'`.
                queryset = queryset.exclude(
                    Q(**{f"{tag_field}__has_key": key}) & tags_equal(tag_field, {key: value})
                )
            else:
                queryset = queryset.filter(
                    _condition(KeyTextTransform(key, tag_field), comparator, value)
                )
        elif key in attributes:
            queryset = queryset.filter(_condition(attributes[key], comparator, value))
        else:
            raise MlflowError(
                "INVALID_PARAMETER_VALUE", f"Invalid attribute key '{key}' in the filter."
            )
    return queryset


def _order(queryset, order_by: list[str], parse, fields: dict[str, str], default: list[str]):
    from mlflow.exceptions import MlflowException

    ordering = []
    try:
        clean_filter_terms(order_by, what="order_by")
        for item in order_by:
            clean_filter_text(item, what="order_by")
    except ValidationError as exc:
        raise MlflowError("INVALID_PARAMETER_VALUE", " ".join(exc.messages))
    for item in order_by:
        try:
            _, key, ascending = parse(item)
        except MlflowException as exc:
            raise MlflowError("INVALID_PARAMETER_VALUE", exc.message)
        if key not in fields:
            raise MlflowError("INVALID_PARAMETER_VALUE", f"Invalid order_by key '{key}'.")
        ordering.append(("" if ascending else "-") + fields[key])
    return queryset.order_by(*(ordering or default), "pk")


def _offset(page_token) -> int:
    """The offset in a page token of ours (base64 of {"offset": n}); anything else is refused."""
    if not page_token:
        return 0
    invalid = MlflowError(
        "INVALID_PARAMETER_VALUE", "Invalid page_token: not one this server handed out."
    )
    try:
        token = json.loads(base64.b64decode(clean_filter_text(page_token), validate=True))
    except (ValidationError, binascii.Error, ValueError, RecursionError):
        raise invalid
    offset = token.get("offset") if isinstance(token, dict) else None
    if isinstance(offset, str) and offset.isdecimal() and len(offset) < 20:
        offset = int(offset)
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= MAX_OFFSET:
        raise invalid
    return offset


def _page(queryset, params, limit: int, default: int):
    from mlflow.utils.search_utils import SearchUtils

    try:
        max_results = int(params.get("max_results") or default)
    except ValueError:
        raise MlflowError("INVALID_PARAMETER_VALUE", "max_results must be a whole number.")
    if not 1 <= max_results <= limit:
        raise MlflowError(
            "INVALID_PARAMETER_VALUE", f"Invalid value for max_results: it must be 1 to {limit}."
        )
    offset = _offset(params.get("page_token"))
    rows = list(queryset[offset : offset + max_results + 1])
    token = (
        SearchUtils.create_page_token(offset + max_results).decode()
        if len(rows) > max_results
        else None
    )
    return rows[:max_results], token


class MlflowRegistryAPI(APIView):
    """Every registry operation of MLflow's REST API, dispatched on (path, method)."""

    authentication_classes = [BearerTokenAuthentication, LockoutBasicAuthentication]
    permission_classes = [IsAuthenticated]
    schema = None  # MLflow's protocol, documented by MLflow; kept out of our OpenAPI schema

    def get_exception_handler(self):
        return mlflow_exception_handler

    def _dispatch(self, request, operation: str):
        handler = ROUTES.get((operation.strip("/"), request.method))
        if handler is None:
            raise MlflowError(
                "ENDPOINT_NOT_FOUND",
                f"No MLflow registry endpoint {request.method} {operation}.",
                404,
            )
        params = request.query_params if request.method == "GET" else request.data
        if not hasattr(params, "get"):
            raise MlflowError("MALFORMED_REQUEST", "The request body must be a JSON object.")
        return Response(handler(self, request, params) or {})

    get = post = patch = delete = lambda self, request, operation: self._dispatch(
        request, operation
    )

    # helpers ---------------------------------------------------------------------------
    registry_name = property(
        lambda self: getattr(settings, "MLFLOW_API_REGISTRY", None) or "default"
    )

    @cached_property
    def registry(self):
        return selectors.registry_get(self.registry_name)

    def _required(self, params, key: str) -> str:
        value = params.get(key)
        if value in (None, ""):
            raise MlflowError(
                "INVALID_PARAMETER_VALUE", f"Missing value for required parameter '{key}'."
            )
        if not isinstance(value, str):
            raise MlflowError("INVALID_PARAMETER_VALUE", f"Parameter '{key}' must be a string.")
        return value

    def _registration(self, params, key="name") -> ModelRegistration:
        name = self._required(params, key)
        try:
            return selectors.registration_get(registry=self.registry, name=name)
        except NotFound:
            raise MlflowError(
                "RESOURCE_DOES_NOT_EXIST", f"Registered Model with name={name} not found", 404
            )

    def _version(self, params) -> ModelVersion:
        registration = self._registration(params)
        raw = self._required(params, "version")
        try:
            number = clean_version_number(raw)
            return selectors.version_get(registration=registration, version=number)
        except (ValidationError, NotFound):
            raise MlflowError(
                "RESOURCE_DOES_NOT_EXIST",
                f"Model Version (name={registration.name}, version={raw}) not found",
                404,
            )

    def _model_response(self, registration: ModelRegistration) -> dict:
        return {"registered_model": models_json([_models_query().get(pk=registration.pk)])[0]}

    def _version_response(self, version: ModelVersion) -> dict:
        return {
            "model_version": version_rows(
                ModelVersion.objects.filter(pk=version.pk).values(*VERSION_VALUES)
            )[0]
        }

    # registered models -----------------------------------------------------------------
    def create_model(self, request, params):
        tags = _tags(params)
        registration = services.registration_create(
            registry=self.registry,
            name=self._required(params, "name"),
            description=params.get("description") or "",
            tags=tags,
            user=request.user,
        )
        return self._model_response(registration)

    def get_model(self, request, params):
        name = self._required(params, "name")
        found = None
        if "\x00" not in name:
            found = next(
                iter(
                    _models_query()
                    .filter(registry__name=self.registry_name, name=name)
                    .order_by()[:1]
                ),
                None,
            )
        if found is None:  # the usual path finds out what is missing
            return self._model_response(self._registration(params))
        return {"registered_model": models_json([found])[0]}

    def rename_model(self, request, params):
        registration = services.registration_rename(
            registration=self._registration(params),
            new_name=self._required(params, "new_name"),
            user=request.user,
        )
        return self._model_response(registration)

    def update_model(self, request, params):
        registration = services.registration_update(
            registration=self._registration(params),
            description=params.get("description") or "",
            user=request.user,
        )
        return self._model_response(registration)

    def delete_model(self, request, params):
        services.registration_delete(registration=self._registration(params), user=request.user)

    def search_models(self, request, params):
        from mlflow.utils.search_utils import SearchModelUtils

        clauses = _parse(SearchModelUtils.parse_search_filter, params.get("filter"))
        queryset = _filter(
            _models_query().filter(registry=self.registry), clauses, {"name": "name"}, "tags"
        )
        queryset = _order(
            queryset,
            _list(params, "order_by"),
            SearchModelUtils.parse_order_by_for_search_registered_models,
            {
                "name": "name",
                "creation_timestamp": "created_at",
                "timestamp": "created_at",
                "last_updated_timestamp": "updated_at",
            },
            ["name"],
        )
        rows, token = _page(queryset, params, MAX_MODELS_PAGE, 100)
        body = {"registered_models": models_json(rows)}
        if token:
            body["next_page_token"] = token
        return body

    def latest_versions(self, request, params):
        registration = self._registration(params)
        stages = [_stage(s) for s in _list(params, "stages")]
        return {"model_versions": latest_per_stage([registration], stages)[registration.pk]}

    def set_model_tag(self, request, params):
        services.registration_update(
            registration=self._registration(params),
            tags={self._required(params, "key"): str(params.get("value", ""))},
            user=request.user,
        )

    def delete_model_tag(self, request, params):
        registration = self._registration(params)
        key = self._required(params, "key")
        if key not in registration.tags:
            raise MlflowError(
                "RESOURCE_DOES_NOT_EXIST",
                f"No tag with name: {key} in model {registration.name}",
                404,
            )
        services.registration_update(registration=registration, tags={key: None}, user=request.user)

    def set_alias(self, request, params):
        version = self._version(params)
        services.alias_set(
            version=version, alias=self._required(params, "alias"), user=request.user
        )

    def delete_alias(self, request, params):
        registration = self._registration(params)
        try:
            services.alias_delete(
                registration=registration, alias=self._required(params, "alias"), user=request.user
            )
        except NotFound:
            pass  # MLflow deletes an alias that is not there without complaint

    def get_by_alias(self, request, params):
        registration = self._registration(params)
        alias = self._required(params, "alias")
        try:
            version = selectors.version_by_alias(registration=registration, alias=alias)
        except NotFound:
            raise MlflowError(
                "INVALID_PARAMETER_VALUE", f"Registered model alias {alias} not found."
            )
        return self._version_response(version)

    # model versions --------------------------------------------------------------------
    def create_version(self, request, params):
        registration = self._registration(params)
        metadata = {}
        for key in ("run_link", "model_id"):
            if params.get(key):
                metadata[key] = params[key]
        version = services.version_register(
            registry=registration.registry,
            name=registration.name,
            model_source_uri=self._required(params, "source"),
            description=params.get("description") or "",
            tags=_tags(params),
            experiment_run_id=params.get("run_id") or "",
            metadata=metadata,
            model_format="mlflow",
            user=request.user,
        )
        return self._version_response(version)

    def get_version(self, request, params):
        # One query when the address is right; otherwise the usual path finds out what is wrong.
        name, raw, number = params.get("name"), params.get("version"), None
        if isinstance(name, str) and name and "\x00" not in name and isinstance(raw, str):
            try:
                number = clean_version_number(raw)
            except ValidationError:
                pass
        if number:
            rows = version_rows(
                ModelVersion.objects.filter(
                    registration__registry__name=self.registry_name,
                    registration__name=name,
                    version=number,
                ).values(*VERSION_VALUES)
            )
            if rows:
                return {"model_version": rows[0]}
        return self._version_response(self._version(params))

    def update_version(self, request, params):
        version = services.version_update(
            version=self._version(params),
            description=params.get("description") or "",
            user=request.user,
        )
        return self._version_response(version)

    def delete_version(self, request, params):
        services.version_delete(version=self._version(params), user=request.user)

    def search_versions(self, request, params):
        from mlflow.utils.search_utils import SearchModelVersionUtils

        clauses = _parse(SearchModelVersionUtils.parse_search_filter, params.get("filter"))
        queryset = _filter(
            ModelVersion.objects.filter(registration__registry=self.registry),
            clauses,
            {
                "name": "registration__name",
                "run_id": "experiment_run_id",
                "source_path": "model_source_uri",
                "version_number": "version",
            },
            "tags",
        )
        queryset = _order(
            queryset,
            _list(params, "order_by"),
            SearchModelVersionUtils.parse_order_by_for_search_model_versions,
            {
                "name": "registration__name",
                "version_number": "version",
                "creation_timestamp": "created_at",
                "timestamp": "created_at",
                "last_updated_timestamp": "updated_at",
            },
            ["registration__name", "-version"],
        )
        rows, token = _page(queryset.values(*VERSION_VALUES), params, MAX_VERSIONS_PAGE, 10_000)
        body = {"model_versions": version_rows(rows)}
        if token:
            body["next_page_token"] = token
        return body

    def transition_stage(self, request, params):
        version = services.version_transition_stage(
            version=self._version(params),
            stage=_stage(self._required(params, "stage")),
            archive_existing=_bool(params.get("archive_existing_versions")),
            user=request.user,
            comment="Through the MLflow-compatible API.",
        )
        return self._version_response(version)

    def download_uri(self, request, params):
        return {"artifact_uri": self._version(params).model_source_uri}

    def set_version_tag(self, request, params):
        services.version_update(
            version=self._version(params),
            tags={self._required(params, "key"): str(params.get("value", ""))},
            user=request.user,
        )

    def delete_version_tag(self, request, params):
        version = self._version(params)
        key = self._required(params, "key")
        if key not in version.tags:
            raise MlflowError(
                "RESOURCE_DOES_NOT_EXIST",
                f"No tag with name: {key} for model version {version}",
                404,
            )
        services.version_update(version=version, tags={key: None}, user=request.user)


def _list(params, key: str) -> list[str]:
    if hasattr(params, "getlist"):
        return [v for v in params.getlist(key) if v]
    value = params.get(key) or []
    return value if isinstance(value, list) else [value]


def _bool(value) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _stage(value: str) -> str:
    for stage in ModelVersionStage.values:
        if str(value).lower() == stage.lower():
            return stage
    raise MlflowError(
        "INVALID_PARAMETER_VALUE",
        f"Invalid Model Version stage: {value}. "
        f"Value must be one of {', '.join(ModelVersionStage.values)}.",
    )


R = MlflowRegistryAPI
ROUTES = {
    ("registered-models/create", "POST"): R.create_model,
    ("registered-models/get", "GET"): R.get_model,
    ("registered-models/rename", "POST"): R.rename_model,
    ("registered-models/update", "PATCH"): R.update_model,
    ("registered-models/delete", "DELETE"): R.delete_model,
    ("registered-models/search", "GET"): R.search_models,
    ("registered-models/get-latest-versions", "POST"): R.latest_versions,
    ("registered-models/get-latest-versions", "GET"): R.latest_versions,
    ("registered-models/set-tag", "POST"): R.set_model_tag,
    ("registered-models/delete-tag", "DELETE"): R.delete_model_tag,
    ("registered-models/alias", "POST"): R.set_alias,
    ("registered-models/alias", "DELETE"): R.delete_alias,
    ("registered-models/alias", "GET"): R.get_by_alias,
    ("model-versions/create", "POST"): R.create_version,
    ("model-versions/get", "GET"): R.get_version,
    ("model-versions/update", "PATCH"): R.update_version,
    ("model-versions/delete", "DELETE"): R.delete_version,
    ("model-versions/search", "GET"): R.search_versions,
    ("model-versions/transition-stage", "POST"): R.transition_stage,
    ("model-versions/get-download-uri", "GET"): R.download_uri,
    ("model-versions/set-tag", "POST"): R.set_version_tag,
    ("model-versions/delete-tag", "DELETE"): R.delete_version_tag,
}


# MLflow's error code and HTTP status for each kind of domain error.
_MLFLOW_ERRORS = {
    ErrorKind.INVALID: ("INVALID_PARAMETER_VALUE", 400),
    ErrorKind.PERMISSION_DENIED: ("PERMISSION_DENIED", 403),
    ErrorKind.NOT_FOUND: ("RESOURCE_DOES_NOT_EXIST", 404),
    ErrorKind.CONFLICT: ("RESOURCE_ALREADY_EXISTS", 400),
    ErrorKind.NOT_SUPPORTED: ("INVALID_STATE", 400),
    ErrorKind.BACKEND_ERROR: ("TEMPORARILY_UNAVAILABLE", 503),
}


def mlflow_exception_handler(exc, context):
    """Every error in MLflow's shape and status, so its client raises what it normally does."""
    report = describe_error(exc)
    if isinstance(exc, MlflowError):
        code, message, status = exc.code, exc.message, exc.status
    elif report is not None:
        (code, status), message = _MLFLOW_ERRORS[report.kind], report.line()
    elif isinstance(exc, drf_exceptions.PermissionDenied):
        code, message, status = "PERMISSION_DENIED", str(exc), 403
    elif isinstance(exc, drf_exceptions.Throttled):
        code, message, status = "REQUEST_LIMIT_EXCEEDED", str(exc.detail), 429
    elif isinstance(exc, (drf_exceptions.NotAuthenticated, drf_exceptions.AuthenticationFailed)):
        code, message, status = "UNAUTHENTICATED", str(exc.detail), 401
    elif isinstance(exc, drf_exceptions.APIException):
        code, message, status = "BAD_REQUEST", str(exc.detail), 400
    else:
        return None
    response = Response({"error_code": code, "message": message}, status=status)
    if isinstance(exc, drf_exceptions.Throttled) and exc.wait:
        response["Retry-After"] = str(int(exc.wait))
    return response
