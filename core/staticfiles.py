"""Static files served by the ASGI app itself, with hostile paths answered 404."""

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.exceptions import SuspiciousFileOperation
from django.http import Http404


class SafeASGIStaticFilesHandler(ASGIStaticFilesHandler):
    """Django's handler lets a path escaping the static directories (``..%2f``) raise
    SuspiciousFileOperation out of the ASGI app; here it is a plain 404 like any missing file."""

    def serve(self, request):
        try:
            return super().serve(request)
        except SuspiciousFileOperation:
            raise Http404("Not found.") from None
