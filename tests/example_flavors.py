"""Custom flavors used by the tests: how a third party plugs in a backend."""

from models_app.exceptions import BackendError
from models_app.flavors.base import Capability
from models_app.flavors.builtin import BuiltinFlavor


class NoDeleteFlavor(BuiltinFlavor):
    """A backend that never deletes anything (e.g. an append-only audit store)."""

    name = "no-delete"
    description = "Like builtin, but cannot delete models or versions."
    capabilities = BuiltinFlavor.capabilities - {Capability.DELETE_MODEL, Capability.DELETE_VERSION}


class RefusingFlavor(BuiltinFlavor):
    """A backend that refuses every write, as an unreachable server would."""

    name = "refusing"

    def _refuse(self, **kwargs):
        raise BackendError("Backend refused: service unavailable.")

    register_model = register_model_version = update_model = update_model_version = _refuse
    transition_stage = set_alias = delete_model = delete_model_version = rename_model = _refuse
