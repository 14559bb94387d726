"""Uploads stored under MEDIA_ROOT; images get a thumbnail. Attached later by message_send."""

import io
import os

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from PIL import Image, UnidentifiedImageError

from chat import errors
from chat.models import MAX_ATTACHMENT_BYTES, Attachment

User = get_user_model()

THUMBNAIL_SIZE = (320, 320)


def _safe_name(name: str) -> str:
    base = os.path.basename(name or "").strip().replace("\x00", "")
    return base[:200] or "file"


def _thumbnail(uploaded) -> tuple[ContentFile, str] | None:
    """A small PNG/JPEG of an image upload, or None when it is not a readable image."""
    try:
        uploaded.seek(0)
        with Image.open(uploaded) as image:
            mime = Image.MIME.get(image.format or "")
            image.thumbnail(THUMBNAIL_SIZE)
            has_alpha = image.mode in ("RGBA", "LA", "P")
            image = image.convert("RGBA" if has_alpha else "RGB")
            out = io.BytesIO()
            image.save(out, format="PNG" if has_alpha else "JPEG", quality=85)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None
    finally:
        uploaded.seek(0)
    return ContentFile(out.getvalue(), name="thumb.png" if has_alpha else "thumb.jpg"), mime


def attachment_upload(*, owner: User, uploaded) -> Attachment:
    """Store one upload (at most 25 MB) for ``owner``; it stays unattached until sent."""
    if uploaded is None:
        raise errors.invalid("file", "Attach a file (multipart field 'file').")
    if uploaded.size > MAX_ATTACHMENT_BYTES:
        raise errors.invalid("file", "Files are limited to 25 MB.", code=errors.ChatError.FILE_TOO_LARGE)
    name = _safe_name(uploaded.name)
    content_type = (getattr(uploaded, "content_type", None) or "application/octet-stream")[:100]
    thumbnail = _thumbnail(uploaded)
    attachment = Attachment(owner=owner, name=name, size=uploaded.size, content_type=content_type)
    if thumbnail:
        attachment.thumbnail.save(thumbnail[0].name, thumbnail[0], save=False)
        attachment.content_type = thumbnail[1] or content_type
    attachment.file.save(name, uploaded, save=False)
    attachment.save()
    return attachment
