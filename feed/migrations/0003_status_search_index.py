"""Full-text index for status search on PostgreSQL; SQLite searches with a plain match."""

from django.db import migrations

INDEX = "feed_status_text_fts"
# The expression matches what SearchVector("text", config="simple") compiles to,
# so the planner can use the index.
CREATE = (
    f"CREATE INDEX IF NOT EXISTS {INDEX} ON feed_status "
    "USING GIN (to_tsvector('simple'::regconfig, COALESCE(text, '')))"
)
DROP = f"DROP INDEX IF EXISTS {INDEX}"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("feed", "0002_media_notifications_tags_apps")]
    operations = [migrations.RunPython(create_index, drop_index)]
