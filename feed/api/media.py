"""Media uploads: the MediaAttachment entity, 202/206 while the sizes are made."""

from django.conf import settings
from rest_framework.response import Response

from feed import errors, presenters
from feed.api.base import (
    FeedView,
    _body,
    mastodon_entity,
)
from feed.services import media

MULTIPART_OVERHEAD = 64 * 1024  # form fields and part headers beside the file


# --- media ---------------------------------------------------------------------------------
@mastodon_entity(statuses={"post": (200, 202)})
class MediaUploadView(FeedView):
    """``POST /api/v2/media``: 202 while the sizes are made, 200 when they were made at once."""

    scopes = {"POST": "write:media"}

    def post(self, request):
        # Refused before the body is read: an upload far past the limit never reaches the disk.
        declared = request.META.get("CONTENT_LENGTH") or "0"
        if declared.isdigit() and int(declared) > settings.FEED_MEDIA_MAX_BYTES + MULTIPART_OVERHEAD:
            raise errors.validation_failed("file", "File file size must be less than "
                                           f"{settings.FEED_MEDIA_MAX_BYTES // (1024 * 1024)} MB")
        data = _body(request)
        attachment = media.media_upload(account=request.user, file=request.FILES.get("file"),
                                        description=data.get("description"))
        attachment.refresh_from_db()
        return Response(presenters.media_entity(attachment), status=200 if attachment.ready else 202)


@mastodon_entity(statuses={"get": (200, 206)})
class MediaDetailView(FeedView):
    """``GET /api/v1/media/{id}``: 206 while processing, 200 when ready; ``PUT``: the description."""

    scopes = {"GET": "write:media", "PUT": "write:media"}

    def get(self, request, media_id: str):
        attachment = media.own_media(account=request.user, media_id=media_id)
        if attachment.failed:
            raise errors.validation_failed("file", "File could not be processed")
        return Response(presenters.media_entity(attachment), status=200 if attachment.ready else 206)

    def put(self, request, media_id: str):
        attachment = media.media_update(account=request.user, media_id=media_id,
                                        description=_body(request).get("description"))
        return Response(presenters.media_entity(attachment))
