"""PostgreSQL: the append-only refusal no longer says how to get around it (0004's hint did).

The escape itself stays (the table owner's TRUNCATE with dli_admin.audit_truncate = 'allow', for the test
runner's flush); against the table owner, the audit key and the checkpoints outside the database hold.
"""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE'
       AND current_setting('dli_admin.audit_truncate', true) = 'allow'
       AND pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'USAGE') THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'the dli-admin audit log is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTION, params=None)  # None: its % are PL/pgSQL, not placeholders


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        from importlib import import_module

        previous = import_module("dli_admin.audit.migrations.0004_truncate_hint").FUNCTION
        schema_editor.execute(previous, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0006_audit_keys")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
