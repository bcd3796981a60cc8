"""The mlflow flavor: an MLflow tracking server is the registry; this dashboard fronts it.

Writes go to MLflow first (services commit locally only when MLflow accepts); `sync` pulls
MLflow's state into the local index. Stages are kept natively (MLflow 3 still accepts stage
transitions, deprecated since 2.9); aliases map to MLflow aliases. What MLflow versions cannot
hold natively (metrics, parameters, metadata, lineage) travels as tags under `mr.`.

Credentials are never stored: MlflowClient reads MLFLOW_TRACKING_TOKEN or
MLFLOW_TRACKING_USERNAME/PASSWORD from the dashboard's environment.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ValidationError

from models_app.exceptions import BackendError, Conflict, NotFound, describe_error
from models_app.flavors.base import (
    BaseFlavor,
    Capability,
    ConfigField,
    ModelVersionInfo,
    RegisteredModelInfo,
)
from models_app.validation import clean_backend_uri, clean_link_uri, redact_uri, short_reason

TAG = "mr."
LOGGED_MODEL = re.compile(r"^models:/(?P<id>m-[0-9a-f]+)$")
LINEAGE_TAGS = (
    "pipeline_name",
    "pipeline_run_id",
    "step_name",
    "code_version",
    "model_format",
    "model_library",
)
SECRET_WORDS = ("password", "token", "secret", "key")
PAGE_SIZE_MODELS = 1000  # MLflow's maximum for registered models
PAGE_SIZE_VERSIONS = 1000


def _moment(millis: int | None) -> datetime | None:
    return datetime.fromtimestamp(millis / 1000, tz=UTC) if millis else None


def version_tags(info: ModelVersionInfo) -> dict[str, str]:
    """Our fields as MLflow tags: the user's tags, then everything MLflow has no field for."""
    tags = {key: str(value) for key, value in info.tags.items()}
    tags.update({f"{TAG}metric.{k}": repr(float(v)) for k, v in info.metrics.items()})
    tags.update({f"{TAG}param.{k}": str(v) for k, v in info.parameters.items()})
    tags.update({f"{TAG}meta.{k}": json.dumps(v) for k, v in info.metadata.items()})
    for field in LINEAGE_TAGS:
        if getattr(info, field):
            tags[f"{TAG}{field}"] = getattr(info, field)
    return tags


def version_info(remote) -> ModelVersionInfo:
    """An MLflow ModelVersion as the flavor interface's ModelVersionInfo."""
    tags, metrics, parameters, metadata, lineage = {}, {}, {}, {}, {}
    for key, value in (remote.tags or {}).items():
        if not key.startswith(TAG):
            tags[key] = value
            continue
        kind, _, name = key[len(TAG) :].partition(".")
        try:
            if kind == "metric" and name:
                metrics[name] = float(value)
            elif kind == "param" and name:
                parameters[name] = value
            elif kind == "meta" and name:
                metadata[name] = json.loads(value)
            elif kind in LINEAGE_TAGS and not name:
                lineage[kind] = value
        except ValueError:
            tags[key] = value  # not ours after all: keep it visible as a plain tag
    for metric in getattr(remote, "metrics", None) or []:
        metrics.setdefault(metric.key, float(metric.value))
    return ModelVersionInfo(
        registered_model_name=remote.name,
        model_source_uri=remote.source or "",
        version=int(remote.version),
        description=remote.description or "",
        tags=tags,
        metrics=metrics,
        parameters=parameters,
        metadata=metadata,
        stage=remote.current_stage or "None",
        experiment_run_id=remote.run_id or "",
        aliases=tuple(sorted(remote.aliases or ())),
        created_at=_moment(remote.creation_timestamp),
        updated_at=_moment(remote.last_updated_timestamp),
        **lineage,
    )


def model_info(remote) -> RegisteredModelInfo:
    return RegisteredModelInfo(
        name=remote.name,
        description=remote.description or "",
        tags=dict(remote.tags or {}),
        aliases={alias: int(version) for alias, version in (remote.aliases or {}).items()},
        created_at=_moment(remote.creation_timestamp),
        updated_at=_moment(remote.last_updated_timestamp),
    )


def call_mlflow(client, uri: str, method: str, *args, **kwargs):
    """One MLflow client call; its refusals and failures become the registry's own errors."""
    from mlflow.exceptions import MlflowException

    where = redact_uri(uri)
    try:
        return getattr(client, method)(*args, **kwargs)
    except MlflowException as exc:
        code = getattr(exc, "error_code", "") or ""
        message = getattr(exc, "message", str(exc))
        if code == "RESOURCE_DOES_NOT_EXIST" and method.startswith(("get_", "search_")):
            raise NotFound(f"MLflow: {short_reason(message)}")
        if (
            code
            and code not in {"INTERNAL_ERROR", "TEMPORARILY_UNAVAILABLE"}
            and "Max retries" not in message
        ):
            raise Conflict(f"MLflow refused: {short_reason(message)}")
        raise BackendError(f"MLflow at {where} failed: {short_reason(message)}")
    except Exception as exc:  # connection errors surface from requests/urllib3
        raise BackendError(f"MLflow at {where} is unreachable: {short_reason(str(exc))}")


