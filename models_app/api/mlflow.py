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
import functools
import json
from functools import cached_property
from urllib.parse import urlparse

from django.conf import settings
from django.core.exceptions import ValidationError
from rest_framework import exceptions as drf_exceptions
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from models_app import access, selectors, services
from models_app.api.authentication import BearerTokenAuthentication, LockoutBasicAuthentication
from models_app.exceptions import Conflict, ErrorKind, GateFailed, NotFound, describe_error
from models_app.models import ModelRegistration, ModelVersion, ModelVersionStage
from models_app.prepared import PreparedRead
from models_app.validation import (
    check_key_count,
    clean_filter_terms,
    clean_filter_text,
    clean_version_number,
)

MAX_MODELS_PAGE = 1000  # MLflow's limits for search_registered_models / search_model_versions
MAX_VERSIONS_PAGE = 200_000
MAX_OFFSET = 2**53  # a page token's offset; the databases' limit is 2**63


def preload() -> None:
    """Import the MLflow utilities this API uses (~3 s): a serving process does it when it
    starts, not during the first request it serves (the lazy imports keep the CLI fast)."""
    import mlflow.protos.databricks_pb2
    import mlflow.store.artifact.utils.models
    import mlflow.utils.search_utils
    import mlflow.utils.uri
    import mlflow.utils.validation  # noqa: F401


class MlflowError(Exception):
    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status

    @classmethod
    def of(cls, exc) -> MlflowError:
        """An MlflowException raised by MLflow's own validators, with MLflow's status."""
        return cls(exc.error_code, exc.message, exc.get_http_status_code())


SEE_DOCS = " See the API docs for more information about request parameters."


def _mlflow_check(check, *args):
    """Run one of MLflow's own validators, so refusals carry MLflow's exact words."""
    from mlflow.exceptions import MlflowException

    try:
        return check(*args)
    except MlflowException as exc:
        raise MlflowError.of(exc)


def _version_not_found(name, version) -> MlflowError:
    return MlflowError(
        "RESOURCE_DOES_NOT_EXIST", f"Model Version (name={name}, version={version}) not found", 404
    )


def _model_not_found(name) -> MlflowError:
    return MlflowError(
        "RESOURCE_DOES_NOT_EXIST", f"Registered Model with name={name} not found", 404
    )


def _ms(moment) -> int:
    return int(moment.timestamp() * 1000)


def _tags_json(mapping) -> list[dict]:
    return [{"key": key, "value": value} for key, value in mapping.items()]


def _checked_tags(params, check) -> dict[str, str]:
    """The `tags` parameter, each tag judged by MLflow's own validator `check`."""
    found = {key: "" if value is None else value for key, value in _tags(params).items()}
    for key, value in found.items():
        _mlflow_check(check, key, value)
    return found


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


def version_rows(rows, with_aliases: bool = True) -> list[dict]:
    """MLflow ModelVersion JSON for rows of VERSION_VALUES (queryset or list), with aliases
    unless `with_aliases` is false (MLflow leaves them out of a model's latest_versions)."""
    rows = list(rows)
    aliases = selectors.alias_names_by_version(r["pk"] for r in rows) if with_aliases else {}
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
            # The LoggedModel it was registered from (MLflow 3), when there is one.
            **(
                {"model_id": str(row["metadata"]["model_id"])}
                if "model_id" in row["metadata"]
                else {}
            ),
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
    """MLflow RegisteredModel JSON for each registration: two queries for any number."""
    latest = latest_per_stage(registrations)
    # Plain rows: alias objects with their versions would cost more than the rest of a page.
    aliases = {
        pk: [{"alias": alias, "version": str(number)} for alias, number in rows]
        for pk, rows in selectors.alias_rows_by_registration(registrations).items()
    }
    return [model_json(r, latest[r.pk], aliases[r.pk]) for r in registrations]


