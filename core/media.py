"""Serving uploaded files without letting one run as a page of this site.

Only a raster image (``core.images``) is ever shown inline, with its real type. Every other file
is a download: ``Content-Disposition: attachment``, ``application/octet-stream``, no sniffing
and a sandboxing CSP, so an HTML or SVG file uploaded as "image/png" cannot execute here.

Public uploads live under MEDIA_ROOT (``/media/``); private ones (chat attachments) under
PRIVATE_MEDIA_ROOT, served only through views that check who asks (``private_file_response``).
"""

import asyncio
import os
from urllib.parse import quote

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_safe
from PIL import Image

from core.images import INLINE_TYPES, NOT_AN_IMAGE, RASTER_TYPES, open_raster

DOWNLOAD_TYPE = "application/octet-stream"
SANDBOX_CSP = "sandbox; default-src 'none'"
CHUNK_BYTES = 64 * 1024


class PrivateMediaStorage(FileSystemStorage):
    """Files under PRIVATE_MEDIA_ROOT (read at each use, so tests can move it); no public URL."""

    @property
    def base_location(self):
        return str(settings.PRIVATE_MEDIA_ROOT)

    @property
    def location(self):
        return os.path.abspath(self.base_location)

    def url(self, name):
        raise ValueError("Private files have no public URL; serve them through a view that checks access.")


_private = PrivateMediaStorage()


def private_storage() -> PrivateMediaStorage:
    """The storage of private uploads (a callable, so model fields and migrations name it)."""
    return _private


async def _read_chunks(handle):
    try:
        while chunk := await asyncio.to_thread(handle.read, CHUNK_BYTES):
            yield chunk
    finally:
        await asyncio.to_thread(handle.close)


def _file_body(request, handle) -> StreamingHttpResponse:
    """Stream an open file. Under ASGI (the request carries a scope) the chunks are read on a
    thread as they are sent: Django would otherwise read a synchronous file whole into memory."""
    if getattr(request, "scope", None) is None:
        return FileResponse(handle)
    size = os.fstat(handle.fileno()).st_size
    response = StreamingHttpResponse(_read_chunks(handle))
    response["Content-Length"] = str(size)
    return response


def _safe_headers(response: HttpResponse, *, name: str, content_type: str | None, inline: bool) -> HttpResponse:
    inline = inline and content_type in INLINE_TYPES
    response["Content-Type"] = content_type if inline else DOWNLOAD_TYPE
    response["Content-Disposition"] = content_disposition_header(not inline, name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = SANDBOX_CSP
    return response


def private_file_response(request, field_file, *, name: str, content_type: str | None, inline: bool) -> HttpResponse:
    """A private file for a caller already checked: streamed by the app, or with SERVE_MEDIA=0
    handed to the proxy via ``X-Accel-Redirect`` (MEDIA_ACCEL_REDIRECT_PREFIX + its path).

    ``inline`` only takes effect for a raster type (``core.images.INLINE_TYPES``).
    """
    if settings.SERVE_MEDIA:
        try:
            handle = field_file.storage.open(field_file.name, "rb")
        except FileNotFoundError:
            raise Http404("File not found.") from None
        response = _file_body(request, handle)
    else:
        response = HttpResponse()
        response["X-Accel-Redirect"] = settings.MEDIA_ACCEL_REDIRECT_PREFIX + quote(field_file.name)
    response["Cache-Control"] = "private, max-age=300"
    return _safe_headers(response, name=name, content_type=content_type, inline=inline)


@require_safe
def serve_public(request, path: str) -> HttpResponse:
    """``/media/<path>`` from MEDIA_ROOT (when SERVE_MEDIA): raster images inline with the type
    their header shows, anything else as a download."""
    root = os.path.realpath(settings.MEDIA_ROOT)
    full = os.path.realpath(os.path.join(root, path))
    if not full.startswith(root + os.sep) or not os.path.isfile(full):
        raise Http404("File not found.")
    handle = open(full, "rb")  # noqa: SIM115 - FileResponse closes it
    content_type = None
    try:
        with open_raster(handle) as image:
            content_type = RASTER_TYPES[image.format]
    except (Image.DecompressionBombError, *NOT_AN_IMAGE):
        pass  # not a raster image: served as a download
    handle.seek(0)
    response = _file_body(request, handle)
    return _safe_headers(response, name=os.path.basename(full), content_type=content_type, inline=True)