@dataclass(frozen=True)
class RunData:
    """What a tracking server knows about the run behind a version."""

    run_id: str
    metrics: dict[str, float]
    parameters: dict[str, str]
    tags: dict[str, str]
    storage_location: str = ""


def fetch_run_data(tracking_uri: str, *, run_id: str = "", source: str = "") -> RunData:
    """The run's latest metrics, its parameters and tags; for a LoggedModel source
    (`models:/m-<id>`), first the run that logged it and where its artifacts are.

    Raises NotFound when the server has no such run or model, BackendError when it fails.
    """
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    storage_location = ""
    logged = LOGGED_MODEL.match(source)
    if logged:
        model = call_mlflow(client, tracking_uri, "get_logged_model", logged["id"])
        run_id = run_id or (model.source_run_id or "")
        storage_location = model.artifact_location or ""
    if not run_id:
        return RunData("", {}, {}, {}, storage_location)
    run = call_mlflow(client, tracking_uri, "get_run", run_id)
    return RunData(
        run_id=run_id,
        metrics={key: float(value) for key, value in run.data.metrics.items()},
        parameters=dict(run.data.params),
        tags=dict(run.data.tags),
        storage_location=storage_location,
    )


class MlflowFlavor(BaseFlavor):
    name = "mlflow"
    description = (
        "Writes through to an MLflow tracking server and syncs its registry into the dashboard."
    )
    capabilities = frozenset(Capability)
    config_fields = (
        ConfigField("tracking_uri", "Tracking URI", required=True, help="e.g. http://mlflow:5000"),
        ConfigField(
            "registry_uri", "Registry URI", help="Only if the model registry is elsewhere."
        ),
        ConfigField("ui_uri", "UI URI", help="Where people open MLflow's pages, for run links."),
    )

    def __init__(self, registry):
        super().__init__(registry)
        self._client = None

    def check_connection(self) -> str:
        self._call("search_registered_models", max_results=1)
        where = redact_uri(self.config.get("registry_uri") or self.config["tracking_uri"])
        return f"MLflow at {where} answered a registry search."

    @classmethod
    def validate_config(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        config = super().validate_config(config)
        uri = config.get("tracking_uri")
        if not isinstance(uri, str) or not uri.strip():
            raise ValidationError({"config": "An mlflow registry needs a tracking_uri."})
        config = dict(config)
        for key in ("tracking_uri", "registry_uri"):
            if config.get(key):
                config[key] = _config_check(clean_backend_uri, config[key], key)
        if config.get("ui_uri"):
            config["ui_uri"] = _config_check(clean_link_uri, config["ui_uri"], "ui_uri")
        for key in config:
            if any(word in key.lower() for word in SECRET_WORDS):
                raise ValidationError(
                    {
                        "config": f"'{key}' looks like a credential: set MLFLOW_TRACKING_TOKEN or "
                        "MLFLOW_TRACKING_USERNAME/PASSWORD in the environment instead."
                    }
                )
        unknown = set(config) - {"tracking_uri", "registry_uri", "ui_uri"}
        if unknown:
            raise ValidationError({"config": f"Unknown config keys: {', '.join(sorted(unknown))}."})
        return config

    @property
    def client(self):
        if self._client is None:
            from mlflow import MlflowClient

            # Checked again at use: a name may resolve elsewhere now, or the row predate
            # the checks.
            try:
                for key in ("tracking_uri", "registry_uri"):
                    if self.config.get(key):
                        clean_backend_uri(self.config[key], field=key)
            except ValidationError as exc:
                raise BackendError(
                    f"Registry '{self.registry.name}' has a backend URI that is not allowed: "
                    + describe_error(exc).message
                )

            self._client = MlflowClient(
                tracking_uri=self.config["tracking_uri"],
                registry_uri=self.config.get("registry_uri") or self.config["tracking_uri"],
            )
        return self._client

    def _call(self, method: str, *args, **kwargs):
        """One MLflow call; its refusals and failures become the registry's own errors."""
        return call_mlflow(self.client, self.config["tracking_uri"], method, *args, **kwargs)

    # models ----------------------------------------------------------------------------
    def register_model(self, *, name, description="", tags=None):
        try:
            return model_info(
                self._call(
                    "create_registered_model",
                    name,
                    tags=dict(tags or {}),
                    description=description or None,
                )
            )
        except Conflict:
            # MLflow already has it (created there, not yet synced): adopt it.
            return self.update_model(name=name, description=description or None, tags=tags)

    def update_model(self, *, name, description=None, tags=None):
        if description is not None:
            self._call("update_registered_model", name, description=description)
        for key, value in (tags or {}).items():
            if value is None:
                self._call("delete_registered_model_tag", name, key)
            else:
                self._call("set_registered_model_tag", name, key, value)
        return self.get_model(name=name)

    def rename_model(self, *, name, new_name):
        self._call("rename_registered_model", name, new_name)
        return RegisteredModelInfo(name=new_name)

    def delete_model(self, *, name):
        self._call("delete_registered_model", name)

    def get_model(self, *, name):
        return model_info(self._call("get_registered_model", name))

    def list_models(self, *, name=None, tags=None):
        found = [info for page in self.iter_model_pages() for info in page]
        if name:
            found = [m for m in found if m.name == name]
        for key, value in (tags or {}).items():
            found = [m for m in found if m.tags.get(key) == value]
        return found

    # versions --------------------------------------------------------------------------
    def register_model_version(self, *, info):
        # MLflow 3 logs models as LoggedModels (models:/m-<id>); the server wants that id too.
        logged = LOGGED_MODEL.match(info.model_source_uri)
        remote = self._call(
            "create_model_version",
            info.registered_model_name,
            info.model_source_uri,
            run_id=info.experiment_run_id or None,
            tags=version_tags(info),
            description=info.description or None,
            await_creation_for=0,
            model_id=logged["id"] if logged else None,
        )
        return version_info(remote)

    def update_model_version(
        self, *, name, version, description=None, tags=None, metrics=None, metadata=None
    ):
        if description is not None:
            self._call("update_model_version", name, str(version), description=description)
        # Metrics and metadata travel as `mr.` tags, so every change is a tag change in MLflow.
        changes = dict(tags or {})
        changes.update(
            {
                f"{TAG}metric.{k}": None if v is None else repr(float(v))
                for k, v in (metrics or {}).items()
            }
        )
        changes.update(
            {
                f"{TAG}meta.{k}": None if v is None else json.dumps(v)
                for k, v in (metadata or {}).items()
            }
        )
        for key, value in changes.items():
            if value is None:
                self._call("delete_model_version_tag", name, str(version), key)
            else:
                self._call("set_model_version_tag", name, str(version), key, value)

    def delete_model_version(self, *, name, version):
        self._call("delete_model_version", name, str(version))

    def get_model_version(self, *, name, version):
        return version_info(self._call("get_model_version", name, str(version)))

    def list_model_versions(
        self,
        *,
        name=None,
        stage=None,
        metadata=None,
        created_after=None,
        created_before=None,
        count=None,
        order_by_date=None,
    ):
        found = [
            info
            for page in self.iter_version_pages(
                filter_string=f"name='{_quote(name)}'" if name else None
            )
            for info in page
        ]
        if stage:
            found = [v for v in found if v.stage == stage]
        for key, value in (metadata or {}).items():
            found = [v for v in found if str(v.metadata.get(key)) == str(value)]
        if created_after:
            found = [v for v in found if v.created_at and v.created_at > created_after]
        if created_before:
            found = [v for v in found if v.created_at and v.created_at < created_before]
        if order_by_date:
            found.sort(key=lambda v: (v.created_at, v.version), reverse=order_by_date == "desc")
        else:
            found.sort(key=lambda v: (v.registered_model_name, -(v.version or 0)))
        return found[:count] if count else found

    def transition_stage(self, *, name, version, stage, archive_existing):
        self._call(
            "transition_model_version_stage",
            name,
            str(version),
            stage,
            archive_existing_versions=archive_existing,
        )

    def set_alias(self, *, name, alias, version):
        self._call("set_registered_model_alias", name, alias, str(version))

    def delete_alias(self, *, name, alias):
        self._call("delete_registered_model_alias", name, alias)

    def get_model_uri(self, *, info):
        return f"models:/{info.registered_model_name}/{info.version}"

    def load_model_version(self, *, name, version, **kwargs):
        import mlflow
        import mlflow.pyfunc

        mlflow.set_tracking_uri(self.config["tracking_uri"])
        mlflow.set_registry_uri(self.config.get("registry_uri") or self.config["tracking_uri"])
        return mlflow.pyfunc.load_model(f"models:/{name}/{version}", **kwargs)

    def run_link(self, run_id: str) -> str:
        base = redact_uri(self.config.get("ui_uri") or self.config["tracking_uri"])
        return f"{base.rstrip('/')}/#/runs/{run_id}" if run_id and base.startswith("http") else ""

    # sync ------------------------------------------------------------------------------
    def iter_model_pages(self) -> Iterator[list[RegisteredModelInfo]]:
        token = None
        while True:
            page = self._call(
                "search_registered_models", max_results=PAGE_SIZE_MODELS, page_token=token
            )
            yield [model_info(m) for m in page]
            token = page.token
            if not token:
                return

    def iter_version_pages(
        self, filter_string: str | None = None
    ) -> Iterator[list[ModelVersionInfo]]:
        token = None
        while True:
            page = self._call(
                "search_model_versions",
                filter_string=filter_string,
                max_results=PAGE_SIZE_VERSIONS,
                page_token=token,
            )
            yield [version_info(v) for v in page]
            token = page.token
            if not token:
                return


def _config_check(check, value, key: str) -> str:
    try:
        return check(value, field=key)
    except ValidationError as exc:
        raise ValidationError({"config": [f"{key}: {m}" for m in exc.message_dict[key]]})


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")
