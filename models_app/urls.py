from django.contrib.auth import views as auth_views
from django.urls import path

from models_app import health, views

MODEL = "models/<str:registry>/<str:name>/"
VERSION = MODEL + "versions/<str:version>/"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", health.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("models/", views.registration_list, name="registration_list"),
    path("search/", views.search, name="search"),
    path("models/register/", views.register_version, name="register_version"),
    path("models/register/similar/", views.similar_names, name="similar_names"),
    path(MODEL, views.registration_detail, name="registration_detail"),
    path(MODEL + "edit/", views.registration_edit, name="registration_edit"),
    path(MODEL + "card/", views.registration_card_edit, name="registration_card_edit"),
    path(MODEL + "compare/", views.compare, name="compare"),
    path(MODEL + "timeline/", views.registration_timeline, name="registration_timeline"),
    path(MODEL + "rollback/", views.registration_rollback, name="registration_rollback"),
    path(MODEL + "roles/", views.registration_roles, name="registration_roles"),
    path(VERSION, views.version_detail, name="version_detail"),
    path(VERSION + "transition/", views.version_transition, name="version_transition"),
    path(VERSION + "aliases/", views.alias_set, name="alias_set"),
    path(VERSION + "aliases/<str:alias>/delete/", views.alias_delete, name="alias_delete"),
    path("registries/", views.registries, name="registries"),
    path("registries/new/", views.registry_new, name="registry_new"),
    path("registries/<str:registry>/sync/", views.registry_sync, name="registry_sync"),
    path("tokens/", views.tokens, name="tokens"),
    path("trash/", views.trash, name="trash"),
    *(
        path(
            f"trash/<str:kind>/<str:item_id>/{action}/",
            views.trash_action,
            {"action": action},
            name=f"trash_{action}",
        )
        for action in ("restore", "purge")
    ),
    path("requests/", views.promotion_requests, name="promotion_requests"),
    *(
        path(
            f"requests/<str:request_id>/{decision}/",
            views.promotion_request_decide,
            {"decision": decision},
            name=f"promotion_request_{decision}",
        )
        for decision in ("approve", "reject", "cancel")
    ),
    path("webhooks/", views.webhooks, name="webhooks"),
    path("webhooks/<str:webhook_id>/", views.webhook_detail, name="webhook_detail"),
    path("webhooks/<str:webhook_id>/test/", views.webhook_test, name="webhook_test"),
    path("webhooks/<str:webhook_id>/delete/", views.webhook_delete, name="webhook_delete"),
    path("audit/", views.audit_log, name="audit"),
]
