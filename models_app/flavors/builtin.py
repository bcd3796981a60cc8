"""The builtin flavor: the dashboard's own database is the registry."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from models_app import selectors
from models_app.flavors.base import (
    BaseFlavor,
    Capability,
    ConfigField,
    ModelVersionInfo,
    RegisteredModelInfo,
)
from models_app.models import ModelRegistration, ModelVersion


def registration_info(registration: ModelRegistration) -> RegisteredModelInfo:
    return RegisteredModelInfo(
        name=registration.name,
        description=registration.description,
        tags=dict(registration.tags),
        created_at=registration.created_at,
        updated_at=registration.updated_at,
    )


def version_info(version: ModelVersion, aliases: tuple[str, ...] = ()) -> ModelVersionInfo:
    fields = {field: getattr(version, field) for field in ModelVersion.REGISTERED_FIELDS}
    return ModelVersionInfo(
        registered_model_name=version.registration.name,
        version=version.version,
        stage=version.stage,
        aliases=aliases,
        created_at=version.created_at,
        updated_at=version.updated_at,
        **{
            field: dict(value) if isinstance(value, dict) else value
            for field, value in fields.items()
        },
    )


class BuiltinFlavor(BaseFlavor):
    name = "builtin"
    description = "Keeps models and versions in the dashboard's own database."
    capabilities = frozenset(Capability) - {Capability.SYNC}
    writes_only_the_index = True
    config_fields = (
        ConfigField(
            "tracking_uri",
            "MLflow tracking URI (optional)",
            help="Copy a run's metrics and parameters into versions registered with a run id.",
        ),
    )

    def check_connection(self) -> str:
        uri = self.config.get("tracking_uri")
        if not uri:
            return "The dashboard's own database is the store: nothing to connect to."
        from mlflow import MlflowClient

        from models_app.flavors.mlflow import call_mlflow
        from models_app.validation import clean_backend_uri, redact_uri

        uri = clean_backend_uri(uri)  # checked again at use, as every outbound call is
        call_mlflow(MlflowClient(tracking_uri=uri), uri, "search_experiments", max_results=1)
        return f"MLflow tracking at {redact_uri(uri)} answered an experiment search."

    @classmethod
    def validate_config(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        """Optional `tracking_uri`: the MLflow tracking server whose runs' metrics and
        parameters are copied into versions registered with a run id."""
        from django.core.exceptions import ValidationError

        from models_app.validation import clean_backend_uri

        config = super().validate_config(config)
        if "tracking_uri" in config:
            try:
                config["tracking_uri"] = clean_backend_uri(config["tracking_uri"])
            except ValidationError as exc:
                raise ValidationError({"config": exc.messages})
        return config

    # The local index is the backend: services write it, so writes here have nothing to do.
    def register_model(self, *, name, description="", tags=None):
        return RegisteredModelInfo(name=name, description=description, tags=dict(tags or {}))

    def update_model(self, *, name, description=None, tags=None):
        return self.get_model(name=name)

    def rename_model(self, *, name, new_name):
        return RegisteredModelInfo(name=new_name)

    def delete_model(self, *, name):
        return None

    def register_model_version(self, *, info):
        return info

    def update_model_version(
        self, *, name, version, description=None, tags=None, metrics=None, metadata=None
    ):
        return None

    def delete_model_version(self, *, name, version):
        return None

    def transition_stage(self, *, name, version, stage, archive_existing):
        return None

    def set_alias(self, *, name, alias, version):
        return None

    def delete_alias(self, *, name, alias):
        return None

    def load_model_version(self, *, name, version, **kwargs):
        """The artifact as an MLflow pyfunc model (mlflow is imported only to load)."""
        import mlflow.pyfunc

        info = self.get_model_version(name=name, version=version)
        return mlflow.pyfunc.load_model(info.model_source_uri, **kwargs)

    # Reads ------------------------------------------------------------------------------
    def get_model(self, *, name: str) -> RegisteredModelInfo:
        return registration_info(selectors.registration_get(registry=self.registry, name=name))

    def list_models(self, *, name=None, tags=None):
        registrations = selectors.registration_list(registry=self.registry, name=name, tags=tags)
        return [registration_info(r) for r in registrations.order_by("name")]

    def get_model_version(self, *, name: str, version: int) -> ModelVersionInfo:
        registration = selectors.registration_get(registry=self.registry, name=name)
        found = selectors.version_get(registration=registration, version=version)
        return version_info(found, tuple(found.aliases.values_list("name", flat=True)))

    def list_model_versions(
        self,
        *,
        name: str | None = None,
        stage: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        count: int | None = None,
        order_by_date: str | None = None,
    ) -> list[ModelVersionInfo]:
        versions = selectors.version_list(
            registry=self.registry,
            stage=stage,
            metadata=metadata,
            created_after=created_after,
            created_before=created_before,
            order_by_date=order_by_date,
        )
        if name:
            versions = versions.filter(registration__name=name)
        if count:
            versions = versions[:count]
        return [version_info(v, tuple(a.name for a in v.aliases.all())) for v in versions]