def latest_per_stage(
    registrations: list[ModelRegistration],
    stages: list[str] | None = None,
    with_aliases: bool = False,
) -> dict[int, list]:
    """The latest version in each stage (MLflow's latest_versions) of each registration.

    One query ranking the versions of each stage in the database (see the selector).
    """
    versions = selectors.version_latest_per_stage(
        registrations=registrations,
        stages=stages or ModelVersionStage.values,
        fields=VERSION_VALUES,
    )
    result = {registration.pk: [] for registration in registrations}
    for row, body in zip(versions, version_rows(versions, with_aliases)):
        result[row["registration_id"]].append(body)
    return result


TAG_COMPARATORS = ("=", "!=", "LIKE", "ILIKE")


def _parse(parser, text: str | None):
    """MLflow's own filter parser, on a filter bounded first in length and terms."""
    from mlflow.exceptions import MlflowException

    if not text:
        return []
    try:
        clean_filter_text(text, what="The filter")
        clauses = clean_filter_terms([dict(c) for c in _parsed(parser, text)], what="The filter")
    except MlflowException as exc:
        raise MlflowError("INVALID_PARAMETER_VALUE", exc.message)
    return clauses


# MLflow's parsers (sqlparse) cost more than the rest of a search: clients send the same few
# filters and orders over and over. Bounded texts only; a refusal is never cached.
@functools.lru_cache(maxsize=512)
def _parsed(parser, text: str) -> tuple:
    return tuple(parser(text))


@functools.lru_cache(maxsize=512)
def _parsed_order(parser, text: str):
    return parser(text)


def _invalid(message: str) -> MlflowError:
    return MlflowError("INVALID_PARAMETER_VALUE", message)


def _filter(queryset, clauses, check_attribute, attributes: dict[str, str], tag_field: str):
    """Apply parsed clauses, refusing what MLflow's store refuses with its words.

    A tag clause matches only rows that have the tag (MLflow joins on the tag rows), so
    `tags.k != 'v'` does not match a row without `k`.
    """
    checked = []
    for clause in clauses:
        key, comparator, value = clause["key"], clause["comparator"], clause["value"]
        if clause["type"] == "tag":
            if comparator not in TAG_COMPARATORS:
                raise _invalid(f"Invalid comparator for tag: {comparator}")
            if key != PROMPT_TAG:  # MLflow answers this one with prompts or without them
                checked.append(clause)
        elif clause["type"] == "attribute":
            checked.append({**clause, "value": check_attribute(key, comparator, value)})
        else:
            raise _invalid(f"Invalid token type: {clause['type']}")
    # The caller's clauses first: on SQLite, which reads every row, the cheapest test leads.
    queryset = selectors.filter_by_clauses(
        queryset, checked, fields=attributes, tag_field=tag_field
    )
    return selectors.tagged(
        queryset, PROMPT_TAG, "true", present=_asks_for_prompts(clauses), tag_field=tag_field
    )


PROMPT_TAG = "mlflow.prompt.is_prompt"


def _asks_for_prompts(clauses) -> bool:
    """MLflow's rule: searches leave prompts out unless the filter asks for them."""
    for clause in clauses:
        if clause["type"] == "tag" and clause["key"] == PROMPT_TAG:
            value = str(clause["value"]).lower()
            return (clause["comparator"] == "=" and value == "true") or (
                clause["comparator"] == "!=" and value == "false"
            )
    return False


def _check_model_attribute(key, comparator, value):
    if key != "name":
        raise _invalid(f"Invalid attribute name: {key}")
    if comparator not in ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"):
        raise _invalid(f"Invalid comparator for attribute: {comparator}")
    return value


def _check_version_attribute(key, comparator, value):
    from mlflow.utils.search_utils import SearchModelVersionUtils as Utils

    if key not in Utils.VALID_SEARCH_ATTRIBUTE_KEYS:
        raise _invalid(f"Invalid attribute name: {key}")
    if key in Utils.NUMERIC_ATTRIBUTES:
        if comparator not in Utils.VALID_NUMERIC_ATTRIBUTE_COMPARATORS:
            raise _invalid(f"Invalid comparator for attribute {key}: {comparator}")
        if isinstance(value, float):
            raise _invalid(f"Invalid value for numeric attribute '{key}': {value!r}")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise _invalid(f"Invalid value for numeric attribute '{key}': {value!r}")
    if comparator not in Utils.VALID_STRING_ATTRIBUTE_COMPARATORS or (
        comparator in ("IN", "NOT IN") and key not in ("run_id", "name")
    ):
        raise _invalid(f"Invalid comparator for attribute: {comparator}")
    return value


