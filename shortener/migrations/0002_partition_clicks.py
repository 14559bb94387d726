"""On PostgreSQL, rebuild the (still empty) click table as partitioned by month.

The primary key and the stream-id constraint include ``time`` because a partitioned table's
unique constraints must contain the partition key; a default partition catches any month not
created ahead by the beat task.
"""

from django.db import migrations

PARTITIONED = """
DROP TABLE shortener_click;
CREATE TABLE shortener_click (
    id bigint NOT NULL,
    time timestamp with time zone NOT NULL,
    referrer varchar(512) NOT NULL,
    referrer_host varchar(253) NOT NULL,
    ip varchar(64) NOT NULL,
    country varchar(2) NOT NULL,
    device varchar(16) NOT NULL,
    browser varchar(64) NOT NULL,
    os varchar(64) NOT NULL,
    is_bot boolean NOT NULL,
    visitor_hash varchar(32) NOT NULL,
    stream_id varchar(32) NOT NULL,
    link_id bigint NOT NULL,
    PRIMARY KEY (id, time),
    CONSTRAINT shortener_click_stream_uniq UNIQUE (stream_id, time)
) PARTITION BY RANGE (time);
CREATE INDEX shortener_click_link_time ON shortener_click (link_id, time);
CREATE TABLE shortener_click_default PARTITION OF shortener_click DEFAULT;
"""

UNPARTITIONED = """
DROP TABLE shortener_click;
CREATE TABLE shortener_click (
    id bigint NOT NULL PRIMARY KEY,
    time timestamp with time zone NOT NULL,
    referrer varchar(512) NOT NULL,
    referrer_host varchar(253) NOT NULL,
    ip varchar(64) NOT NULL,
    country varchar(2) NOT NULL,
    device varchar(16) NOT NULL,
    browser varchar(64) NOT NULL,
    os varchar(64) NOT NULL,
    is_bot boolean NOT NULL,
    visitor_hash varchar(32) NOT NULL,
    stream_id varchar(32) NOT NULL,
    link_id bigint NOT NULL,
    CONSTRAINT shortener_click_stream_uniq UNIQUE (stream_id, time)
);
CREATE INDEX shortener_click_link_time ON shortener_click (link_id, time);
CREATE INDEX shortener_click_link_id_b0b6cbd3 ON shortener_click (link_id);
"""


def _run(schema_editor, script: str) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in filter(None, (part.strip() for part in script.split(";"))):
        schema_editor.execute(statement)


def partition(apps, schema_editor):
    _run(schema_editor, PARTITIONED)


def unpartition(apps, schema_editor):
    _run(schema_editor, UNPARTITIONED)


def create_current_partitions(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    from shortener.services.partitions import click_partitions_ensure

    click_partitions_ensure()


class Migration(migrations.Migration):
    dependencies = [("shortener", "0001_initial")]

    operations = [
        migrations.RunPython(partition, unpartition),
        migrations.RunPython(create_current_partitions, migrations.RunPython.noop),
    ]
