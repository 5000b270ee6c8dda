"""Load an operation for a caller: 404 when they may not know it exists, then 403 for the action.

Every domain that acts inside an operation calls `operation_access` first.
"""

import uuid
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlmodel import Session

from app.auth.models import User
from app.core.db import HotQuery, attached, split_row
from app.core.errors import Conflict, NotFound
from app.core.permissions import Permission, ensure, has
from app.operations.models import Membership, Operation
from app.operations.workflow import OperationStatus


@dataclass
class OperationAccess:
    operation: Operation
    membership: Membership | None
    actor: User

    @property
    def op_role(self) -> str | None:
        return self.membership.role if self.membership else None

    def can(self, permission: Permission) -> bool:
        return has(self.actor.role, permission, self.op_role)

    def ensure(self, permission: Permission) -> None:
        ensure(self.actor.role, permission, self.op_role)

    def ensure_open(self) -> None:
        if self.operation.status == OperationStatus.CLOSED:
            raise Conflict("This operation is closed and read-only.")


def membership_of(session: Session, operation_id: uuid.UUID, user_id: uuid.UUID) -> Membership | None:
    return session.scalar(
        select(Membership).where(Membership.operation_id == operation_id, Membership.user_id == user_id)
    )


# The operation and the caller's membership in one round trip, the statement built once: every request
# inside an operation pays for it.
_OPERATION_AND_MEMBERSHIP = HotQuery(
    select(*Operation.__table__.c, *Membership.__table__.c).outerjoin_from(
        Operation.__table__, Membership.__table__,
        (Membership.operation_id == Operation.id) & (Membership.user_id == bindparam("user_id")))
    .where(Operation.id == bindparam("operation_id")))


def access_read(actor: User, operation_id: uuid.UUID) -> tuple[HotQuery, dict]:
    """The statement `operation_access` runs, for a caller that reads it together with others (`together`)."""
    return _OPERATION_AND_MEMBERSHIP, {"operation_id": operation_id, "user_id": actor.id}


def operation_access(
    session: Session, *, actor: User, operation_id: uuid.UUID, permission: Permission | None = None,
    rows: list[tuple] | None = None,
) -> OperationAccess:
    """`rows`: what `access_read` gave, when the caller has read it already."""
    if rows is None:
        query, params = access_read(actor, operation_id)
        rows = query.all(session, params)
    row = rows[0] if rows else None
    operation_values, membership_values = split_row(row, Operation, Membership)
    operation = attached(session, Operation, operation_values)
    membership = attached(session, Membership, membership_values)
    if operation is None or (membership is None and not has(actor.role, Permission.OPERATION_VIEW)):
        raise NotFound("Operation not found.")
    access = OperationAccess(operation=operation, membership=membership, actor=actor)
    if permission is not None:
        access.ensure(permission)
    return access
