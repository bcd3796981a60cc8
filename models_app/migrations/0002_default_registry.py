from django.db import migrations


def create_default(apps, schema_editor):
    Registry = apps.get_model("models_app", "Registry")
    Registry.objects.get_or_create(
        name="default",
        defaults={"flavor": "builtin", "description": "The dashboard's own registry."},
    )


class Migration(migrations.Migration):
    dependencies = [("models_app", "0001_initial")]

    operations = [migrations.RunPython(create_default, migrations.RunPython.noop)]
