"""The backend interface of a Registry, modelled on ZenML's BaseModelRegistry.

Services own validation, the transaction and the local index. A flavor performs the backend
side of each write (nothing for `builtin`, the remote call for `mlflow`) before the local
commit, and reports what the backend assigned (e.g. a version number). Reads answer from the
backend, so a conformance suite can compare the backend with the local index.
"""

from __future__ import annotations

import abc
import dataclasses
import enum
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from models_app.exceptions import CapabilityNotSupported

if TYPE_CHECKING:
    from models_app.models import Registry


class Capability(enum.StrEnum):
    REGISTER_MODEL = "register_model"
    UPDATE_MODEL = "update_model"
    RENAME_MODEL = "rename_model"
    DELETE_MODEL = "delete_model"
    REGISTER_VERSION = "register_version"
    UPDATE_VERSION = "update_version"
    DELETE_VERSION = "delete_version"
    TRANSITION_STAGE = "transition_stage"
    ALIASES = "aliases"
    SYNC = "sync"
    LOAD = "load"


@dataclasses.dataclass(frozen=True)
class RegisteredModelInfo:
    name: str
    description: str = ""
    tags: Mapping[str, str] = dataclasses.field(default_factory=dict)
    # alias -> version number, where the backend keeps aliases on the model.
    aliases: Mapping[str, int] = dataclasses.field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclasses.dataclass(frozen=True)
class ModelVersionInfo:
    registered_model_name: str
    model_source_uri: str
    # None until the backend (or, for builtin, the local index) assigns a number.
    version: int | None = None
    description: str = ""
    tags: Mapping[str, str] = dataclasses.field(default_factory=dict)
    metrics: Mapping[str, float] = dataclasses.field(default_factory=dict)
    parameters: Mapping[str, str] = dataclasses.field(default_factory=dict)
    metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    model_format: str = ""
    model_library: str = ""
    stage: str = "None"
    pipeline_name: str = ""
    pipeline_run_id: str = ""
    step_name: str = ""
    experiment_run_id: str = ""
    code_version: str = ""
    aliases: tuple[str, ...] = ()
    created_at: datetime | None = None
    updated_at: datetime | None = None


class BaseFlavor(abc.ABC):
    """A registry backend. Subclass it and name the class by dotted path to add a flavor."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    capabilities: ClassVar[frozenset[Capability]] = frozenset()

    def __init__(self, registry: Registry):
        self.registry = registry
        self.config = dict(registry.config or {})

    @classmethod
    def validate_config(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        """Return the config cleaned, or raise ValidationError naming the bad key."""
        from models_app.validation import clean_json_object

        return clean_json_object(config, field="config")

    def supports(self, capability: Capability) -> bool:
        return capability in self.capabilities

    def require(self, capability: Capability) -> None:
        if not self.supports(capability):
            raise CapabilityNotSupported(
                f"Registry '{self.registry.name}' (flavor {self.name}) "
                f"cannot {capability.replace('_', ' ')}."
            )

    # Registered models -----------------------------------------------------------------
    @abc.abstractmethod
    def register_model(
        self, *, name: str, description: str = "", tags: Mapping[str, str] | None = None
    ) -> RegisteredModelInfo: ...

    @abc.abstractmethod
    def update_model(
        self,
        *,
        name: str,
        description: str | None = None,
        tags: Mapping[str, str | None] | None = None,
    ) -> RegisteredModelInfo:
        """Change description and merge tags (a None value removes that tag)."""

    @abc.abstractmethod
    def rename_model(self, *, name: str, new_name: str) -> RegisteredModelInfo: ...

    @abc.abstractmethod
    def delete_model(self, *, name: str) -> None: ...

    @abc.abstractmethod
    def get_model(self, *, name: str) -> RegisteredModelInfo:
        """Raise NotFound when the backend has no such model."""

    @abc.abstractmethod
    def list_models(
        self, *, name: str | None = None, tags: Mapping[str, str] | None = None
    ) -> list[RegisteredModelInfo]: ...

    # Model versions --------------------------------------------------------------------
    @abc.abstractmethod
    def register_model_version(self, *, info: ModelVersionInfo) -> ModelVersionInfo:
        """Register in the backend; return the info with `version` set if the backend numbers."""

    @abc.abstractmethod
    def update_model_version(
        self,
        *,
        name: str,
        version: int,
        description: str | None = None,
        tags: Mapping[str, str | None] | None = None,
        metrics: Mapping[str, float | None] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        """Change description; merge tags, metrics and metadata (None removes a key)."""

    @abc.abstractmethod
    def delete_model_version(self, *, name: str, version: int) -> None: ...

    @abc.abstractmethod
    def get_model_version(self, *, name: str, version: int) -> ModelVersionInfo:
        """Raise NotFound when the backend has no such version."""

    @abc.abstractmethod
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
    ) -> list[ModelVersionInfo]: ...

    @abc.abstractmethod
    def transition_stage(
        self, *, name: str, version: int, stage: str, archive_existing: bool
    ) -> None: ...

    def set_alias(self, *, name: str, alias: str, version: int) -> None:
        self.require(Capability.ALIASES)

    def delete_alias(self, *, name: str, alias: str) -> None:
        self.require(Capability.ALIASES)

    def get_latest_model_version(
        self, *, name: str, stage: str | None = None
    ) -> ModelVersionInfo | None:
        """The highest version number, in `stage` if given (MLflow's meaning of "latest")."""
        versions = self.list_model_versions(name=name, stage=stage)
        return max(versions, key=lambda v: v.version or 0, default=None)

    def iter_model_pages(self) -> Iterator[list[RegisteredModelInfo]]:
        """Every model in the backend, a page at a time (sync reads through this)."""
        yield self.list_models()

    def iter_version_pages(self) -> Iterator[list[ModelVersionInfo]]:
        """Every version in the backend, a page at a time."""
        yield self.list_model_versions()

    def run_link(self, run_id: str) -> str:
        """A link to the experiment run in the backend's UI, when it has one."""
        return ""

    def get_model_uri(self, *, info: ModelVersionInfo) -> str:
        """The URI a loader should open for this version."""
        return info.model_source_uri

    def load_model_version(self, *, name: str, version: int, **kwargs: Any) -> Any:
        """Load the version's artifact as an MLflow pyfunc model."""
        self.require(Capability.LOAD)
        import mlflow.pyfunc

        info = self.get_model_version(name=name, version=version)
        return mlflow.pyfunc.load_model(self.get_model_uri(info=info), **kwargs)
