"""Media attachments: upload (checked without decoding), the sizes made by a worker, attaching.

The web process only reads an upload's header (``core.images.image_header``: a JPEG, PNG, GIF
or WebP within the pixel budget); the original is kept in private storage. A Celery task
decodes it (the proof it is an image), turns it upright, and stores three sizes through
Django's storage API with no metadata (EXIF, GPS) carried over:

- ``thumb`` 150×150, cropped to fill; ``medium`` 600×400 and ``large`` 1200×800, fitted inside.
"""

import io
import secrets

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from PIL import Image, ImageOps

from core.ids import parse_id
from core.images import NOT_AN_IMAGE, image_header, open_raster
from core.tasks import enqueue_on_commit
from feed import errors
from feed.models import MediaAttachment

MAX_DESCRIPTION = 1500
MAX_ATTACHMENTS = 4
SIZES = {"thumb": ((150, 150), True), "medium": ((600, 400), False), "large": ((1200, 800), False)}


def _description(value) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise errors.validation_failed("description", "Description must be a string")
    if len(value) > MAX_DESCRIPTION or "\x00" in value:
        raise errors.validation_failed("description", f"Description is too long (maximum is {MAX_DESCRIPTION})")
    return value


def media_upload(*, account, file, description=None) -> MediaAttachment:
    """Store an upload and have its sizes made after commit.

    Raises 422 naming ``file`` when it is missing, larger than ``FEED_MEDIA_MAX_BYTES`` or not
    a JPEG, PNG, GIF or WebP (by its content, whatever its name or declared type); 400 naming
    ``file`` past the pixel budget; 422 naming ``description`` when it is too long."""
    from feed import tasks

    if file is None or not hasattr(file, "read"):
        raise errors.validation_failed("file", "File can't be blank")
    if file.size > settings.FEED_MEDIA_MAX_BYTES:
        limit_mb = settings.FEED_MEDIA_MAX_BYTES // (1024 * 1024)
        raise errors.validation_failed("file", f"File file size must be less than {limit_mb} MB")
    text = _description(description)
    header = image_header(file, field="file")
    if header is None:
        raise errors.validation_failed("file", "File has contents that are not what they are reported to be")
    with transaction.atomic():
        media = MediaAttachment(account=account, description=text, content_type=header.content_type,
                                meta={"original": _dimensions(header.width, header.height)})
        file.seek(0)
        media.original.save(f"{media.id}", file, save=False)
        media.save()
        enqueue_on_commit(tasks.process_media, app="feed", media_id=media.id)
    return media


def _dimensions(width: int, height: int) -> dict:
    return {"width": width, "height": height, "size": f"{width}x{height}",
            "aspect": round(width / height, 6) if height else 0}


def _clean(image: Image.Image) -> Image.Image:
    """A new image of the pixels alone: no EXIF, ICC, XMP or comments survive."""
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    image = image.convert("RGBA" if has_alpha else "RGB")
    return Image.frombytes(image.mode, image.size, image.tobytes())


def _render(image: Image.Image, box: tuple[int, int], crop: bool) -> tuple[bytes, str, Image.Image]:
    sized = ImageOps.fit(image, box) if crop else ImageOps.contain(image, box) \
        if image.width > box[0] or image.height > box[1] else image.copy()
    out = io.BytesIO()
    if sized.mode == "RGBA":
        sized.save(out, format="PNG", optimize=True)
        return out.getvalue(), "png", sized
    sized.save(out, format="JPEG", quality=85)
    return out.getvalue(), "jpg", sized


def media_process(*, media_id: int) -> bool:
    """Make the sizes of an upload (idempotent: a ready one is left alone). Returns whether the
    attachment is ready; a file that does not decode is marked failed."""
    media = MediaAttachment.objects.filter(id=media_id).first()
    if media is None or media.ready:
        return bool(media)
    try:
        with media.original.open("rb") as handle, open_raster(handle) as source:
            if source.width * source.height > settings.IMAGE_MAX_PIXELS:
                raise ValueError("over the pixel budget")
            source.load()
            upright = _clean(ImageOps.exif_transpose(source))
    except (Image.DecompressionBombError, FileNotFoundError, *NOT_AN_IMAGE):
        MediaAttachment.objects.filter(id=media_id).update(failed=True)
        return False
    names, meta = {}, dict(media.meta)
    token = secrets.token_urlsafe(8)
    for size, (box, crop) in SIZES.items():
        data, extension, sized = _render(upright, box, crop)
        names[size] = default_storage.save(f"feed/media/{media.id}/{token}-{size}.{extension}", io.BytesIO(data))
        meta[size] = _dimensions(sized.width, sized.height)
    meta["small"] = meta["thumb"]  # Mastodon's name for the preview's size
    MediaAttachment.objects.filter(id=media_id).update(meta=meta, **names)
    return True


def own_media(*, account, media_id) -> MediaAttachment:
    """The account's own attachment; raises NotFound for an unknown id or someone else's."""
    parsed = parse_id(media_id)
    media = MediaAttachment.objects.filter(id=parsed, account=account).first() if parsed is not None else None
    if media is None:
        raise errors.record_not_found()
    return media


def media_update(*, account, media_id, description) -> MediaAttachment:
    """Change the description (alt text) of the account's own attachment; when it is attached,
    the status's readers hear ``status.update`` after commit."""
    from feed import tasks
    from feed.store import entity_cache

    media = own_media(account=account, media_id=media_id)
    media.description = _description(description)
    with transaction.atomic():
        media.save(update_fields=["description"])
        if media.status_id:
            status_id = media.status_id
            # The status's rendered attachments are stale (dropped first, so the update event renders anew).
            transaction.on_commit(lambda: entity_cache.status_parts_invalidate([status_id]), robust=True)
            enqueue_on_commit(tasks.announce_status_update, app="feed", status_id=status_id)
    return media


def media_for_status(*, account, media_ids) -> list[MediaAttachment]:
    """The attachments named in ``media_ids[]``, locked for attaching (call inside the status's
    transaction). Raises 422 naming ``media_ids`` for more than four, an unknown id, someone
    else's, one already attached, or one still being processed."""
    if media_ids in (None, "", []):
        return []
    raw = media_ids if isinstance(media_ids, list) else [media_ids]
    if len(raw) > MAX_ATTACHMENTS:
        raise errors.validation_failed("media_ids", f"Cannot attach more than {MAX_ATTACHMENTS} files")
    ids = [parse_id(v) for v in raw]
    if any(i is None for i in ids) or len(set(ids)) != len(ids):
        raise errors.validation_failed("media_ids", "Media attachments are unknown")
    # Locked, so two statuses racing for one attachment cannot both take it.
    found = {m.id: m for m in MediaAttachment.objects.select_for_update().filter(
        id__in=ids, account=account, status__isnull=True, failed=False)}
    if len(found) != len(ids):
        raise errors.validation_failed("media_ids", "Media attachments are unknown")
    if not all(m.ready for m in found.values()):
        raise errors.validation_failed("media_ids", "Cannot attach files that have not finished processing")
    return [found[i] for i in ids]
