from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from models_app.api.errors import api_not_found
from models_app.api.mlflow import MlflowRegistryAPI

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("models_app.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    # MLflow's own registry protocol (the MLflow UI's ajax-api path too).
    path("api/2.0/mlflow/<path:operation>", MlflowRegistryAPI.as_view(), name="mlflow-api"),
    path(
        "ajax-api/2.0/mlflow/<path:operation>", MlflowRegistryAPI.as_view(), name="mlflow-ajax-api"
    ),
    path("api/", api_not_found),
    path("", include("models_app.urls")),
]


handler500 = "models_app.health.server_error"


def handler404(request, exception=None):
    if request.path.startswith("/api/"):
        return api_not_found(request, exception)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)
