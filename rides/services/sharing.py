"""Share links: a read-only live view of a ride for someone without an account."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.utils import timezone

from rides import errors, selectors
from rides.models import RIDER_ACTIVE, Ride

User = get_user_model()

# The share page (a server-rendered view) lives at this path; its socket is /ws/rides/{id}/?share=<token>.
SHARE_PAGE_PATH = "/rides/share/{token}/"


@dataclass(frozen=True)
class ShareLink:
    token: str
    url: str
    expires_at: datetime


def ride_share(*, user: User, ride_id) -> ShareLink:
    """A signed, unguessable link to follow the caller's ride live, valid ``RIDES_SHARE_SECONDS``
    and dead as soon as the ride ends (``selectors.ride_for_share`` checks both).

    Only the rider may share. Raises NotFound (not the caller's ride as rider), ``invalid_transition``
    (409, the ride has ended).
    """
    ride = Ride.objects.filter(pk=selectors.parse_ride_id(ride_id), rider=user).first()
    if ride is None:
        raise errors.ride_not_found()
    if ride.status not in RIDER_ACTIVE:
        raise errors.invalid_transition("share", ride.status)
    token = signing.dumps({"ride": str(ride.id)}, salt=selectors.SHARE_SALT, compress=True)
    expires_at = timezone.now() + timedelta(seconds=settings.RIDES_SHARE_SECONDS)
    return ShareLink(token=token, url=settings.PUBLIC_BASE_URL + SHARE_PAGE_PATH.format(token=token),
                     expires_at=expires_at)