def _bound_order(order_by: list[str]) -> None:
    clean_filter_terms(order_by, what="order_by")
    for item in order_by:
        clean_filter_text(item, what="order_by")


def _duplicate_order(order_by: list[str]) -> MlflowError:
    # MLflow answers this with INTERNAL_ERROR (500), which its client retries; we say 400.
    return _invalid(f"`order_by` contains duplicate fields: {order_by}")


def _order_models(queryset, order_by: list[str]):
    """MLflow's order for registered models: the given keys, then name ascending."""
    from mlflow.exceptions import MlflowException
    from mlflow.utils.search_utils import SearchUtils

    _bound_order(order_by)
    ordering, seen = [], set()
    for item in order_by:
        try:
            key, ascending = _parsed_order(
                SearchUtils.parse_order_by_for_search_registered_models, item
            )
        except MlflowException as exc:
            raise MlflowError.of(exc)
        if key == "name":
            field = "name"
        elif key in SearchUtils.VALID_TIMESTAMP_ORDER_BY_KEYS:
            field = "updated_at"
        else:
            raise _invalid(
                f"Invalid order by key '{key}' specified.Valid keys are "
                f"'{SearchUtils.RECOMMENDED_ORDER_BY_KEYS_REGISTERED_MODELS}'"
            )
        if field in seen:
            raise _duplicate_order(order_by)
        seen.add(field)
        ordering.append(("" if ascending else "-") + field)
    if "name" not in seen:
        ordering.append("name")
    return queryset.order_by(*ordering)


VERSION_ORDER_FIELDS = {
    "name": "registration__name",
    "version_number": "version",
    "creation_timestamp": "created_at",
    "last_updated_timestamp": "updated_at",
}


def _order_versions(queryset, order_by: list[str]):
    """MLflow's order for versions: most recently updated first by default; the given keys
    otherwise; ties by name ascending, then version descending."""
    from mlflow.exceptions import MlflowException
    from mlflow.utils.search_utils import SearchModelVersionUtils as Utils

    _bound_order(order_by)
    given = order_by or ["last_updated_timestamp DESC", "name ASC", "version_number DESC"]
    ordering, seen = [], set()
    for item in given:
        try:
            _, key, ascending = _parsed_order(Utils.parse_order_by_for_search_model_versions, item)
        except MlflowException as exc:
            raise MlflowError.of(exc)
        if key not in VERSION_ORDER_FIELDS:
            raise _invalid(
                f"Invalid order by key '{key}' specified. Valid keys are "
                f"{Utils.VALID_ORDER_BY_ATTRIBUTE_KEYS}"
            )
        field = VERSION_ORDER_FIELDS[key]
        if field in seen:
            raise _duplicate_order(order_by)
        seen.add(field)
        ordering.append(("" if ascending else "-") + field)
    if "registration__name" not in seen:
        ordering.append("registration__name")
    if "version" not in seen:
        ordering.append("-version")
    return queryset.order_by(*ordering)


VERSION_ATTRIBUTES = {
    "name": "registration__name",
    "run_id": "experiment_run_id",
    "source_path": "model_source_uri",
    "version_number": "version",
}
VERSIONS_PAGE = 10_000  # MLflow's default max_results for search_model_versions


def _versions_found(queryset, clauses, order_by: list[str]):
    """search_model_versions: the versions matching `clauses`, in MLflow's order, as rows."""
    queryset = _filter(queryset, clauses, _check_version_attribute, VERSION_ATTRIBUTES, "tags")
    return _order_versions(queryset, order_by).values(*VERSION_VALUES)


def _only_name(clauses) -> str | None:
    """The name in a filter that is exactly `name = '<name>'`, else None."""
    if len(clauses) == 1:
        clause = clauses[0]
        if (clause["type"], clause["key"], clause["comparator"]) == ("attribute", "name", "="):
            value = clause["value"]
            return value if isinstance(value, str) and "\x00" not in value else None
    return None


