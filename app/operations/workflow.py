"""Operation status: planned -> live -> closed (planned -> closed cancels). Closed is final."""

from enum import StrEnum


class OperationStatus(StrEnum):
    PLANNED = "planned"
    LIVE = "live"
    CLOSED = "closed"


ALLOWED = {
    OperationStatus.PLANNED: {OperationStatus.LIVE, OperationStatus.CLOSED},
    OperationStatus.LIVE: {OperationStatus.CLOSED},
    OperationStatus.CLOSED: set(),
}


def can_move(current: str, target: str) -> bool:
    return OperationStatus(target) in ALLOWED[OperationStatus(current)]
