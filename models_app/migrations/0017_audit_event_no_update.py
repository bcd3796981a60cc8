"""The audit log refuses UPDATE in the database too, whatever code path tries it.

DELETE is refused by the model and its queryset only: test runners and `flush` empty tables
with DELETE on SQLite, so a trigger there would break them.
"""

from django.db import migrations

SQLITE = (
    "CREATE TRIGGER models_app_auditevent_no_update BEFORE UPDATE ON models_app_auditevent "
    "BEGIN SELECT RAISE(ABORT, 'The audit log is append-only.'); END;",
    "DROP TRIGGER IF EXISTS models_app_auditevent_no_update;",
)
POSTGRESQL = (
    """
    CREATE FUNCTION models_app_auditevent_refuse_update() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION 'The audit log is append-only.';
    END;
    $$ LANGUAGE plpgsql;
    CREATE TRIGGER models_app_auditevent_no_update BEFORE UPDATE ON models_app_auditevent
        FOR EACH ROW EXECUTE FUNCTION models_app_auditevent_refuse_update();
    """,
    """
    DROP TRIGGER IF EXISTS models_app_auditevent_no_update ON models_app_auditevent;
    DROP FUNCTION IF EXISTS models_app_auditevent_refuse_update();
    """,
)


def _run(apps, schema_editor, *, forward: bool) -> None:
    statements = {"sqlite": SQLITE, "postgresql": POSTGRESQL}.get(schema_editor.connection.vendor)
    if statements:
        schema_editor.execute(statements[0 if forward else 1])


class Migration(migrations.Migration):
    dependencies = [
        ("models_app", "0016_audit_event"),
    ]

    operations = [
        migrations.RunPython(
            lambda apps, editor: _run(apps, editor, forward=True),
            lambda apps, editor: _run(apps, editor, forward=False),
        ),
    ]
