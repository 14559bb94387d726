"""Uploads kept in private storage; attached later by message_send.

What a file is comes from its bytes, never from the client: at upload only the image header is
read (format, size — an image over the pixel budget is refused before any decoding); a worker
then decodes it and makes the thumbnail. Until that has succeeded the file is a plain download.
"""

import os

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile

from chat import errors
from chat.models import MAX_ATTACHMENT_BYTES, Attachment
from core.images import image_header, image_thumbnail
from core.media import DOWNLOAD_TYPE
from core.tasks import enqueue_on_commit

User = get_user_model()


def _safe_name(name: str) -> str:
    base = os.path.basename(name or "").strip().replace("\x00", "")
    return base[:200] or "file"


def attachment_upload(*, owner: User, uploaded) -> Attachment:
    """Store one upload (at most 25 MB) for ``owner``; it stays unattached until sent.

    ``content_type`` is the raster type its header shows (JPEG, PNG, GIF, WebP) or
    ``application/octet-stream``. For an image, a thumbnail task is queued after commit.
    Raises FieldError ``file`` (missing, too large, or an image over IMAGE_MAX_PIXELS).
    """
    if uploaded is None:
        raise errors.invalid("file", "Attach a file (multipart field 'file').")
    if uploaded.size > MAX_ATTACHMENT_BYTES:
        raise errors.invalid("file", "Files are limited to 25 MB.", code=errors.ChatError.FILE_TOO_LARGE)
    header = image_header(uploaded, field="file")
    name = _safe_name(uploaded.name)
    attachment = Attachment(owner=owner, name=name, size=uploaded.size,
                            content_type=header.content_type if header else DOWNLOAD_TYPE)
    attachment.file.save(name, uploaded, save=False)
    attachment.save()
    if header:
        from chat.tasks import make_attachment_thumbnail

        enqueue_on_commit(make_attachment_thumbnail, attachment.id, app="chat")
    return attachment


def attachment_thumbnail_make(*, attachment_id: int) -> bool:
    """Decode an uploaded image and store its thumbnail; then it is shown inline.

    Idempotent: an attachment that has a thumbnail, is no image or is gone is left alone.
    A file that does not decode becomes a plain download (``application/octet-stream``).
    Returns whether a thumbnail was stored.
    """
    attachment = Attachment.objects.filter(id=attachment_id).first()
    if attachment is None or attachment.image_verified or attachment.content_type == DOWNLOAD_TYPE:
        return False
    try:
        with attachment.file.open("rb") as handle:
            thumbnail = image_thumbnail(handle)
    except FileNotFoundError:
        return False
    if thumbnail is None:
        Attachment.objects.filter(id=attachment_id).update(content_type=DOWNLOAD_TYPE)
        return False
    data, extension = thumbnail
    stored = attachment.thumbnail.storage.save(
        attachment.thumbnail.field.generate_filename(attachment, f"thumb.{extension}"), ContentFile(data)
    )
    updated = Attachment.objects.filter(id=attachment_id, image_verified=False).update(
        thumbnail=stored, image_verified=True
    )
    if not updated:  # deleted meanwhile, or a concurrent run won: drop this copy
        attachment.thumbnail.storage.delete(stored)
    return bool(updated)
