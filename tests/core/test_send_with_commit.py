"""PostgreSQL: what is queued to go with the COMMIT (the audit chain's append, live events) runs in order inside
the transaction, fails the commit the way SQLAlchemy fails and then keeps nothing, and is dropped by a rollback."""

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import DataError

from app.core.db import get_engine, new_session, send_with_commit
from app.operations.models import Operation
from tests.dbutil import engine_name
from tests.factories import make_operation

pytestmark = pytest.mark.skipif(engine_name() != "postgresql", reason="the queue is PostgreSQL's (one pipeline)")
_RENAME = "UPDATE operation SET name = name || %(suffix)s WHERE id = %(id)s"


def _name(operation_id) -> str:
    with new_session() as session:
        return session.scalar(select(Operation.name).where(Operation.id == operation_id))


def test_queued_statements_run_in_order_in_the_committed_transaction(db):
    operation = make_operation(name="Bull Ring")
    db.execute(update(Operation).where(Operation.id == operation.id).values(name="Gate"))
    send_with_commit(db.connection(), _RENAME, {"suffix": " 3", "id": operation.id})
    send_with_commit(db.connection(), _RENAME, {"suffix": " north", "id": operation.id})
    assert _name(operation.id) == "Bull Ring"  # nothing is sent before the commit

    db.commit()

    assert _name(operation.id) == "Gate 3 north"


def test_a_failing_queued_statement_fails_the_commit_and_nothing_is_kept(db):
    operation = make_operation(name="Bull Ring")
    db.execute(update(Operation).where(Operation.id == operation.id).values(name="Gate 3"))
    send_with_commit(db.connection(), "SELECT 1 / 0")

    with pytest.raises(DataError):
        db.commit()
    db.rollback()

    assert _name(operation.id) == "Bull Ring"
    db.execute(update(Operation).where(Operation.id == operation.id).values(name="Gate 4"))
    db.commit()  # the session and its connection work again
    assert _name(operation.id) == "Gate 4"


def test_a_rollback_drops_the_queue(settings):
    operation = make_operation(name="Bull Ring")
    with get_engine().connect() as connection:  # one connection throughout: the queue lives on it
        send_with_commit(connection, _RENAME, {"suffix": " (rolled back)", "id": operation.id})
        connection.rollback()
        connection.execute(select(1))
        connection.commit()

    assert _name(operation.id) == "Bull Ring"
