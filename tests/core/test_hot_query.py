"""HotQuery (hot reads on the DBAPI cursor) gives exactly what SQLAlchemy's own execution gives, fails the
way SQLAlchemy fails, and `attached` instances behave as loaded ones: on both engines."""

import uuid
from datetime import UTC

import pytest
from sqlalchemy import bindparam, column, select, table
from sqlalchemy.exc import DBAPIError, IntegrityError

from app.core.db import HotInsert, HotQuery, attached, begin_reading, detached, new_session, split_row, together
from app.operations.models import Membership, Operation, OperationDocument
from tests.factories import make_operation, make_user

_OPERATION_BY_ID = select(*Operation.__table__.c).where(Operation.__table__.c.id == bindparam("operation_id"))


def test_rows_match_sqlalchemys_own_execution(db):
    officer = make_user()
    operation = make_operation(members=[(officer, "officer", "Serial 3")])
    statement = (select(*Operation.__table__.c, *Membership.__table__.c)
                 .join(Membership.__table__, Membership.__table__.c.operation_id == Operation.__table__.c.id)
                 .where(Operation.__table__.c.id == bindparam("operation_id"),
                        Membership.__table__.c.user_id == bindparam("user_id")))
    params = {"operation_id": operation.id, "user_id": officer.id}

    hot = HotQuery(statement).all(db, params)

    assert hot == [tuple(row) for row in db.execute(statement, params).all()]
    values, membership = split_row(hot[0], Operation, Membership)
    assert values["id"] == operation.id and isinstance(values["id"], uuid.UUID)
    assert values["starts_at"].tzinfo is UTC and values["starts_at"] == operation.starts_at
    assert values["exercise"] is False and values["closed_at"] is None
    assert membership["group_name"] == "Serial 3"


def test_json_columns_and_limits_with_defaults(db):
    operation = make_operation()
    db.add(OperationDocument(operation_id=operation.id, kind="briefing", version=1, text="Stay calm",
                             engagement={"channels": ["in_person"], "note": "łódź"}))
    db.commit()
    statement = HotQuery(select(*OperationDocument.__table__.c)
                         .where(OperationDocument.operation_id == bindparam("operation_id")).limit(1))

    (document,) = statement.dicts(db, {"operation_id": operation.id})

    assert document["engagement"] == {"channels": ["in_person"], "note": "łódź"}
    assert document["text"] == "Stay calm"


def test_no_row_and_outer_join_gaps(db):
    assert HotQuery(_OPERATION_BY_ID).first(db, {"operation_id": uuid.uuid4()}) is None
    operation_width = len(Operation.__table__.c)
    member = tuple(range(len(Membership.__table__.c)))  # a row's values, only their places matter here
    values = split_row((None,) * operation_width + member, Operation, Membership)
    assert values[0] is None and values[1] == {c.key: i for i, c in enumerate(Membership.__table__.c)}
    assert split_row(None, Operation, Membership) == [None, None]
    assert attached(db, Operation, None) is None


def test_a_failing_statement_raises_sqlalchemys_error_and_the_session_recovers(db):
    missing = table("no_such_table", column("id"))
    broken = HotQuery(select(missing.c.id).where(missing.c.id == bindparam("x")))
    with pytest.raises(DBAPIError, match="no_such_table"):
        broken.all(db, {"x": 1})
    db.rollback()
    operation = make_operation()
    assert HotQuery(_OPERATION_BY_ID).first(db, {"operation_id": operation.id})[0] == operation.id


def test_attached_instances_are_the_sessions_own_and_changes_are_saved(settings):
    operation = make_operation(name="Op Before")
    with new_session() as session:
        values = HotQuery(_OPERATION_BY_ID).dicts(session, {"operation_id": operation.id})[0]
        loaded = attached(session, Operation, values)
        assert attached(session, Operation, dict(values)) is loaded
        assert session.get(Operation, operation.id) is loaded  # no second copy, no query
        loaded.name = "Op After"
        session.commit()
    with new_session() as session:
        assert session.get(Operation, operation.id).name == "Op After"


