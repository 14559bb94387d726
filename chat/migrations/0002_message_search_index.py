"""Full-text index for message search on PostgreSQL; SQLite searches with a plain match."""

from django.db import migrations

INDEX = "chat_message_content_fts"
# The expression matches what SearchVector("content", config="simple") compiles to,
# so the planner can use the index.
CREATE = (
    f"CREATE INDEX IF NOT EXISTS {INDEX} ON chat_message "
    "USING GIN (to_tsvector('simple'::regconfig, COALESCE(content, '')))"
)
DROP = f"DROP INDEX IF EXISTS {INDEX}"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("chat", "0001_initial")]
    operations = [migrations.RunPython(create_index, drop_index)]
