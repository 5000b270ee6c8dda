"""The template lifecycle as a pure function: (state, action, role, author-or-not) -> new state or refusal.

    draft --submit--> pending --approve--> approved --retire--> retired
      ^                  |                    |
      +------reject------+                    +--revise--> draft (the approved version stays live)

`revise` (a new version) is allowed from draft and approved; retiring is allowed from any state but
retired (abandoning a draft keeps its history). No I/O here: the service loads the template, asks
`decide`, and applies the answer. Permission is checked before the four-eyes rule, and both before the
state, so a caller who may never do an action learns nothing about the template's state.
"""

from dataclasses import dataclass
from enum import StrEnum

from app.core.permissions import Permission, has


class TemplateState(StrEnum):
    DRAFT = "draft"
    PENDING = "pending"
    APPROVED = "approved"
    RETIRED = "retired"


class TemplateAction(StrEnum):
    SUBMIT = "submit"
    APPROVE = "approve"
    REJECT = "reject"
    RETIRE = "retire"
    REVISE = "revise"


class Outcome(StrEnum):
    ALLOWED = "allowed"
    FORBIDDEN = "forbidden"  # 403: this caller may not do this to this template
    CONFLICT = "conflict"  # 409: nobody may do this in the template's current state


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    to: TemplateState | None = None
    reason: str = ""


S, A = TemplateState, TemplateAction
TRANSITIONS: dict[tuple[TemplateState, TemplateAction], TemplateState] = {
    (S.DRAFT, A.SUBMIT): S.PENDING,
    (S.PENDING, A.APPROVE): S.APPROVED,
    (S.PENDING, A.REJECT): S.DRAFT,
    (S.DRAFT, A.REVISE): S.DRAFT,
    (S.APPROVED, A.REVISE): S.DRAFT,
    (S.DRAFT, A.RETIRE): S.RETIRED,
    (S.PENDING, A.RETIRE): S.RETIRED,
    (S.APPROVED, A.RETIRE): S.RETIRED,
}
PERMISSION_FOR: dict[TemplateAction, Permission] = {
    A.SUBMIT: Permission.TEMPLATE_AUTHOR,
    A.REVISE: Permission.TEMPLATE_AUTHOR,
    A.APPROVE: Permission.TEMPLATE_APPROVE,
    A.REJECT: Permission.TEMPLATE_APPROVE,
    A.RETIRE: Permission.TEMPLATE_RETIRE,
}
# Four eyes: whoever wrote the template or the version under review never reviews it.
AUTHOR_MAY_NOT = frozenset({A.APPROVE, A.REJECT})
# Only an author of the template or of its newest version puts it forward for review.
ONLY_AUTHOR_MAY = frozenset({A.SUBMIT})


def decide(state: str, action: str, *, role: str, op_role: str | None, is_author: bool) -> Decision:
    """`role` is the caller's global role, `op_role` their role in the template's operation (None for the
    global library or a non-member); `is_author`: they wrote the template or the version concerned."""
    state, action = TemplateState(state), TemplateAction(action)
    permission = PERMISSION_FOR[action]
    # Retiring is a force-wide decision: only the global grant counts, never an operation role.
    scoped_role = None if action == A.RETIRE else op_role
    if not has(role, permission, scoped_role):
        return Decision(Outcome.FORBIDDEN, reason=f"Your role may not {action.value} templates.")
    if is_author and action in AUTHOR_MAY_NOT:
        return Decision(Outcome.FORBIDDEN, reason="Nobody may review a template they wrote (four-eyes rule).")
    if not is_author and action in ONLY_AUTHOR_MAY:
        return Decision(
            Outcome.FORBIDDEN, reason="Only the author of the template or its newest version may submit it."
        )
    target = TRANSITIONS.get((state, action))
    if target is None:
        return Decision(Outcome.CONFLICT, reason=f"A {state.value} template cannot be {_past(action)}.")
    return Decision(Outcome.ALLOWED, to=target)


def _past(action: TemplateAction) -> str:
    return {
        A.SUBMIT: "submitted",
        A.APPROVE: "approved",
        A.REJECT: "rejected",
        A.RETIRE: "retired",
        A.REVISE: "revised",
    }[action]
