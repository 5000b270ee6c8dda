"""escalation_figures(): what the debrief reports about rumours."""

import uuid
from datetime import timedelta

from sqlalchemy import update

from app.core.db import session_scope
from app.escalations.models import EscalationGroup
from app.escalations.service import escalation_figures
from tests.escalations.helpers import report, transition


def shift_first_report(group_id: str, minutes: float) -> None:
    """Pretend the rumour was first reported `minutes` before it was acknowledged/resolved."""
    with session_scope() as session:
        group = session.get(EscalationGroup, uuid.UUID(group_id))
        anchor = group.acknowledged_at or group.resolved_at
        session.execute(update(EscalationGroup).where(EscalationGroup.id == group.id)
                        .values(first_reported_at=anchor - timedelta(minutes=minutes)))


def test_empty_operation(world):
    with session_scope() as session:
        figures = escalation_figures(session, operation_id=world.op.id)
    assert figures["reports"] == 0 and figures["groups"] == 0 and figures["largest_groups"] == []
    assert figures["by_outcome"] == {"false": 0, "true": 0, "unverified": 0, "duplicate": 0, "open": 0}
    assert set(figures["by_category"]) == {"violence", "disorder", "police_action", "community_tension",
                                           "transport", "other"}
    assert figures["time_to_ack_s"] == {"median": None, "p90": None}


def test_counts_times_and_largest_groups(client, world):
    mosque = [report(client, world, who, summary="police closed the mosque", category="police_action")
              for who in ("officer", "officer2", "officer")]
    fire = report(client, world, summary="fire at New Street station", category="violence")
    buses = report(client, world, "officer2", summary="all buses cancelled in the city centre", category="transport")
    report(client, world, "officer2")  # one tap, nothing else
    report(client, world, "officer", operation=world.other_op, expect=None)  # not a member: not counted

    transition(client, world, mosque[0]["id"], to="acknowledged")
    transition(client, world, mosque[0]["id"], to="resolved", outcome="false", note="Open.")
    transition(client, world, fire["id"], to="resolved", outcome="true")
    transition(client, world, buses["id"], to="resolved", outcome="duplicate", duplicate_of=fire["id"])
    shift_first_report(mosque[0]["group_id"], 2)
    shift_first_report(fire["group_id"], 10)

    with session_scope() as session:
        figures = escalation_figures(session, operation_id=world.op.id)
    assert figures["reports"] == 6 and figures["groups"] == 4
    assert figures["by_outcome"] == {"false": 1, "true": 1, "unverified": 0, "duplicate": 1, "open": 1}
    assert figures["by_category"] == {"violence": 1, "disorder": 0, "police_action": 3, "community_tension": 0,
                                      "transport": 1, "other": 1}
    assert 115 <= figures["time_to_ack_s"]["median"] <= 600 and figures["time_to_ack_s"]["p90"] <= 600
    assert figures["time_to_ruling_s"]["p90"] >= figures["time_to_ruling_s"]["median"] > 0
    largest = figures["largest_groups"][0]
    assert largest == {"group_id": mosque[0]["group_id"], "size": 3, "summary": "police closed the mosque",
                       "outcome": "false", "first_reported_at": largest["first_reported_at"]}
    assert len(figures["largest_groups"]) == 4