def _name_clause(name: str) -> dict:
    return {"type": "attribute", "key": "name", "comparator": "=", "value": name}


_VERSIONS_NAMED = PreparedRead(
    lambda registry, name: _versions_found(
        selectors.version_search(registry=registry), [_name_clause(name)], []
    )[: VERSIONS_PAGE + 1],
    int,
    str,
)


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
    from mlflow.utils.validation import invalid_value

    raw = params.get("max_results")
    try:
        max_results = default if raw in (None, "") else int(raw)
        valid = not isinstance(raw, (bool, float)) and max_results <= limit
    except (TypeError, ValueError):
        valid = False
    if not valid:
        hint = f" Hint: Value was of type '{type(raw).__name__}'."
        raise _invalid(invalid_value("max_results", raw, hint) + SEE_DOCS)
    if max_results < 1:
        # MLflow refuses this for versions; for models it answers oddly (SQL LIMIT 0 or none).
        raise _invalid(
            f"Invalid value for max_results. It must be a positive integer, but got {max_results}"
        )
    offset = _offset(params.get("page_token"))
    return _paged(list(queryset[offset : offset + max_results + 1]), offset, max_results)


def _paged(rows: list, offset: int, max_results: int):
    """A page and the next page's token, from up to max_results + 1 rows read at offset."""
    from mlflow.utils.search_utils import SearchUtils

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
            raise _invalid(f"Missing value for required parameter '{key}'.{SEE_DOCS}")
        return self._string(params, key)

    def _string(self, params, key: str, default: str = "") -> str:
        from mlflow.utils.validation import invalid_value

        value = params.get(key)
        if value is None:
            return default
        if not isinstance(value, str):
            hint = f" Hint: Value was of type '{type(value).__name__}'."
            raise _invalid(invalid_value(key, value, hint) + SEE_DOCS)
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # valid JSON, but no database stores it
            raise _invalid(
                f"Parameter '{key}' must be valid Unicode text (no unpaired surrogates)."
            )
        return value

    def _name(self, params, key="name") -> str:
        from mlflow.utils.validation import _validate_model_name

        name = self._required(params, key)
        _mlflow_check(_validate_model_name, name)
        return name

    def _registration(self, params, key="name") -> ModelRegistration:
        name = self._name(params, key)
        try:
            registration = selectors.registration_get(registry=self.registry, name=name)
        except NotFound:
            raise _model_not_found(name)
        if not access.can(self.request.user, registration, access.Role.VIEWER):
            raise _model_not_found(name)
        return registration

    def _version(self, params) -> ModelVersion:
        from mlflow.utils.validation import _validate_model_version

        name = self._name(params)
        number = _mlflow_check(_validate_model_version, self._required(params, "version"))
        return self._version_of(name, number)

    def _version_of(self, name: str, number: int) -> ModelVersion:
        try:
            registration = selectors.registration_get(registry=self.registry, name=name)
            if not access.can(self.request.user, registration, access.Role.VIEWER):
                raise NotFound(name)
            return selectors.version_get(
                registration=registration, version=clean_version_number(number)
            )
        except (ValidationError, NotFound):
            raise _version_not_found(name, number)

    def _model_response(self, registration: ModelRegistration) -> dict:
        found = selectors.registration_search(registry=self.registry).get(pk=registration.pk)
        return {"registered_model": models_json([found])[0]}

    def _version_response(self, version: ModelVersion) -> dict:
        return {
            "model_version": version_rows(
                selectors.version_rows(versions=[version.pk], fields=VERSION_VALUES)
            )[0]
        }

    # registered models -----------------------------------------------------------------
    def create_model(self, request, params):
        from mlflow.utils.validation import _validate_registered_model_tag

        name = self._name(params)
        tags = _checked_tags(params, _validate_registered_model_tag)
        try:
            registration = services.registration_create(
                registry=self.registry,
                name=name,
                description=self._string(params, "description"),
                tags=tags,
                user=request.user,
            )
        except Conflict:
            raise MlflowError(
                "RESOURCE_ALREADY_EXISTS", f"Registered Model (name={name}) already exists."
            )
        return self._model_response(registration)

    def get_model(self, request, params):
        name = self._required(params, "name")
        found = None
        if access.reads_everything(request.user):
            found = selectors.registration_search_at(registry=self.registry_name, name=name)
        elif "\x00" not in name:
            found = next(
                iter(
                    access.readable_registrations(
                        request.user, selectors.registration_search(registry=self.registry_name)
                    )
                    .filter(name=name)
                    .order_by()[:1]
                ),
                None,
            )
        if found is None:  # the usual path finds out what is missing
            return self._model_response(self._registration(params))
        return {"registered_model": models_json([found])[0]}

    def rename_model(self, request, params):
        from mlflow.utils.validation import _validate_model_renaming

        self._required(params, "name")
        new_name = self._required(params, "new_name")
        _mlflow_check(_validate_model_renaming, new_name)
        registration = self._registration(params)
        try:
            registration = services.registration_rename(
                registration=registration, new_name=new_name, user=request.user
            )
        except Conflict:
            # MLflow appends its database's own error text, which we do not have.
            raise MlflowError(
                "RESOURCE_ALREADY_EXISTS", f"Registered Model (name={new_name}) already exists."
            )
        return self._model_response(registration)

    def update_model(self, request, params):
        registration = services.registration_update(
            registration=self._registration(params),
            description=self._string(params, "description"),
            user=request.user,
        )
        return self._model_response(registration)

    def delete_model(self, request, params):
        services.registration_delete(registration=self._registration(params), user=request.user)

    def search_models(self, request, params):
        from mlflow.utils.search_utils import SearchModelUtils

        clauses = _parse(SearchModelUtils.parse_search_filter, params.get("filter"))
        queryset = _filter(
            access.readable_registrations(
                request.user, selectors.registration_search(registry=self.registry)
            ),
            clauses,
            _check_model_attribute,
            {"name": "name"},
            "tags",
        )
        queryset = _order_models(queryset, _list(params, "order_by"))
        rows, token = _page(queryset, params, MAX_MODELS_PAGE, 100)
        body = {"registered_models": models_json(rows)}
        if token:
            body["next_page_token"] = token
        return body

    def latest_versions(self, request, params):
        registration = self._registration(params)
        stages = [_stage(s) for s in _list(params, "stages")]
        latest = latest_per_stage([registration], stages, with_aliases=True)
        return {"model_versions": latest[registration.pk]}

    def set_model_tag(self, request, params):
        from mlflow.utils.validation import _validate_registered_model_tag

        self._name(params)
        key, value = self._required(params, "key"), self._string(params, "value")
        _mlflow_check(_validate_registered_model_tag, key, value)
        services.registration_update(
            registration=self._registration(params), tags={key: value}, user=request.user
        )

    def delete_model_tag(self, request, params):
        from mlflow.utils.validation import _validate_tag_name

        self._name(params)
        key = self._required(params, "key")
        _mlflow_check(_validate_tag_name, key)
        registration = self._registration(params)
        if key in registration.tags:  # as MLflow: deleting a missing tag is not an error
            services.registration_update(
                registration=registration, tags={key: None}, user=request.user
            )

    def set_alias(self, request, params):
        from mlflow.utils.validation import (
            _validate_model_alias_name,
            _validate_model_alias_name_reserved,
            _validate_model_version,
        )

        name = self._name(params)
        alias = self._required(params, "alias")
        number = self._required(params, "version")
        _mlflow_check(_validate_model_alias_name, alias)
        _mlflow_check(_validate_model_alias_name_reserved, alias)
        version = self._version_of(name, _mlflow_check(_validate_model_version, number))
        services.alias_set(version=version, alias=alias, user=request.user)

    def delete_alias(self, request, params):
        from mlflow.utils.validation import _validate_model_alias_name

        self._name(params)
        alias = self._required(params, "alias")
        _mlflow_check(_validate_model_alias_name, alias)
        registration = self._registration(params)
        try:
            services.alias_delete(registration=registration, alias=alias, user=request.user)
        except NotFound:
            pass  # MLflow deletes an alias that is not there without complaint

    def get_by_alias(self, request, params):
        from mlflow.utils.validation import _validate_model_alias_name

        name = self._name(params)
        alias = self._required(params, "alias")
        _mlflow_check(_validate_model_alias_name, alias)
        registration = self._registration(params)
        if alias.lower() == "latest":
            latest = registration.versions.order_by("-version").first()
            if latest is None:
                raise MlflowError(
                    "RESOURCE_DOES_NOT_EXIST", f"Latest version not found for model {name}.", 404
                )
            return self._version_response(latest)
        try:
            version = selectors.version_by_alias(registration=registration, alias=alias)
        except NotFound:
            raise _invalid(f"Registered model alias {alias} not found.")
        return self._version_response(version)

    # model versions --------------------------------------------------------------------
    def create_version(self, request, params):
        from mlflow.utils.validation import _validate_model_version_tag

        name = self._required(params, "name")
        source = self._required(params, "source")
        run_id = self._string(params, "run_id")
        model_id = self._string(params, "model_id")
        source, run_id = self._resolve_source(source, run_id, has_run_id="run_id" in params)
        self._name(params)
        tags = _checked_tags(params, _validate_model_version_tag)
        registration = self._registration(params)
        metadata = {}
        for key, value in (("run_link", self._string(params, "run_link")), ("model_id", model_id)):
            if value:
                metadata[key] = value
        version = services.version_register(
            registry=registration.registry,
            name=name,
            model_source_uri=source,
            description=self._string(params, "description"),
            tags=tags,
            experiment_run_id=run_id,
            metadata=metadata,
            model_format="mlflow",
            user=request.user,
        )
        return self._version_response(version)

    def _resolve_source(self, source: str, run_id: str, has_run_id: bool) -> tuple[str, str]:
        """MLflow's checks of a new version's source: a `runs:/` source names the run_id
        given; a `models:/<name>/<version|stage|@alias>` source is another version here, and
        the copy gets its canonical address and its run."""
        from mlflow.store.artifact.utils.models import _parse_model_uri
        from mlflow.utils.uri import is_local_uri

        def refuse(id_name: str):
            raise _invalid(
                f"Invalid model version source: '{source}'. The {id_name} request parameter "
                "must identify the resource that contains the source."
            )

        parsed = urlparse(source)
        if parsed.scheme == "runs":
            if parsed.netloc or not run_id or source.split("/")[1:2] != [run_id]:
                refuse("run_id")
            return source, run_id
        if parsed.scheme != "models" or is_local_uri(source):
            return source, run_id
        if parsed.netloc:
            raise _invalid(
                f"Invalid model version source: '{source}'. Registered model sources must use "
                "the active model registry."
            )
        from mlflow.exceptions import MlflowException

        try:
            uri = _parse_model_uri(source)
        except MlflowException:
            refuse("model_id")
        if uri.model_id is not None:
            return source, run_id
        origin = self._registration({"name": uri.name})
        if uri.version is not None:
            found = self._version_of(origin.name, int(uri.version))
        elif uri.alias is not None:
            try:
                found = selectors.version_by_alias(registration=origin, alias=uri.alias)
            except NotFound:
                raise _invalid(f"Registered model alias {uri.alias} not found.")
        else:
            found = _latest(origin, uri.stage)
        if has_run_id and run_id != found.experiment_run_id:
            raise _invalid(
                f"Invalid model version source: '{source}'. The run_id and model_id request "
                "parameters must match the referenced model version."
            )
        return f"models:/{origin.name}/{found.version}", run_id or found.experiment_run_id

    def get_version(self, request, params):
        # One query when the address is right; otherwise the usual path finds out what is wrong.
        name, raw, number = params.get("name"), params.get("version"), None
        if isinstance(name, str) and name and "\x00" not in name and isinstance(raw, str):
            try:
                number = clean_version_number(raw)
            except ValidationError:
                pass
        if number and access.reads_everything(request.user):
            rows = version_rows(
                selectors.version_rows_at(
                    registry=self.registry_name, name=name, version=number, fields=VERSION_VALUES
                )
            )
            if rows:
                return {"model_version": rows[0]}
        return self._version_response(self._version(params))

    def update_version(self, request, params):
        version = self._version(params)
        version = services.version_update(
            version=version, description=self._string(params, "description"), user=request.user
        )
        return self._version_response(version)

    def delete_version(self, request, params):
        services.version_delete(version=self._version(params), user=request.user)

    def search_versions(self, request, params):
        from mlflow.utils.search_utils import SearchModelVersionUtils

        clauses = _parse(SearchModelVersionUtils.parse_search_filter, params.get("filter"))
        order_by = _list(params, "order_by")
        name = _only_name(clauses)
        if (
            name is not None
            and not order_by
            and not params.get("page_token")
            and params.get("max_results") in (None, "")
            and access.reads_everything(request.user)
        ):
            # What the client asks most (every version of one model): a prepared query.
            rows = _VERSIONS_NAMED(self.registry.pk, name)
            rows, token = _paged(rows, 0, VERSIONS_PAGE)
        else:
            queryset = access.readable_versions(
                request.user, selectors.version_search(registry=self.registry)
            )
            queryset = _versions_found(queryset, clauses, order_by)
            rows, token = _page(queryset, params, MAX_VERSIONS_PAGE, VERSIONS_PAGE)
        # As MLflow: search answers carry no aliases (get_model_version does).
        body = {"model_versions": version_rows(rows, with_aliases=False)}
        if token:
            body["next_page_token"] = token
        return body

    def transition_stage(self, request, params):
        self._name(params)
        self._required(params, "version")
        stage = _stage(self._required(params, "stage"))
        archive = _bool(params.get("archive_existing_versions"))
        if archive and stage not in services.ACTIVE_STAGES:
            # MLflow answers this with INTERNAL_ERROR (500), which its client retries.
            raise _invalid(
                "Model version transition cannot archive existing model versions because "
                f"'{params.get('stage')}' is not an Active stage. Valid stages are "
                "['Staging', 'Production']"
            )
        try:
            # A contributor's promotion that needs approval is saved as a request and answered
            # PERMISSION_DENIED naming it: the client raises, and nothing moved.
            version = services.version_transition_stage(
                version=self._version(params),
                stage=stage,
                archive_existing=archive,
                user=request.user,
                comment="Through the MLflow-compatible API.",
            )
        except GateFailed as exc:
            raise MlflowError("INVALID_STATE", str(exc))
        return self._version_response(version)

    def download_uri(self, request, params):
        version = self._version(params)
        return {"artifact_uri": version.storage_location or version.model_source_uri}

    def set_version_tag(self, request, params):
        from mlflow.utils.validation import _validate_model_version_tag

        self._name(params)
        self._required(params, "version")
        key, value = self._required(params, "key"), self._string(params, "value")
        _mlflow_check(_validate_model_version_tag, key, value)
        services.version_update(version=self._version(params), tags={key: value}, user=request.user)

    def delete_version_tag(self, request, params):
        from mlflow.utils.validation import _validate_tag_name

        self._name(params)
        self._required(params, "version")
        key = self._required(params, "key")
        _mlflow_check(_validate_tag_name, key)
        version = self._version(params)
        if key in version.tags:  # as MLflow: deleting a missing tag is not an error
            services.version_update(version=version, tags={key: None}, user=request.user)


def _latest(registration: ModelRegistration, stage: str | None) -> ModelVersion:
    """`models:/<name>/<stage>` or `models:/<name>/latest`: the highest version (in the stage)."""
    wanted = _stage(stage) if stage and stage.lower() != "latest" else None
    try:
        return selectors.version_latest(registration=registration, stage=wanted)
    except NotFound:
        raise MlflowError(
            "RESOURCE_DOES_NOT_EXIST",
            f"No versions of model with name '{registration.name}' and stage '{stage}' found",
            404,
        )


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
    response = Response(_error_body(code, message), status=status)
    if isinstance(exc, drf_exceptions.Throttled) and exc.wait:
        response["Retry-After"] = str(int(exc.wait))
    return response


def _error_body(code: str, message: str) -> dict:
    """MLflow's error JSON, with the sqlstate and error_class its server adds."""
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import ErrorCode

    try:
        number = ErrorCode.Value(code)
    except ValueError:
        return {"error_code": code, "message": message}
    return json.loads(MlflowException(message, error_code=number).serialize_as_json())
