"""The lifecycle, exhaustively: every (state, action, global role, operation role, author-or-not)."""

import itertools

import pytest

from app.core.permissions import OpRole, Role
from app.templates.workflow import Outcome, TemplateAction, TemplateState, decide

AUTHORS = {"bronze", "gold", "comms", "admin"}
APPROVERS = {"comms", "gold"}
RETIRERS = {"gold", "admin"}
# The lifecycle as the issue states it, written out independently of the module under test.
MOVES = {
    ("draft", "submit"): "pending",
    ("pending", "approve"): "approved",
    ("pending", "reject"): "draft",
    ("draft", "revise"): "draft",
    ("approved", "revise"): "draft",
    ("draft", "retire"): "retired",
    ("pending", "retire"): "retired",
    ("approved", "retire"): "retired",
}


def expected(state: str, action: str, role: str, op_role: str | None, is_author: bool) -> tuple[Outcome, str | None]:
    if action in ("submit", "revise"):
        permitted = role in AUTHORS
    elif action in ("approve", "reject"):
        permitted = role in APPROVERS or op_role in APPROVERS
    else:
        permitted = role in RETIRERS
    if not permitted:
        return Outcome.FORBIDDEN, None
    if action in ("approve", "reject") and is_author:
        return Outcome.FORBIDDEN, None
    if action == "submit" and not is_author:
        return Outcome.FORBIDDEN, None
    if (state, action) not in MOVES:
        return Outcome.CONFLICT, None
    return Outcome.ALLOWED, MOVES[(state, action)]


CASES = list(itertools.product(TemplateState, TemplateAction, Role, [None, *OpRole], [False, True]))


def test_every_combination_is_covered():
    assert len(CASES) == 4 * 5 * 6 * 5 * 2


@pytest.mark.parametrize(("state", "action", "role", "op_role", "is_author"), CASES)
def test_decision(state, action, role, op_role, is_author):
    decision = decide(state, action, role=role, op_role=op_role, is_author=is_author)
    outcome, target = expected(state.value, action.value, role.value, op_role.value if op_role else None, is_author)
    assert decision.outcome == outcome, decision.reason
    assert (decision.to.value if decision.to else None) == target
    if outcome != Outcome.ALLOWED:
        assert decision.reason


def test_nobody_approves_their_own_template():
    for role in Role:
        for op_role in [None, *OpRole]:
            assert decide("pending", "approve", role=role, op_role=op_role, is_author=True).outcome \
                == Outcome.FORBIDDEN


def test_approving_an_approved_template_is_a_conflict_for_an_approver():
    assert decide("approved", "approve", role="comms", op_role=None, is_author=False).outcome == Outcome.CONFLICT


def test_an_operation_comms_member_approves_but_may_not_retire():
    assert decide("pending", "approve", role="officer", op_role="comms", is_author=False).outcome == Outcome.ALLOWED
    assert decide("approved", "retire", role="officer", op_role="gold", is_author=False).outcome == Outcome.FORBIDDEN


def test_retired_is_final():
    for action in TemplateAction:
        assert decide("retired", action, role="gold", op_role="gold", is_author=action == "submit").outcome \
            == Outcome.CONFLICT
