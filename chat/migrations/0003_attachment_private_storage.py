import os
import shutil

from django.conf import settings
from django.db import migrations, models

import chat.models
import core.media

RASTER_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")


def move_to_private_storage(apps, schema_editor):
    """Existing attachments move out of MEDIA_ROOT (which a proxy may serve to anyone); those
    that already had a thumbnail were decoded by Pillow at upload and stay shown inline."""
    Attachment = apps.get_model("chat", "Attachment")
    public_root = os.path.realpath(settings.MEDIA_ROOT)
    private_root = os.path.realpath(settings.PRIVATE_MEDIA_ROOT)
    for attachment in Attachment.objects.iterator():
        for name in (attachment.file.name, attachment.thumbnail.name if attachment.thumbnail else None):
            if not name:
                continue
            source = os.path.realpath(os.path.join(public_root, name))
            target = os.path.realpath(os.path.join(private_root, name))
            if source.startswith(public_root + os.sep) and target.startswith(private_root + os.sep) \
                    and os.path.isfile(source) and not os.path.exists(target):
                os.makedirs(os.path.dirname(target), exist_ok=True)
                shutil.move(source, target)
        if attachment.thumbnail and attachment.content_type in RASTER_TYPES:
            Attachment.objects.filter(id=attachment.id).update(image_verified=True)


class Migration(migrations.Migration):

    dependencies = [
        ('chat', '0002_message_search_index'),
    ]

    operations = [
        migrations.AddField(
            model_name='attachment',
            name='image_verified',
            field=models.BooleanField(default=False),
        ),
        migrations.AlterField(
            model_name='attachment',
            name='file',
            field=models.FileField(max_length=300, storage=core.media.private_storage, upload_to=chat.models._attachment_path),
        ),
        migrations.AlterField(
            model_name='attachment',
            name='thumbnail',
            field=models.FileField(blank=True, max_length=300, null=True, storage=core.media.private_storage, upload_to=chat.models._thumbnail_path),
        ),
        migrations.RunPython(move_to_private_storage, migrations.RunPython.noop),
    ]
