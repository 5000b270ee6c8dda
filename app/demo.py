"""Demo data for trying Parley: an account of every role and a live operation. Idempotent."""

from datetime import timedelta

from sqlalchemy import select
from sqlmodel import Session

from app.auth import service as auth_service
from app.auth.models import User
from app.auth.schemas import UserCreate
from app.core.config import Settings
from app.core.db import session_scope
from app.core.types import utcnow
from app.debrief import demo as debrief_demo
from app.escalations import demo as escalation_demo
from app.notifications import demo as notification_demo
from app.operations import service as operation_service
from app.operations.access import OperationAccess, membership_of
from app.operations.models import Operation
from app.operations.schemas import OperationCreate, OperationUpdate
from app.templates import demo as template_demo

DEMO_OPERATION = "Op Lantern: city centre march (demo)"
# service number, name, global role, password, operation role, group
DEMO_USERS = [
    ("X6001", "Admin Ada Okafor", "admin", "demo-admin-pass", None, None),
    ("G3001", "Gold Supt. Grace Hale", "gold", "demo-gold-pass", "gold", None),
    ("B2001", "Bronze Insp. Ben Iqbal", "bronze", "demo-bronze-pass", "bronze", None),
    ("C4001", "Comms Chloe Nowak", "comms", "demo-comms-pass", "comms", None),
    ("A5001", "Auditor Amir Shah", "auditor", "demo-auditor-pass", None, None),
    ("O1001", "PC Olivia Reid", "officer", "demo-officer-pass", "officer", "Serial 1"),
    ("O1002", "PC Omar Farouk", "officer", "demo-officer-pass", "officer", "Serial 1"),
    ("O1003", "PC Priya Kaur", "officer", "demo-officer-pass", "officer", "Serial 2"),
    ("O1004", "PC Tomasz Wójcik", "officer", "demo-officer-pass", "officer", "Serial 2"),
]
STRATEGY = (
    "Objective: keep the march safe and lawful and keep the public accurately informed.\n"
    "Tone: calm, factual, courteous. Never argue; correct false claims with facts and a source.\n"
    "Officers may reply to the public with approved templates only, and engage in person freely."
)
BRIEFING = (
    "Route: Victoria Square - Corporation Street - Bull Street. Serial 1 at the start, Serial 2 at the end.\n"
    "Escalate any rumour you see or hear at once; do not reply to it until Bronze rules."
)


def _user(session: Session, settings: Settings, number: str, name: str, role: str, password: str) -> User:
    user = session.scalar(select(User).where(User.service_number == number))
    if user is None:
        user = auth_service.create_user(session=session, settings=settings, actor=None, data=UserCreate(
            service_number=number, display_name=name, role=role, password=password))
    return user


def _live_operation(session: Session, users: dict[str, User]) -> Operation:
    operation = session.scalar(select(Operation).where(Operation.name == DEMO_OPERATION))
    if operation is not None:
        return operation
    gold = users["G3001"]
    now = utcnow()
    access = operation_service.create_operation(session=session, actor=gold, data=OperationCreate(
        name=DEMO_OPERATION, starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=8),
        strategy=STRATEGY))
    for number, _name, _role, _password, op_role, group in DEMO_USERS:
        if op_role and number != "G3001":
            operation_service.set_member(session=session, access=access, user_id=users[number].id, role=op_role,
                                         group=group)
    bronze = OperationAccess(operation=access.operation, actor=users["B2001"],
                             membership=membership_of(session, access.operation.id,
                                                                        users["B2001"].id))
    operation_service.publish_document(session, access=bronze, kind="briefing", text=BRIEFING)
    operation_service.update_operation(session=session, access=access, data=OperationUpdate(status="live"))
    return access.operation


def load(settings: Settings) -> str:
    with session_scope() as session:
        users = {number: _user(session, settings, number, name, role, password)
                 for number, name, role, password, _op_role, _group in DEMO_USERS}
        operation = _live_operation(session, users)
        template_demo.load(session, operation=operation, comms=users["C4001"], gold=users["G3001"],
                           bronze=users["B2001"])
        notification_demo.load(session, operation=operation, bronze=users["B2001"],
                               officers=[users["O1001"], users["O1002"]])
        escalation_demo.load(session, operation=operation, users=users)
        finished = debrief_demo.load(session, settings=settings, users=users)
        lines = [f"Demo data ready. Live operation: {operation.name}",
                 f"Finished operation with a debrief: {finished.name}", "",
                 "Demo accounts (service number / password / role):"]
        lines += [f"  {number:<6} {password:<18} {role:<8} {name}"
                  for number, name, role, password, _op, _group in DEMO_USERS]
        return "\n".join(lines)
