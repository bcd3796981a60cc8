"""The backend interface of a Registry, modelled on ZenML's BaseModelRegistry.

Services own validation, the transaction and the local index. A flavor performs the backend
side of each write (nothing for `builtin`, the remote call for `mlflow`) before the local
commit, and reports what the backend assigned (e.g. a version number). Reads (capability
READ) answer from the backend, so sync and the conformance suite can compare it with the index.
"""

from __future__ import annotations

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
    READ = "read"
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


@dataclasses.dataclass(frozen=True)
class ConfigField:
    """One key of a flavor's config, as the registry form asks for it."""

    key: str
    label: str
    required: bool = False
    help: str = ""
    kind: str = "url"  # the input type on the form


class BaseFlavor:
    """A registry backend. Subclass it and name the class by dotted path to add a flavor.

    A flavor implements the methods of the capabilities it declares, and nothing else:
    CAPABILITY_METHODS says which. The services check a capability before they call its
    methods, so an undeclared one answers "cannot ..." instead of reaching the backend. A
    flavor that declares a capability without its methods is refused when it is loaded
    (`missing_methods`). The conformance suite (tests/test_flavor_conformance.py) is the
    contract for what each method must do.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    # True only when the backend is the dashboard's own index (builtin): its writes are no-ops,
    # so rows may be written to the index directly (bulk imports).
    writes_only_the_index: ClassVar[bool] = False
    # The config keys the registry form offers; a flavor without any gets a JSON box.
    config_fields: ClassVar[tuple[ConfigField, ...]] = ()

    def __init__(self, registry: Registry):
        self.registry = registry
        self.config = dict(registry.config or {})

    @classmethod
    def validate_config(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        """Return the config cleaned, or raise ValidationError naming the bad key."""
        from models_app.validation import clean_json_object

        return clean_json_object(config, field="config")

    @classmethod
    def missing_methods(cls) -> dict[Capability, list[str]]:
        """Declared capabilities whose methods this class leaves to the base (unimplemented)."""
        missing = {}
        for capability in cls.capabilities:
            names = [
                method
                for method in CAPABILITY_METHODS.get(capability, ())
                if getattr(cls, method) is getattr(BaseFlavor, method)
            ]
            if names:
                missing[capability] = names
        return missing

    def check_connection(self) -> str:
        """Reach the backend with one small read and say what answered; raise a domain error
        (BackendError, ...) when it does not. Makes no change anywhere."""
        return f"Flavor {self.name} has no connection check."

    def supports(self, capability: Capability) -> bool:
        return capability in self.capabilities

    def require(self, capability: Capability) -> None:
        if not self.supports(capability):
            raise CapabilityNotSupported(
                f"Registry '{self.registry.name}' (flavor {self.name}) "
                f"cannot {capability.replace('_', ' ')}."
            )

    def _unsupported(self, capability: Capability):
        self.require(capability)  # raises unless declared; declared means implemented
        raise NotImplementedError(f"{type(self).__name__} declares {capability} but lacks it.")

    # Writes: the backend side of each service, called before the local commit -----------
    def register_model(
        self, *, name: str, description: str = "", tags: Mapping[str, str] | None = None
    ) -> RegisteredModelInfo:
        self._unsupported(Capability.REGISTER_MODEL)

    def update_model(
        self,
        *,
        name: str,
        description: str | None = None,
        tags: Mapping[str, str | None] | None = None,
    ) -> RegisteredModelInfo:
        """Change description and merge tags (a None value removes that tag)."""
        self._unsupported(Capability.UPDATE_MODEL)

    def rename_model(self, *, name: str, new_name: str) -> RegisteredModelInfo:
        self._unsupported(Capability.RENAME_MODEL)

    def delete_model(self, *, name: str) -> None:
        self._unsupported(Capability.DELETE_MODEL)

    def register_model_version(self, *, info: ModelVersionInfo) -> ModelVersionInfo:
        """Register in the backend; return the info with `version` set if the backend numbers."""
        self._unsupported(Capability.REGISTER_VERSION)

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
        self._unsupported(Capability.UPDATE_VERSION)

    def delete_model_version(self, *, name: str, version: int) -> None:
        self._unsupported(Capability.DELETE_VERSION)

    def transition_stage(
        self, *, name: str, version: int, stage: str, archive_existing: bool
    ) -> None:
        self._unsupported(Capability.TRANSITION_STAGE)

    def set_alias(self, *, name: str, alias: str, version: int) -> None:
        self._unsupported(Capability.ALIASES)

    def delete_alias(self, *, name: str, alias: str) -> None:
        self._unsupported(Capability.ALIASES)

    # Reads of the backend: sync and the conformance suite use them -----------------------
    def get_model(self, *, name: str) -> RegisteredModelInfo:
        """Raise NotFound when the backend has no such model."""
        self._unsupported(Capability.READ)

    def list_models(
        self, *, name: str | None = None, tags: Mapping[str, str] | None = None
    ) -> list[RegisteredModelInfo]:
        self._unsupported(Capability.READ)

    def get_model_version(self, *, name: str, version: int) -> ModelVersionInfo:
        """Raise NotFound when the backend has no such version."""
        self._unsupported(Capability.READ)

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
        self._unsupported(Capability.READ)

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

    # Optional extras -----------------------------------------------------------------------
    def run_link(self, run_id: str) -> str:
        """A link to the experiment run in the backend's UI, when it has one."""
        return ""

    def load_model_version(self, *, name: str, version: int, **kwargs: Any) -> Any:
        """Load the version's artifact (for flavors that declare LOAD)."""
        self._unsupported(Capability.LOAD)


# The methods a flavor implements for each capability it declares.
CAPABILITY_METHODS: dict[Capability, tuple[str, ...]] = {
    Capability.REGISTER_MODEL: ("register_model",),
    Capability.UPDATE_MODEL: ("update_model",),
    Capability.RENAME_MODEL: ("rename_model",),
    Capability.DELETE_MODEL: ("delete_model",),
    Capability.REGISTER_VERSION: ("register_model_version",),
    Capability.UPDATE_VERSION: ("update_model_version",),
    Capability.DELETE_VERSION: ("delete_model_version",),
    Capability.TRANSITION_STAGE: ("transition_stage",),
    Capability.ALIASES: ("set_alias", "delete_alias"),
    Capability.READ: ("get_model", "list_models", "get_model_version", "list_model_versions"),
    Capability.SYNC: ("list_models", "list_model_versions"),
    Capability.LOAD: ("load_model_version",),
}
