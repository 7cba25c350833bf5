"""PostgreSQL: the append-only refusal now says how to empty the tables on purpose (test databases)."""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE'
       AND current_setting('dli_admin.audit_truncate', true) = 'allow'
       AND pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'USAGE') THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'TRUNCATE' THEN
        RAISE EXCEPTION 'the dli-admin audit log is append-only: TRUNCATE on % refused', TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'To empty it on purpose (a test database), the table owner first runs '
                         'SET dli_admin.audit_truncate = ''allow'' (or connects with '
                         'options=-c dli_admin.audit_truncate=allow).';
    END IF;
    RAISE EXCEPTION 'the dli-admin audit log is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
"""

PREVIOUS = """
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
        schema_editor.execute(PREVIOUS, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_review_indexes")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
