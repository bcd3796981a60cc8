"""Python client for pipelines and deployment code. Needs only `requests` (and `mlflow` to load
MLflow models); it does not import Django, so copy or install it anywhere.

    from models_app.client import RegistryClient
    client = RegistryClient("https://models.example.com", token="mr_...")
    client.register_model_version("churn", "s3://bucket/churn/model", metrics={"auc": 0.91})
    client.transition_stage("churn", 1, "Production", archive_existing=True)
    model = client.load_model("churn", stage="Production")
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

import requests

__all__ = [
    "RegistryAPIError",
    "NotFoundError",
    "ConflictError",
    "RegistryClient",
    "register_model_step",
]


# A version's fields as the API takes them at registration: the server's
# ModelVersion.REGISTERED_FIELDS, restated so this module needs no Django (a test compares them).
VERSION_FIELDS = (
    "model_source_uri",
    "parameters",
    "model_format",
    "model_library",
    "pipeline_name",
    "pipeline_run_id",
    "step_name",
    "experiment_run_id",
    "code_version",
    "description",
    "tags",
    "metrics",
    "metadata",
)


class RegistryAPIError(Exception):
    """An error answer from the registry: HTTP status, code, message and per-field messages."""

    def __init__(
        self, status: int, code: str, detail: str, errors: Mapping[str, list[str]] | None = None
    ):
        super().__init__(f"{status} {code}: {detail}")
        self.status, self.code, self.detail, self.errors = status, code, detail, dict(errors or {})


class NotFoundError(RegistryAPIError):
    pass


class ConflictError(RegistryAPIError):
    pass


def _seg(value: Any) -> str:
    return quote(str(value), safe="")


class RegistryClient:
    def __init__(
        self,
        base_url: str | None = None,
        token: str | None = None,
        *,
        registry: str = "default",
        timeout: float = 30.0,
        session: requests.Session | None = None,
    ):
        base_url = base_url or os.environ.get("MODEL_REGISTRY_URL")
        if not base_url:
            raise ValueError("Give base_url or set MODEL_REGISTRY_URL.")
        self.base_url = base_url.rstrip("/")
        self.registry = registry
        self.timeout = timeout
        self.session = session or requests.Session()
        token = token or os.environ.get("MODEL_REGISTRY_TOKEN")
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    # transport -------------------------------------------------------------------------
    def _url(self, path: str) -> str:
        return f"{self.base_url}/api/v1/{path.lstrip('/')}"

    def _model(self, name: str, rest: str = "") -> str:
        return f"models/{_seg(self.registry)}/{_seg(name)}/{rest}"

    def _request(self, method: str, path: str, *, params=None, json=None) -> Any:
        response = self.session.request(
            method, self._url(path), params=params, json=json, timeout=self.timeout
        )
        if response.status_code == 204:
            return None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400:
            body = body if isinstance(body, dict) else {}
            cls = {404: NotFoundError, 409: ConflictError}.get(
                response.status_code, RegistryAPIError
            )
            raise cls(
                response.status_code,
                body.get("code", "error"),
                body.get("detail", response.text[:200]),
                body.get("errors"),
            )
        return body

    def _pages(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[dict]:
        params = {**(params or {}), "page_size": 500, "page": 1}
        while True:
            body = self._request("GET", path, params=params)
            yield from body["results"]
            if not body.get("next"):
                return
            params["page"] += 1

    # models ----------------------------------------------------------------------------
    def register_model(
        self, name: str, *, description: str = "", tags: Mapping[str, str] | None = None
    ) -> dict:
        return self._request(
            "POST",
            "models/",
            json={
                "registry": self.registry,
                "name": name,
                "description": description,
                "tags": dict(tags or {}),
            },
        )

    def get_model(self, name: str) -> dict:
        return self._request("GET", self._model(name))

    def list_models(self, **filters: Any) -> list[dict]:
        """Filters as the API takes them.

        q, name, name_contains, tag=["k:v"], stage, alias, ordering.
        """
        return list(self._pages("models/", {"registry": self.registry, **filters}))

    def update_model(
        self,
        name: str,
        *,
        description: str | None = None,
        tags: Mapping[str, str | None] | None = None,
        new_name: str | None = None,
    ) -> dict:
        body: dict[str, Any] = {}
        if description is not None:
            body["description"] = description
        if tags is not None:
            body["tags"] = dict(tags)
        if new_name is not None:
            body["name"] = new_name
        return self._request("PATCH", self._model(name), json=body)

    def delete_model(self, name: str) -> None:
        self._request("DELETE", self._model(name))

    # versions --------------------------------------------------------------------------
    def register_model_version(
        self,
        name: str,
        model_source_uri: str,
        *,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        metrics: Mapping[str, float] | None = None,
        parameters: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        model_format: str = "",
        model_library: str = "",
        pipeline_name: str = "",
        pipeline_run_id: str = "",
        step_name: str = "",
        experiment_run_id: str = "",
        code_version: str = "",
    ) -> dict:
        """Register a new version (the model is created if the name is new)."""
        given = {field: value for field, value in locals().items() if value is not None}
        body = {
            field: dict(given[field]) if isinstance(given[field], Mapping) else given[field]
            for field in VERSION_FIELDS
            if field in given
        }
        body["parameters"] = {key: str(value) for key, value in (parameters or {}).items()}
        return self._request("POST", self._model(name, "versions/"), json=body)

    def get_model_version(self, name: str, version: int) -> dict:
        return self._request("GET", self._model(name, f"versions/{int(version)}/"))

    def list_model_versions(self, name: str, **filters: Any) -> list[dict]:
        """Filters: stage, alias, tag, metric=["accuracy>=0.9"], created_after, ordering, ..."""
        return list(self._pages(self._model(name, "versions/"), filters))

    def search_versions(self, **filters: Any) -> list[dict]:
        """Versions across every model of this registry."""
        return list(self._pages("versions/", {"registry": self.registry, **filters}))

    def update_model_version(
        self,
        name: str,
        version: int,
        *,
        description: str | None = None,
        tags: Mapping[str, str | None] | None = None,
        metrics: Mapping[str, float | None] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> dict:
        body = {
            key: value
            for key, value in {
                "description": description,
                "tags": tags,
                "metrics": metrics,
                "metadata": metadata,
            }.items()
            if value is not None
        }
        return self._request("PATCH", self._model(name, f"versions/{int(version)}/"), json=body)

    def delete_model_version(self, name: str, version: int) -> None:
        self._request("DELETE", self._model(name, f"versions/{int(version)}/"))

    def transition_stage(
        self,
        name: str,
        version: int,
        stage: str,
        *,
        archive_existing: bool = False,
        comment: str = "",
    ) -> dict:
        return self._request(
            "POST",
            self._model(name, f"versions/{int(version)}/transition/"),
            json={"stage": stage, "archive_existing": archive_existing, "comment": comment},
        )

    def history(self, name: str, version: int | None = None) -> list[dict]:
        path = f"versions/{int(version)}/history/" if version else "history/"
        return list(self._pages(self._model(name, path)))

    # aliases and resolution ------------------------------------------------------------
    def set_alias(self, name: str, alias: str, version: int) -> dict:
        return self._request(
            "PUT", self._model(name, f"aliases/{_seg(alias)}/"), json={"version": int(version)}
        )

    def delete_alias(self, name: str, alias: str) -> None:
        self._request("DELETE", self._model(name, f"aliases/{_seg(alias)}/"))

    def get_latest_version(self, name: str, stage: str | None = None) -> dict:
        return self._request(
            "GET", self._model(name, "versions/latest/"), params={"stage": stage} if stage else None
        )

    def get_version_by_alias(self, name: str, alias: str) -> dict:
        return self._request("GET", self._model(name, f"aliases/{_seg(alias)}/"))

    def resolve(
        self,
        name: str,
        *,
        stage: str | None = None,
        alias: str | None = None,
        version: int | None = None,
    ) -> dict:
        """The one version that `stage`, `alias` or `version` names (give at most one)."""
        if sum(x is not None for x in (stage, alias, version)) > 1:
            raise ValueError("Give one of stage, alias or version.")
        if version is not None:
            return self.get_model_version(name, version)
        if alias is not None:
            return self.get_version_by_alias(name, alias)
        return self.get_latest_version(name, stage)

    def load_model(
        self,
        name: str,
        *,
        stage: str | None = None,
        alias: str | None = None,
        version: int | None = None,
        tracking_uri: str | None = None,
    ) -> Any:
        """Resolve the version and load it with mlflow.pyfunc when it is an MLflow model.

        MLflow models: `runs:/` and `models:/` URIs (against `tracking_uri` or MLflow's own
        configuration), a local folder holding an `MLmodel` file, or any URI of a version whose
        model_format is "mlflow". Anything else returns the resolved artifact URI.
        """
        found = self.resolve(name, stage=stage, alias=alias, version=version)
        uri = found["model_source_uri"]
        if not _is_mlflow_model(uri, found.get("model_format", "")):
            return uri
        import mlflow
        import mlflow.pyfunc

        if tracking_uri:
            mlflow.set_tracking_uri(tracking_uri)
        return mlflow.pyfunc.load_model(uri)


def _is_mlflow_model(uri: str, model_format: str) -> bool:
    scheme = urlparse(uri).scheme
    if scheme in {"runs", "models"} or model_format.lower() == "mlflow":
        return True
    if scheme in {"", "file"}:
        path = Path(urlparse(uri).path if scheme == "file" else uri)
        return (path / "MLmodel").is_file()
    return False


def _git_commit() -> str:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return result.stdout.strip()


def register_model_step(
    name: str,
    model_source_uri: str,
    *,
    metrics: Mapping[str, float] | None = None,
    parameters: Mapping[str, Any] | None = None,
    description: str = "",
    tags: Mapping[str, str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    model_format: str = "",
    model_library: str = "",
    pipeline_name: str | None = None,
    pipeline_run_id: str | None = None,
    step_name: str | None = None,
    experiment_run_id: str | None = None,
    code_version: str | None = None,
    stage: str | None = None,
    archive_existing: bool = False,
    client: RegistryClient | None = None,
) -> dict:
    """Register the model a pipeline step trained, with the run's lineage; optionally promote it.

    Lineage not given is taken from the environment when the orchestrator sets it (Airflow's
    AIRFLOW_CTX_*, MLflow's MLFLOW_RUN_ID, GIT_COMMIT or the current git checkout). The client
    comes from MODEL_REGISTRY_URL and MODEL_REGISTRY_TOKEN unless one is passed.
    """
    env = os.environ
    client = client or RegistryClient()
    registered = client.register_model_version(
        name,
        model_source_uri,
        description=description,
        tags=tags,
        metrics=metrics,
        parameters=parameters,
        metadata=metadata,
        model_format=model_format,
        model_library=model_library,
        pipeline_name=pipeline_name
        if pipeline_name is not None
        else env.get("AIRFLOW_CTX_DAG_ID", ""),
        pipeline_run_id=pipeline_run_id
        if pipeline_run_id is not None
        else env.get("AIRFLOW_CTX_DAG_RUN_ID", ""),
        step_name=step_name if step_name is not None else env.get("AIRFLOW_CTX_TASK_ID", ""),
        experiment_run_id=experiment_run_id
        if experiment_run_id is not None
        else env.get("MLFLOW_RUN_ID", ""),
        code_version=code_version
        if code_version is not None
        else (env.get("GIT_COMMIT") or _git_commit()),
    )
    if stage:
        registered = client.transition_stage(
            name,
            registered["version"],
            stage,
            archive_existing=archive_existing,
            comment=f"Registered by pipeline step {registered.get('step_name') or ''}".strip(),
        )
    return registered
