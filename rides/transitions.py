"""The ride state machine: the one table every transition is checked against.

``requested → offered → accepted → arrived → in_progress → completed``; an offer goes back to
``requested`` when declined or timed out; ``requested|offered → no_drivers`` when candidates run
out; ``requested|offered|accepted|arrived → cancelled`` (by the rider; by the assigned driver
from ``accepted|arrived``).
"""

from dataclasses import dataclass
from enum import StrEnum

from rides import errors
from rides.models import RideStatus


class Action(StrEnum):
    OFFER = "offer"
    DECLINE = "decline"
    OFFER_TIMEOUT = "offer_timeout"
    NO_DRIVERS = "no_drivers"
    ACCEPT = "accept"
    ARRIVE = "arrive"
    START = "start"
    COMPLETE = "complete"
    CANCEL = "cancel"  # by the rider
    DRIVER_CANCEL = "driver_cancel"  # by the assigned driver


@dataclass(frozen=True)
class Transition:
    sources: frozenset[RideStatus]
    target: RideStatus


def _t(sources: set[RideStatus], target: RideStatus) -> Transition:
    return Transition(frozenset(sources), target)


S = RideStatus
TRANSITIONS: dict[Action, Transition] = {
    Action.OFFER: _t({S.REQUESTED}, S.OFFERED),
    Action.DECLINE: _t({S.OFFERED}, S.REQUESTED),
    Action.OFFER_TIMEOUT: _t({S.OFFERED}, S.REQUESTED),
    Action.NO_DRIVERS: _t({S.REQUESTED, S.OFFERED}, S.NO_DRIVERS),
    Action.ACCEPT: _t({S.OFFERED}, S.ACCEPTED),
    Action.ARRIVE: _t({S.ACCEPTED}, S.ARRIVED),
    Action.START: _t({S.ARRIVED}, S.IN_PROGRESS),
    Action.COMPLETE: _t({S.IN_PROGRESS}, S.COMPLETED),
    Action.CANCEL: _t({S.REQUESTED, S.OFFERED, S.ACCEPTED, S.ARRIVED}, S.CANCELLED),
    # A driver holding only an offer declines it instead.
    Action.DRIVER_CANCEL: _t({S.ACCEPTED, S.ARRIVED}, S.CANCELLED),
}


def is_allowed(action: Action, current: str) -> bool:
    return current in TRANSITIONS[action].sources


def target_status(action: Action, current: str) -> RideStatus:
    """The status ``action`` leads to from ``current``; a 409 ``invalid_transition`` naming it otherwise."""
    if not is_allowed(action, current):
        raise errors.invalid_transition(action, current)
    return TRANSITIONS[action].target
