"""Custom flavors used by the tests: how a third party plugs in a backend."""

import dataclasses

from models_app.exceptions import BackendError, Conflict, NotFound
from models_app.flavors.base import BaseFlavor, Capability, RegisteredModelInfo
from models_app.flavors.builtin import BuiltinFlavor


class NoDeleteFlavor(BuiltinFlavor):
    """A backend that never deletes anything (e.g. an append-only audit store)."""

    name = "no-delete"
    description = "Like builtin, but cannot delete models or versions."
    capabilities = BuiltinFlavor.capabilities - {Capability.DELETE_MODEL, Capability.DELETE_VERSION}


class RefusingFlavor(BuiltinFlavor):
    """A backend that refuses every write, as an unreachable server would."""

    name = "refusing"
    writes_only_the_index = False

    def _refuse(self, **kwargs):
        raise BackendError("Backend refused: service unavailable.")

    register_model = register_model_version = update_model = update_model_version = _refuse
    transition_stage = set_alias = delete_model = delete_model_version = rename_model = _refuse


class DictFlavor(BaseFlavor):
    """A complete custom flavor whose backend is a dict in memory: the shape of a third-party
    registry (say, a team's own service). It numbers versions itself and supports sync."""

    name = "dict"
    description = "Example: a registry kept in a Python dict (for docs and the conformance suite)."
    capabilities = frozenset(Capability) - {Capability.LOAD}
    stores: dict[str, dict] = {}

    @property
    def store(self) -> dict:
        return self.stores.setdefault(self.registry.name, {})

    def _model(self, name):
        if name not in self.store:
            raise NotFound(f"dict backend has no model {name!r}")
        return self.store[name]

    def register_model(self, *, name, description="", tags=None):
        if name in self.store:
            raise Conflict(f"dict backend already has {name!r}")
        self.store[name] = {
            "info": RegisteredModelInfo(name=name, description=description, tags=dict(tags or {})),
            "versions": {},
            "aliases": {},
            "next": 1,
        }
        return self.store[name]["info"]

    def update_model(self, *, name, description=None, tags=None):
        model = self._model(name)
        info = model["info"]
        merged = {k: v for k, v in {**info.tags, **(tags or {})}.items() if v is not None}
        model["info"] = dataclasses.replace(
            info, description=info.description if description is None else description, tags=merged
        )
        return model["info"]

    def rename_model(self, *, name, new_name):
        model = self.store.pop(name)
        model["info"] = dataclasses.replace(model["info"], name=new_name)
        model["versions"] = {
            n: dataclasses.replace(v, registered_model_name=new_name)
            for n, v in model["versions"].items()
        }
        self.store[new_name] = model
        return model["info"]

    def delete_model(self, *, name):
        self._model(name)
        del self.store[name]

    def get_model(self, *, name):
        model = self._model(name)
        return dataclasses.replace(model["info"], aliases=dict(model["aliases"]))

    def list_models(self, *, name=None, tags=None):
        found = [self.get_model(name=n) for n in sorted(self.store)]
        return [
            m
            for m in found
            if (not name or m.name == name)
            and all(m.tags.get(k) == v for k, v in (tags or {}).items())
        ]

    def register_model_version(self, *, info):
        model = self._model(info.registered_model_name)
        number = model["next"]
        model["next"] += 1
        model["versions"][number] = dataclasses.replace(info, version=number, stage="None")
        return model["versions"][number]

    def update_model_version(
        self, *, name, version, description=None, tags=None, metrics=None, metadata=None
    ):
        model = self._model(name)
        current = model["versions"][version]

        def merge(old, patch):
            return {k: v for k, v in {**old, **(patch or {})}.items() if v is not None}

        model["versions"][version] = dataclasses.replace(
            current,
            description=current.description if description is None else description,
            tags=merge(current.tags, tags),
            metrics=merge(current.metrics, metrics),
            metadata=merge(current.metadata, metadata),
        )

    def delete_model_version(self, *, name, version):
        model = self._model(name)
        if version not in model["versions"]:
            raise NotFound(f"dict backend has no version {version} of {name!r}")
        del model["versions"][version]
        model["aliases"] = {a: v for a, v in model["aliases"].items() if v != version}

    def get_model_version(self, *, name, version):
        model = self._model(name)
        if version not in model["versions"]:
            raise NotFound(f"dict backend has no version {version} of {name!r}")
        aliases = tuple(sorted(a for a, v in model["aliases"].items() if v == version))
        return dataclasses.replace(model["versions"][version], aliases=aliases)

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
            self.get_model_version(name=n, version=v)
            for n in sorted(self.store)
            if not name or n == name
            for v in sorted(self.store[n]["versions"], reverse=True)
        ]
        found = [
            v
            for v in found
            if (not stage or v.stage == stage)
            and all(str(v.metadata.get(k)) == str(x) for k, x in (metadata or {}).items())
        ]
        return found[:count] if count else found

    def transition_stage(self, *, name, version, stage, archive_existing):
        model = self._model(name)
        if archive_existing:
            for number, other in model["versions"].items():
                if number != version and other.stage == stage:
                    model["versions"][number] = dataclasses.replace(other, stage="Archived")
        model["versions"][version] = dataclasses.replace(model["versions"][version], stage=stage)

    def set_alias(self, *, name, alias, version):
        self._model(name)["aliases"][alias] = version

    def delete_alias(self, *, name, alias):
        self._model(name)["aliases"].pop(alias, None)


class AppendOnlyFlavor(BaseFlavor):
    """The smallest useful flavor: it only records what is registered (say, an audit log).

    It declares two capabilities and implements their two methods; everything else is refused
    by the services as "cannot ...", with no stub methods to write."""

    name = "append-only"
    capabilities = frozenset({Capability.REGISTER_MODEL, Capability.REGISTER_VERSION})
    log: list = []

    def register_model(self, *, name, description="", tags=None):
        self.log.append(("model", name))
        return RegisteredModelInfo(name=name)

    def register_model_version(self, *, info):
        self.log.append(("version", info.registered_model_name))
        return info


class OverpromisingFlavor(AppendOnlyFlavor):
    """Declares aliases without implementing them: refused when loaded."""

    capabilities = AppendOnlyFlavor.capabilities | {Capability.ALIASES}


class RunPagesFlavor(BuiltinFlavor):
    """Like builtin, with a tracking service of its own that shows experiment runs."""

    name = "run-pages"

    def run_link(self, run_id: str) -> str:
        return f"https://runs.example/r/{run_id}"
