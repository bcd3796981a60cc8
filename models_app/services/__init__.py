"""Every write and every rule of the registry, one function per use case, each a transaction.

The UI, the REST API, the admin, the CLI and the MLflow-compatible API all call these.
`user` is the acting user: permissions are checked against it; `None` means a trusted
operator (a management command run on the server) and is recorded as "system".
One module per entity; callers import the package: `from models_app import services`.
"""

from models_app.services._common import ACTIVE_STAGES, SYSTEM_ACTOR, UNSET
from models_app.services.aliases import alias_delete, alias_set
from models_app.services.bulk import registrations_bulk_create
from models_app.services.flavors import flavor_register
from models_app.services.promotions import (
    promotion_request_approve,
    promotion_request_cancel,
    promotion_request_reject,
)
from models_app.services.registrations import (
    registration_create,
    registration_delete,
    registration_rename,
    registration_update,
)
from models_app.services.registries import (
    registry_connection_test,
    registry_create,
    registry_delete,
    registry_update,
)
from models_app.services.roles import role_grant, role_revoke
from models_app.services.rollback import registration_rollback
from models_app.services.run_data import (
    run_data_fetch,
    run_data_request,
    run_data_retry,
    tracking_uri_for,
)
from models_app.services.sync import SYNC_ACTOR, SYNCED_VERSION_FIELDS, registry_sync, sync_request
from models_app.services.tokens import (
    TOKEN_SCHEME,
    token_authenticate,
    token_create,
    token_revoke,
    tokens_revoke_all,
)
from models_app.services.transitions import (
    StageChange,
    version_stage_change,
    version_transition_stage,
)
from models_app.services.trash import (
    PurgeReport,
    registration_purge,
    registration_restore,
    trash_purge_expired,
    version_purge,
    version_restore,
)
from models_app.services.versions import version_delete, version_register, version_update
from models_app.services.webhooks import emit as webhook_emit
from models_app.services.webhooks import (
    webhook_create,
    webhook_delete,
    webhook_deliver,
    webhook_test,
)

__all__ = [
    "PurgeReport",
    "ACTIVE_STAGES",
    "SYNCED_VERSION_FIELDS",
    "SYNC_ACTOR",
    "SYSTEM_ACTOR",
    "StageChange",
    "TOKEN_SCHEME",
    "UNSET",
    "alias_delete",
    "alias_set",
    "flavor_register",
    "promotion_request_approve",
    "promotion_request_cancel",
    "promotion_request_reject",
    "registration_create",
    "registration_delete",
    "registration_purge",
    "registration_rename",
    "registration_rollback",
    "registration_restore",
    "registration_update",
    "registrations_bulk_create",
    "registry_connection_test",
    "registry_create",
    "registry_delete",
    "registry_sync",
    "registry_update",
    "role_grant",
    "role_revoke",
    "run_data_fetch",
    "run_data_request",
    "run_data_retry",
    "sync_request",
    "token_authenticate",
    "token_create",
    "token_revoke",
    "tokens_revoke_all",
    "tracking_uri_for",
    "trash_purge_expired",
    "version_delete",
    "version_purge",
    "version_register",
    "version_stage_change",
    "version_restore",
    "version_transition_stage",
    "version_update",
    "webhook_create",
    "webhook_delete",
    "webhook_deliver",
    "webhook_emit",
    "webhook_test",
]
