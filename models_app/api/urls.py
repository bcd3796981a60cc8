from django.urls import path

from models_app.api import views

MODEL = "models/<str:registry>/<str:name>/"

urlpatterns = [
    path("registries/", views.RegistryList.as_view(), name="api-registry-list"),
    path("registries/<str:registry>/", views.RegistryDetail.as_view(), name="api-registry-detail"),
    path("registries/<str:registry>/sync/", views.RegistrySync.as_view(), name="api-registry-sync"),
    path("registries/<str:registry>/syncs/", views.SyncRunList.as_view(), name="api-sync-list"),
    path(
        "registries/<str:registry>/syncs/<str:run_id>/",
        views.SyncRunDetail.as_view(),
        name="api-sync-detail",
    ),
    path("flavors/", views.FlavorList.as_view(), name="api-flavor-list"),
    path("models/", views.RegistrationList.as_view(), name="api-registration-list"),
    path(MODEL, views.RegistrationDetail.as_view(), name="api-registration-detail"),
    path(MODEL + "history/", views.RegistrationHistory.as_view(), name="api-registration-history"),
    path(
        MODEL + "rollback/", views.RegistrationRollback.as_view(), name="api-registration-rollback"
    ),
    path(MODEL + "roles/", views.RoleList.as_view(), name="api-role-list"),
    path(MODEL + "roles/<str:principal>/", views.RoleDetail.as_view(), name="api-role-detail"),
    path(MODEL + "aliases/", views.AliasList.as_view(), name="api-alias-list"),
    path(MODEL + "aliases/<str:alias>/", views.AliasDetail.as_view(), name="api-alias-detail"),
    path(MODEL + "versions/", views.VersionList.as_view(), name="api-version-list"),
    path(MODEL + "versions/latest/", views.VersionLatest.as_view(), name="api-version-latest"),
    path(
        MODEL + "versions/<str:version>/", views.VersionDetail.as_view(), name="api-version-detail"
    ),
    path(
        MODEL + "versions/<str:version>/transition/",
        views.VersionTransition.as_view(),
        name="api-version-transition",
    ),
    path(
        MODEL + "versions/<str:version>/history/",
        views.VersionHistory.as_view(),
        name="api-version-history",
    ),
    path("versions/", views.FlatVersionList.as_view(), name="api-version-search"),
    path("transitions/", views.TransitionList.as_view(), name="api-transition-list"),
    path("requests/", views.PromotionRequestList.as_view(), name="api-request-list"),
    path(
        "requests/<str:request_id>/",
        views.PromotionRequestDetail.as_view(),
        name="api-request-detail",
    ),
    path(
        "requests/<str:request_id>/approve/",
        views.PromotionRequestApprove.as_view(),
        name="api-request-approve",
    ),
    path(
        "requests/<str:request_id>/reject/",
        views.PromotionRequestReject.as_view(),
        name="api-request-reject",
    ),
    path(
        "requests/<str:request_id>/cancel/",
        views.PromotionRequestCancel.as_view(),
        name="api-request-cancel",
    ),
    path("trash/", views.TrashList.as_view(), name="api-trash-list"),
    path(
        "trash/<str:kind>/<str:item_id>/restore/",
        views.TrashRestore.as_view(),
        name="api-trash-restore",
    ),
    path(
        "trash/<str:kind>/<str:item_id>/purge/", views.TrashPurge.as_view(), name="api-trash-purge"
    ),
    path("audit/", views.AuditList.as_view(), name="api-audit-list"),
    path("tokens/", views.TokenList.as_view(), name="api-token-list"),
    path("tokens/<str:token_id>/", views.TokenDetail.as_view(), name="api-token-detail"),
    path("me/", views.Me.as_view(), name="api-me"),
    path("webhooks/", views.WebhookList.as_view(), name="api-webhook-list"),
    path("webhooks/<str:webhook_id>/", views.WebhookDetail.as_view(), name="api-webhook-detail"),
    path(
        "webhooks/<str:webhook_id>/deliveries/",
        views.WebhookDeliveryList.as_view(),
        name="api-webhook-deliveries",
    ),
    path("webhooks/<str:webhook_id>/test/", views.WebhookTest.as_view(), name="api-webhook-test"),
]
