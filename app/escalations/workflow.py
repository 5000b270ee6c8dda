"""The triage state machine and the queue priority, pure (no database).

new -> acknowledged -> investigating -> resolved. Bronze may rule straight from new or acknowledged
(a rumour already known to be false needs no investigation); resolved is final. A resolution carries
an outcome; `duplicate` names the group it duplicates.
"""

import math
from datetime import datetime
from enum import StrEnum

from app.core.errors import InvalidTransition


class EscalationStatus(StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    INVESTIGATING = "investigating"
    RESOLVED = "resolved"


class Outcome(StrEnum):
    FALSE = "false"
    TRUE = "true"
    UNVERIFIED = "unverified"
    DUPLICATE = "duplicate"


class Category(StrEnum):
    VIOLENCE = "violence"
    DISORDER = "disorder"
    POLICE_ACTION = "police_action"
    COMMUNITY_TENSION = "community_tension"
    TRANSPORT = "transport"
    OTHER = "other"


ALLOWED: dict[EscalationStatus, frozenset[EscalationStatus]] = {
    EscalationStatus.NEW: frozenset({EscalationStatus.ACKNOWLEDGED, EscalationStatus.RESOLVED}),
    EscalationStatus.ACKNOWLEDGED: frozenset({EscalationStatus.INVESTIGATING, EscalationStatus.RESOLVED}),
    EscalationStatus.INVESTIGATING: frozenset({EscalationStatus.RESOLVED}),
    EscalationStatus.RESOLVED: frozenset(),
}


def check_transition(current: str, target: str, outcome: str | None) -> None:
    """Raise InvalidTransition (409) unless `current -> target` is allowed with that outcome."""
    current_status, target_status = EscalationStatus(current), EscalationStatus(target)
    if target_status not in ALLOWED[current_status]:
        raise InvalidTransition(f"A rumour that is {current_status.value} cannot move to {target_status.value}.")
    if target_status == EscalationStatus.RESOLVED and outcome is None:
        raise InvalidTransition("Resolving needs an outcome: false, true, unverified or duplicate.")
    if target_status != EscalationStatus.RESOLVED and outcome is not None:
        raise InvalidTransition("An outcome is given only when resolving.")


# Severity weights for the queue: a claimed stabbing outranks a claimed road closure.
CATEGORY_WEIGHT: dict[str, float] = {
    Category.VIOLENCE: 40,
    Category.POLICE_ACTION: 30,
    Category.DISORDER: 25,
    Category.COMMUNITY_TENSION: 25,
    Category.TRANSPORT: 10,
    Category.OTHER: 5,
}


def most_severe(first: str, second: str) -> str:
    return first if CATEGORY_WEIGHT.get(first, 0) >= CATEGORY_WEIGHT.get(second, 0) else second


def priority(*, size: int, category: str, status: str, first_reported_at: datetime, now: datetime) -> float:
    """Higher first. Severity, plus how widely it is spreading (log of reports: the sixth report adds
    less than the second), plus waiting time (up to 30 points for 30 minutes unacknowledged or
    unresolved). Resolved rumours sink to the bottom."""
    if status == EscalationStatus.RESOLVED:
        return -1.0
    waiting_minutes = max(0.0, (now - first_reported_at).total_seconds() / 60)
    age_points = min(waiting_minutes, 30.0) * (1.0 if status == EscalationStatus.NEW else 0.5)
    return round(CATEGORY_WEIGHT.get(category, 5) + 20 * math.log2(max(size, 1)) + age_points, 2)
