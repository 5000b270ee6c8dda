"""PostgreSQL: what is queued to go with the COMMIT (the audit chain's append, live events, a report's rows) runs in
order inside the transaction, is sent first when the transaction runs another statement before committing, fails
the commit the way SQLAlchemy fails and then keeps nothing, and is dropped by a rollback."""

import pytest
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import DataError

from app.core.db import HotQuery, get_engine, new_session, send_with_commit, together
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


_NAME = HotQuery(select(Operation.name).where(Operation.id == bindparam("id")))


@pytest.mark.parametrize("read", ["sqlalchemy", "hot query", "together"])
def test_a_statement_before_the_commit_sends_the_queue_first_and_sees_it(db, read):
    operation = make_operation(name="Bull Ring")
    send_with_commit(db.connection(), _RENAME, {"suffix": " north", "id": operation.id})
    if read == "sqlalchemy":
        seen = db.scalar(select(Operation.name).where(Operation.id == operation.id))
    elif read == "hot query":
        (seen,) = _NAME.first(db, {"id": operation.id})
    else:
        (((seen,),),) = together(db, (_NAME, {"id": operation.id}))
    assert seen == "Bull Ring north"
    assert _name(operation.id) == "Bull Ring"  # not committed yet

    db.commit()

    assert _name(operation.id) == "Bull Ring north"  # sent once, not again with the COMMIT


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
