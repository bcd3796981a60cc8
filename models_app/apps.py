from django.apps import AppConfig
from django.db.models.signals import post_migrate


def ensure_default_registry(sender, using="default", **kwargs):
    # A data migration creates it; this brings it back after `flush`, which re-sends post_migrate.
    from models_app.models import DEFAULT_REGISTRY, Registry

    Registry.objects.using(using).get_or_create(
        name=DEFAULT_REGISTRY,
        defaults={"flavor": "builtin", "description": "The dashboard's own registry."},
    )


class ModelsAppConfig(AppConfig):
    name = "models_app"
    verbose_name = "Model registry"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from models_app import signals

        post_migrate.connect(ensure_default_registry, sender=self)
        signals.connect()
