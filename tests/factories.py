"""Small typed factories. They write through the real services where a rule matters, and directly
where only a row is needed (users: one Argon2 hash is computed once and shared)."""

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache

from app.auth.models import AuthSession, User
from app.core.config import get_settings
from app.core.db import session_scope
from app.core.security import create_access_token, hash_password, new_refresh_token, token_digest
from app.core.types import utcnow
from app.operations.models import Membership, Operation

PASSWORD = "correct-horse-battery"


@lru_cache
def _password_hash() -> str:
    return hash_password(PASSWORD, get_settings())


def make_user(role: str = "officer", *, service_number: str | None = None, name: str | None = None,
              active: bool = True) -> User:
    with session_scope() as session:
        number = service_number or f"{role[0].upper()}{uuid.uuid4().hex[:7]}"
        user = User(service_number=number, display_name=name or f"Test {role} {number}", role=role,
                    password_hash=_password_hash(), active=active)
        session.add(user)
    return user


def make_operation(*, name: str = "Op Test", status: str = "live", exercise: bool = False,
                   members: list[tuple[User, str, str | None]] | None = None) -> Operation:
    """members: (user, operation role, group) triples."""
    now = utcnow()
    with session_scope() as session:
        operation = Operation(name=name, starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=6),
                              status=status, exercise=exercise,
                              went_live_at=now - timedelta(minutes=30) if status != "planned" else None)
        session.add(operation)
        session.flush()
        for user, role, group in members or []:
            session.add(Membership(operation_id=operation.id, user_id=user.id, role=role, group_name=group))
    return operation


def add_member(operation: Operation, user: User, role: str = "officer", group: str | None = None) -> None:
    with session_scope() as session:
        session.add(Membership(operation_id=operation.id, user_id=user.id, role=role, group_name=group))


def auth_headers(user: User) -> dict[str, str]:
    """Signs the user in without the HTTP round trip (a real session row and a real access token)."""
    settings = get_settings()
    with session_scope() as session:
        auth_session = AuthSession(user_id=user.id, device_name="test", refresh_hash="")
        auth_session.refresh_hash = token_digest(new_refresh_token(auth_session.id))
        session.add(auth_session)
    token, _ = create_access_token(user_id=user.id, session_id=auth_session.id, role=user.role, settings=settings)
    return {"Authorization": f"Bearer {token}"}


@dataclass
class World:
    """Everyone a test usually needs: a live operation `op` with command and officers, an `other_op`
    whose bronze is a stranger to `op`, and users of every global role."""

    users: dict[str, User]
    op: Operation
    other_op: Operation
    _headers: dict[str, dict[str, str]] = field(default_factory=dict)

    def __getitem__(self, name: str) -> User:
        return self.users[name]

    def headers(self, name: str) -> dict[str, str]:
        if name not in self._headers:
            self._headers[name] = auth_headers(self.users[name])
        return self._headers[name]


def make_world() -> World:
    users = {name: make_user(role, name=name) for name, role in [
        ("admin", "admin"), ("gold", "gold"), ("bronze", "bronze"), ("comms", "comms"), ("auditor", "auditor"),
        ("officer", "officer"), ("officer2", "officer"), ("outsider", "officer"), ("other_bronze", "bronze"),
    ]}
    op = make_operation(name="Op Test", members=[
        (users["gold"], "gold", None), (users["bronze"], "bronze", None), (users["comms"], "comms", None),
        (users["officer"], "officer", "Serial 1"), (users["officer2"], "officer", "Serial 2"),
    ])
    other_op = make_operation(name="Op Elsewhere", members=[(users["other_bronze"], "bronze", None)])
    return World(users=users, op=op, other_op=other_op)
