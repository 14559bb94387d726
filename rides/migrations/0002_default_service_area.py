"""Seed the default service area: central San Francisco, about 15 × 15 km (≈ 21 km corner to corner),
so a fresh install can dispatch out of the box. More areas are added in the admin."""

from django.db import migrations

SAN_FRANCISCO = [
    [37.8400, -122.5200],
    [37.8400, -122.3500],
    [37.7000, -122.3500],
    [37.7000, -122.5200],
]


def seed(apps, schema_editor):
    ServiceArea = apps.get_model("rides", "ServiceArea")
    lats = [p[0] for p in SAN_FRANCISCO]
    lngs = [p[1] for p in SAN_FRANCISCO]
    ServiceArea.objects.get_or_create(
        slug="sf",
        defaults={
            "name": "San Francisco",
            "polygon": SAN_FRANCISCO,
            "min_lat": min(lats), "max_lat": max(lats), "min_lng": min(lngs), "max_lng": max(lngs),
        },
    )


def unseed(apps, schema_editor):
    apps.get_model("rides", "ServiceArea").objects.filter(slug="sf", rides__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("rides", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
