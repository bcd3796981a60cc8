"""The search indexes (GIN, PostgreSQL only) take new rows at once, with no pending list.

With GIN's default `fastupdate`, inserted rows wait in a pending list (up to 4 MB) that every
search reads in full: at 1,000,000 versions that list held 100,000 entries and cost a text
search 20-35 ms, a tag filter several ms, whatever it matched. Without it an insert updates
the index itself (a bulk import of 1,000 versions: ~0.4 s -> ~0.75 s) and a search reads only
its posting lists. The list already there is merged now.
"""

from django.db import migrations

INDEXES = (
    "registration_tags_gin",
    "version_tags_gin",
    "registration_name_trgm",
    "registration_name_upper_trgm",
    "registration_description_upper_trgm",
    "version_description_upper_trgm",
    "version_source_upper_trgm",
)


def _existing(schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
            "AND indexname = ANY(%s)",
            [list(INDEXES)],
        )
        return [name for (name,) in cursor.fetchall()]


def no_pending_list(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in _existing(schema_editor):
        schema_editor.execute(f"ALTER INDEX {name} SET (fastupdate = off)")
        schema_editor.execute(f"SELECT gin_clean_pending_list('{name}'::regclass)")


def pending_list(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in _existing(schema_editor):
        schema_editor.execute(f"ALTER INDEX {name} RESET (fastupdate)")


class Migration(migrations.Migration):
    dependencies = [("models_app", "0018_trash_admin")]

    operations = [migrations.RunPython(no_pending_list, pending_list, elidable=False)]