def test_a_detached_instance_added_later_is_updated_not_inserted(settings):
    operation = make_operation(name="Op Detached")
    with new_session() as session:
        values = HotQuery(_OPERATION_BY_ID).dicts(session, {"operation_id": operation.id})[0]
    instance = detached(Operation, values)
    with new_session() as session:
        instance.name = "Op Renamed"
        session.add(instance)
        session.commit()  # an INSERT would fail on the primary key
    with new_session() as session:
        assert session.get(Operation, operation.id).name == "Op Renamed"


def test_hot_insert_writes_the_whole_row_and_a_repeat_answers_none(db):
    officer = make_user()
    operation = make_operation(members=[(officer, "officer", None)])
    insert_member = HotInsert(Membership.__table__, unique=["operation_id", "user_id"])
    other = make_user()
    row = Membership(operation_id=operation.id, user_id=other.id, role="officer", group_name="Serial 9")

    assert insert_member(db, row.model_dump()) == row.id
    again = Membership(operation_id=operation.id, user_id=other.id, role="officer")
    assert insert_member(db, again.model_dump()) is None  # the same (operation, user): skipped quietly
    db.commit()
    stored = db.get(Membership, row.id)
    assert (stored.group_name, stored.role, stored.added_at) == ("Serial 9", "officer", row.added_at)


def test_hot_insert_breaking_another_constraint_raises_sqlalchemys_integrity_error(db):
    ghost = Membership(operation_id=uuid.uuid4(), user_id=uuid.uuid4(), role="officer")
    with pytest.raises(IntegrityError):
        HotInsert(Membership.__table__)(db, ghost.model_dump())  # no such operation or user
    db.rollback()


def test_an_insert_with_the_commit_is_stored_by_the_commit_and_dropped_by_a_rollback(db):
    operation = make_operation()
    insert_member = HotInsert(Membership.__table__)
    kept, dropped = (Membership(operation_id=operation.id, user_id=make_user().id, role="officer",
                                group_name=name) for name in ("Serial 1", "Serial 2"))

    insert_member.with_commit(db, dropped.model_dump())
    db.rollback()
    insert_member.with_commit(db, kept.model_dump())
    with new_session() as other:
        begin_reading(other)  # SQLite: a WAL reader, which does not wait for the open write transaction
        assert other.get(Membership, kept.id) is None  # nothing is visible before the commit, on either engine
    db.commit()

    with new_session() as other:
        assert other.get(Membership, kept.id).group_name == "Serial 1"
        assert other.get(Membership, dropped.id) is None


def test_an_insert_with_the_commit_that_fails_fails_the_commit(db):
    ghost = Membership(operation_id=uuid.uuid4(), user_id=uuid.uuid4(), role="officer")
    with pytest.raises(IntegrityError):
        HotInsert(Membership.__table__).with_commit(db, ghost.model_dump())  # SQLite: now; PostgreSQL: at commit
        db.commit()
    db.rollback()


def test_statements_read_together_give_what_each_gives_alone(db):
    officer = make_user()
    operation = make_operation(members=[(officer, "officer", "Serial 3")])
    by_id, nothing = HotQuery(_OPERATION_BY_ID), HotQuery(_OPERATION_BY_ID)
    membership = HotQuery(select(Membership.__table__.c.group_name).where(
        Membership.__table__.c.user_id == bindparam("user_id")))

    rows = together(db, (by_id, {"operation_id": operation.id}), (nothing, {"operation_id": uuid.uuid4()}),
                    (membership, {"user_id": officer.id}))

    assert rows == [by_id.all(db, {"operation_id": operation.id}), [], [("Serial 3",)]]
    assert rows[0][0][0] == operation.id and rows[0][0][_column_index(Operation, "starts_at")].tzinfo is UTC


def test_a_failing_statement_read_together_raises_sqlalchemys_error_and_the_session_recovers(db):
    operation = make_operation()
    missing = table("no_such_table", column("id"))
    broken = HotQuery(select(missing.c.id).where(missing.c.id == bindparam("x")))
    with pytest.raises(DBAPIError, match="no_such_table"):
        together(db, (HotQuery(_OPERATION_BY_ID), {"operation_id": operation.id}), (broken, {"x": 1}))
    db.rollback()
    assert together(db, (HotQuery(_OPERATION_BY_ID), {"operation_id": operation.id}))[0][0][0] == operation.id


def _column_index(model, key: str) -> int:
    return [column.key for column in model.__table__.c].index(key)
