"""Indexes for tag filters and text search, on PostgreSQL only.

GIN (jsonb_path_ops: one entry per key and value, so an equality finds its few rows at once)
on the tag maps serves `tags @> {...}`, every tag equality filter;
trigram indexes (pg_trgm) on UPPER(column) serve the case-insensitive `contains` of the `q`
search and name filters, and on the plain name the MLflow LIKE/regex filters. SQLite has no
such index types: there these filters scan the table (see bench/README.md).
"""

from django.db import migrations

INDEXES = {
    "registration_tags_gin": "models_app_modelregistration USING gin (tags jsonb_path_ops)",
    "version_tags_gin": "models_app_modelversion USING gin (tags jsonb_path_ops)",
    "registration_name_trgm": "models_app_modelregistration USING gin (name gin_trgm_ops)",
    "registration_name_upper_trgm": (
        "models_app_modelregistration USING gin ((UPPER(name::text)) gin_trgm_ops)"
    ),
    "registration_description_upper_trgm": (
        "models_app_modelregistration USING gin ((UPPER(description::text)) gin_trgm_ops)"
    ),
    "version_description_upper_trgm": (
        "models_app_modelversion USING gin ((UPPER(description::text)) gin_trgm_ops)"
    ),
    "version_source_upper_trgm": (
        "models_app_modelversion USING gin ((UPPER(model_source_uri::text)) gin_trgm_ops)"
    ),
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, target in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("models_app", "0004_sync")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
