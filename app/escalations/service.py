"""Rumour escalations: report, group, triage, rule, tell the reporters; photos; debrief figures.

Every write in an operation's escalations takes that operation's escalation lock first (PostgreSQL: a
transaction advisory lock; SQLite: writers are already serialised by BEGIN IMMEDIATE). So grouping sees
every report committed before it, a repeated client_id finds the first, and merges cannot deadlock.
"""

import hashlib
import json
import uuid
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, or_, select, update
from sqlmodel import Session

from app.audit.writer import AuditAction, client_ip, record
from app.auth.models import User
from app.core.config import Settings
from app.core.db import HotInsert, HotQuery, attached, detached, new_row, split_row, together
from app.core.deps import SignInCheck, sign_in_read, signed_in
from app.core.errors import AppError, Conflict, Forbidden, Invalid, NotFound
from app.core.events import Audience, publish
from app.core.permissions import Permission
from app.core.types import iso, utcnow
from app.escalations import grouping, photos
from app.escalations.models import Escalation, EscalationAttachment, EscalationGroup, EscalationHistory
from app.escalations.schemas import (
    AttachmentPublic,
    EscalationCreate,
    EscalationDetail,
    EscalationPublic,
    GroupPublic,
    HistoryEntry,
    TransitionIn,
)
from app.escalations.storage import get_storage
from app.escalations.workflow import (
    Category,
    EscalationStatus,
    Outcome,
    check_transition,
    most_severe,
    priority,
)
from app.operations.access import OperationAccess, access_read, membership_of, operation_access

OPERATION_LOCK_NAMESPACE = 7_261_004
CANDIDATE_LIMIT = 1000  # distinct texts (and reports per text) compared within the window
FIRST_LOOK = 20  # reports per similar text read first (latest first); the rest only if none of them matches
MAX_PHOTOS = 5
FUTURE_SLACK = timedelta(minutes=5)  # phone clocks drift; further ahead than this is an error
LIST_LIMIT = 500

# A report's statements, built once: on SQLite building a statement costs more than running it.
_INSERT_GROUP = HotInsert(EscalationGroup.__table__)


def _latest_number(table: Any, operation_id: Any) -> Any:
    """The operation's latest report number, by the (operation_id, seq) index: a max() is planned as a scan of
    every row of the operation until the table has statistics."""
    return select(table.c.seq).where(table.c.operation_id == operation_id).order_by(table.c.seq.desc()).limit(1)


_INSERT_ESCALATION = HotInsert(Escalation.__table__, computed={  # numbered as it goes in (under the lock)
    "seq": func.coalesce(_latest_number(Escalation.__table__.alias("earlier"), bindparam("v_operation_id"))
                         .scalar_subquery(), 0) + 1})
_INSERT_HISTORY = HotInsert(EscalationHistory.__table__)
_BY_CLIENT_ID = HotQuery(select(*Escalation.__table__.c).where(Escalation.reporter_id == bindparam("reporter_id"),
                                                             Escalation.client_id == bindparam("client_id")))
_GROW_GROUP = HotQuery(  # one more report in a group, whose new category the report worked out under the lock
    update(EscalationGroup.__table__).where(EscalationGroup.__table__.c.id == bindparam("group_id"))
    .values(size=EscalationGroup.__table__.c.size + 1, category=bindparam("category"),
            latest_reported_at=bindparam("now"), updated_at=bindparam("now"))
)


# --- loading and locking ---------------------------------------------------------------------------------


_LOCK_OPERATION = HotQuery(select(func.pg_advisory_xact_lock(bindparam("namespace"), bindparam("key"))))


def _lock_operation(session: Session, operation_id: uuid.UUID) -> None:
    for query, params in _operation_lock(session, operation_id):
        query.all(session, params)


def _operation_lock(session: Session, operation_id: uuid.UUID) -> list[tuple[HotQuery, dict]]:
    """The statement that takes the operation's lock until the transaction ends: PostgreSQL's advisory lock;
    none on SQLite, whose writers already take turns."""
    if session.get_bind().dialect.name != "postgresql":
        return []
    return [(_LOCK_OPERATION, {"namespace": OPERATION_LOCK_NAMESPACE,
                               "key": zlib.crc32(operation_id.bytes) - 2**31})]  # int4 range


def _visible(session: Session, *, actor: User, escalation_id: uuid.UUID) -> tuple[Escalation, OperationAccess]:
    """404 unless the caller may see this report: command of its operation, or its reporter."""
    escalation = session.get(Escalation, escalation_id)
    if escalation is None:
        raise NotFound("Escalation not found.")
    try:
        access = operation_access(session, actor=actor, operation_id=escalation.operation_id)
    except NotFound:
        raise NotFound("Escalation not found.") from None
    if not access.can(Permission.ESCALATION_VIEW_ALL) and escalation.reporter_id != actor.id:
        raise NotFound("Escalation not found.")
    return escalation, access


def _for_triage(session: Session, *, actor: User, escalation_id: uuid.UUID) -> tuple[Escalation, OperationAccess]:
    escalation, access = _visible(session, actor=actor, escalation_id=escalation_id)
    access.ensure(Permission.ESCALATION_TRIAGE)
    access.ensure_open()
    _lock_operation(session, escalation.operation_id)
    session.refresh(escalation)  # the lock may have waited for a merge that moved this report
    return escalation, access


def _group(session: Session, group_id: uuid.UUID) -> EscalationGroup:
    group = session.get(EscalationGroup, group_id, populate_existing=True)
    assert group is not None  # every report has a group (foreign key)
    return group


def _group_by_reference(
    session: Session, *, operation_id: uuid.UUID, reference: uuid.UUID, field: str
) -> EscalationGroup:
    """A group named by its own id or by the id of any report in it, in the same operation."""
    group = session.get(EscalationGroup, reference)
    if group is None:
        escalation = session.get(Escalation, reference)
        group = session.get(EscalationGroup, escalation.group_id) if escalation else None
    while group is not None and group.merged_into_id is not None:
        group = session.get(EscalationGroup, group.merged_into_id)
    if group is None or group.operation_id != operation_id:
        raise Invalid(f"{field}: no such rumour group in this operation.")
    return group


# --- views -----------------------------------------------------------------------------------------------


def _attachments(session: Session, escalation_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[AttachmentPublic]]:
    found: dict[uuid.UUID, list[AttachmentPublic]] = defaultdict(list)
    if not escalation_ids:
        return found
    rows = session.scalars(
        select(EscalationAttachment)
        .where(EscalationAttachment.escalation_id.in_(escalation_ids))
        .order_by(EscalationAttachment.created_at)
    ).all()
    for row in rows:
        found[row.escalation_id].append(_attachment_public(row))
    return found


def _attachment_public(row: EscalationAttachment) -> AttachmentPublic:
    return AttachmentPublic.model_validate(row).model_copy(
        update={"url": f"/api/v1/escalations/{row.escalation_id}/attachments/{row.id}"}
    )


def _public(
    escalation: Escalation,
    group: EscalationGroup,
    *,
    reporter_name: str | None = None,
    attachments: list[AttachmentPublic] | None = None,
) -> EscalationPublic:
    return EscalationPublic(
        id=escalation.id,
        operation_id=escalation.operation_id,
        client_id=escalation.client_id,
        reporter_id=escalation.reporter_id,
        reporter_name=reporter_name,
        summary=escalation.summary,
        category=escalation.category,
        source_url=escalation.source_url,
        lat=escalation.lat,
        lon=escalation.lon,
        accuracy_m=escalation.accuracy_m,
        observed_at=escalation.observed_at,
        created_at=escalation.created_at,
        updated_at=escalation.updated_at,
        status=group.status,
        outcome=group.outcome,
        ruling_note=group.ruling_note,
        counter_template_id=group.counter_template_id,
        group_id=group.id,
        group_size=group.size,
        duplicate_of=group.duplicate_of_id,
        resolved_at=group.resolved_at,
        attachments=attachments or [],
    )


def _publics(session: Session, rows: list[tuple[Escalation, EscalationGroup]]) -> list[EscalationPublic]:
    attachments = _attachments(session, [e.id for e, _ in rows])
    names = _names(session, {e.reporter_id for e, _ in rows})
    return [_public(e, g, reporter_name=names.get(e.reporter_id), attachments=attachments.get(e.id)) for e, g in rows]


def _names(session: Session, user_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not user_ids:
        return {}
    return dict(session.execute(select(User.id, User.display_name).where(User.id.in_(user_ids))).all())


def _group_public(group: EscalationGroup, members: list[EscalationPublic], now: datetime) -> GroupPublic:
    summary = next((m.summary for m in members if m.summary), None)
    return GroupPublic(
        id=group.id,
        operation_id=group.operation_id,
        status=group.status,
        outcome=group.outcome,
        category=group.category,
        size=group.size,
        summary=summary,
        first_reported_at=group.first_reported_at,
        latest_reported_at=group.latest_reported_at,
        assignee_id=group.assignee_id,
        ruling_note=group.ruling_note,
        counter_template_id=group.counter_template_id,
        duplicate_of=group.duplicate_of_id,
        acknowledged_at=group.acknowledged_at,
        resolved_at=group.resolved_at,
        updated_at=group.updated_at,
        priority=priority(
            size=group.size,
            category=group.category,
            status=group.status,
            first_reported_at=group.first_reported_at,
            now=now,
        ),
        members=members,
    )


def _members(session: Session, groups: list[EscalationGroup]) -> dict[uuid.UUID, list[EscalationPublic]]:
    by_id = {g.id: g for g in groups}
    if not by_id:
        return {}
    rows = session.scalars(
        select(Escalation).where(Escalation.group_id.in_(list(by_id))).order_by(Escalation.created_at, Escalation.id)
    ).all()
    members: dict[uuid.UUID, list[EscalationPublic]] = defaultdict(list)
    for public in _publics(session, [(e, by_id[e.group_id]) for e in rows]):
        members[public.group_id].append(public)
    return members


def _announce(session: Session, *, group: EscalationGroup, escalations: list[Escalation], type_: str) -> None:
    """One live event per report, to its reporter (and so to command): an officer hears of their own
    reports only, even when the group holds other officers' text."""
    for escalation in escalations:
        publish(
            session,
            operation_id=escalation.operation_id,
            type=type_,
            data=_public(escalation, group).model_dump(mode="json"),
            audience=Audience.users([escalation.reporter_id]),
        )


def _history(
    session: Session,
    *,
    group: EscalationGroup,
    actor: User | None,
    action: str,
    escalation: Escalation | None = None,
    from_status: str | None = None,
    to_status: str | None = None,
    outcome: str | None = None,
    note: str | None = None,
    details: dict | None = None,
    unread: bool = False,
) -> None:
    """`unread`: nothing in this transaction reads the entry back (a new report), so on PostgreSQL it goes
    with the COMMIT instead of a round trip of its own."""
    insert = _INSERT_HISTORY.with_commit if unread else _INSERT_HISTORY
    insert(session, new_row(
        EscalationHistory,
        group_id=group.id,
        escalation_id=escalation.id if escalation else None,
        actor_id=actor.id if actor else None,
        action=action,
        from_status=from_status,
        to_status=to_status,
        outcome=outcome,
        note=note,
        details=details or {},
    ))


def _touch_members(session: Session, group_id: uuid.UUID, now: datetime) -> list[Escalation]:
    """Members changed with their group: their updated_at moves, so `?since=` polling sees them."""
    session.execute(update(Escalation).where(Escalation.group_id == group_id).values(updated_at=now))
    return list(
        session.scalars(
            select(Escalation)
            .where(Escalation.group_id == group_id)
            .order_by(Escalation.created_at)
            .execution_options(populate_existing=True)
        )
    )


# --- report ----------------------------------------------------------------------------------------------


def _fingerprint(operation_id: uuid.UUID, data: EscalationCreate) -> str:
    body = {"operation_id": str(operation_id), **data.model_dump(mode="json")}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _repeat(existing: Escalation, fingerprint: str) -> Escalation:
    if existing.request_hash != fingerprint:
        raise Invalid(
            "This client_id was already used for a different report. Use a new client_id.",
            errors=[
                {
                    "loc": ["body", "client_id"],
                    "msg": "already used with a different body",
                    "type": "client_id_reused",
                }
            ],
        )
    return existing


def _by_client_id(session: Session, reporter_id: uuid.UUID, client_id: str,
                  rows: list[tuple] | None = None) -> Escalation | None:
    """`rows`: the lookup's result when the caller read it together with other statements."""
    if rows is None:
        rows = _BY_CLIENT_ID.all(session, {"reporter_id": reporter_id, "client_id": client_id})
    return attached(session, Escalation, _BY_CLIENT_ID.as_dicts(rows)[0]) if rows else None


def _as_reports(rows) -> list[grouping.Report]:
    return [grouping.Report(*row[:len(_CANDIDATE_COLUMNS)]) for row in rows]  # in Report's field order


def _latest_first(rows: list[tuple]) -> list[tuple]:
    return sorted(rows, key=lambda row: row[4], reverse=True)  # _CANDIDATE_COLUMNS[4] is reported_at


def _best_match(report: grouping.Report, rows: list[tuple]) -> tuple[grouping.Match, dict[str, Any]] | None:
    """The group `report` belongs to among candidate rows (`_CANDIDATE_COLUMNS`, then the columns of the
    candidate's group), with that group's row as read under the operation lock."""
    match = grouping.best_match(report, _as_reports(rows))
    if match is None:
        return None
    row = next(row for row in rows if row[0] == match.group_id)  # _CANDIDATE_COLUMNS[0] is the group id
    (group,) = split_row(row[len(_CANDIDATE_COLUMNS):], EscalationGroup)
    return match, group


_CANDIDATE_COLUMNS = (
    Escalation.group_id,
    Escalation.text_key,
    Escalation.link_key,
    Escalation.short_link_key,
    Escalation.reported_at,
    Escalation.lat,
    Escalation.lon,
)


def _grouping_statements() -> dict[str, Any]:
    """The grouping queries of every report, built once (on SQLite building one costs more than running
    it), with bind parameters for the operation, the link keys, the time window and the place."""
    links = (bindparam("link"), bindparam("short_link"))  # a report's two link keys (the one it has, twice)
    with_group = select(*_CANDIDATE_COLUMNS, *EscalationGroup.__table__.c).join_from(
        Escalation, EscalationGroup, Escalation.group_id == EscalationGroup.id)
    in_operation = Escalation.operation_id == bindparam("operation_id")
    in_window = (Escalation.text_key.is_not(None), Escalation.reported_at >= bindparam("since"),
                 Escalation.reported_at <= bindparam("until"))
    nearby_place = or_(Escalation.lat.is_(None),
                       Escalation.lat.between(bindparam("south"), bindparam("north"))
                       & Escalation.lon.between(bindparam("west"), bindparam("east")))
    statements: dict[str, Any] = {
        "link": HotQuery(with_group.where(
            in_operation, or_(Escalation.link_key.in_(links), Escalation.short_link_key.in_(links))).limit(1)),
    }
    for placed, nearby in ((False, (in_operation, *in_window)), (True, (in_operation, *in_window, nearby_place))):
        statements["texts", placed] = HotQuery(select(Escalation.text_key).where(*nearby).distinct()
                                               .limit(CANDIDATE_LIMIT))
        # the reports nearby in the window recorded after number `after_number`: a few, read by their number
        statements["reports since", placed] = HotQuery(with_group
                                                       .where(*nearby, Escalation.seq > bindparam("after_number"))
                                                       .order_by(Escalation.seq).limit(CANDIDATE_LIMIT))
        statements["reports", placed] = HotQuery(with_group
                                                 .where(*nearby, Escalation.text_key == bindparam("text_key"))
                                                 .order_by(Escalation.reported_at.desc(), Escalation.id)
                                                 .limit(bindparam("limit")).offset(bindparam("offset")))
    return statements


_GROUPING = _grouping_statements()
_LATEST_NUMBER = HotQuery(_latest_number(Escalation.__table__, bindparam("operation_id")))


class _Grouping:
    """What grouping reads for a new report, in two round trips on PostgreSQL: the costly read, the distinct texts
    reported nearby in the window (a scan of it), before the operation's lock is taken; under the lock only cheap
    ones: a shared link's lookup, the reports recorded since the first read (a few, by their number), and the
    latest reports of the most similar text, which is almost always where the report belongs.

    Nothing recorded in between is missed: the operation's latest report number is read just before the texts,
    and the reports numbered after it are read under the lock, when no other can be recorded. On SQLite there is
    nothing to read again: the transaction holds the one write lock from its first read."""

    def __init__(self, operation_id: uuid.UUID, report: grouping.Report, *, locked: bool) -> None:
        self.report = report
        self.placed = report.lat is not None and report.lon is not None
        links = [key for key in (report.link_key, report.short_link_key) if key]
        self.link = (_GROUPING["link"], {"operation_id": operation_id, "link": links[0], "short_link": links[-1]}
                     ) if links else None
        self.params: dict[str, Any] = {}
        if report.text_key:
            self.params = {"operation_id": operation_id, "since": report.reported_at - grouping.WINDOW,
                           "until": report.reported_at + grouping.WINDOW}
            if self.placed:
                (self.params["south"], self.params["north"], self.params["west"],
                 self.params["east"]) = grouping.bounding_box(report.lat, report.lon)
        self.numbered = locked and bool(report.text_key)  # read again under the lock what came after a number
        self.number = 0
        self.texts: set[str] = set()  # the texts the first read found
        self.scored: list[tuple[float, str]] = []  # the similar ones, most similar first
        self.first_look: str | None = None  # the most similar text, whose latest reports are read under the lock

    def before_lock(self) -> list[tuple[HotQuery, dict]]:
        if not self.report.text_key:
            return []
        number = [(_LATEST_NUMBER, {"operation_id": self.params["operation_id"]})] if self.numbered else []
        return [*number, (_GROUPING["texts", self.placed], self.params)]

    def score(self, rows: list[list[tuple]]) -> None:
        """Score the texts of the first read (`rows`: the results of `before_lock`), outside the lock."""
        if not rows:
            return
        if self.numbered and rows[0]:
            self.number = rows[0][0][0]
        self.texts = {key for (key,) in rows[-1]}
        self.scored = self._similar(self.texts)

    def under_lock(self) -> list[tuple[HotQuery, dict]]:
        reads = [self.link] if self.link else []
        if self.numbered:
            reads.append((_GROUPING["reports since", self.placed], {**self.params, "after_number": self.number}))
        self.first_look = self.scored[0][1] if self.scored else None
        if self.first_look:
            reads.append(self._reports(self.first_look, 0, FIRST_LOOK))
        return reads

    def find(self, session: Session, rows: list[list[tuple]], recorded: list[tuple] = ()
             ) -> tuple[grouping.Match, dict[str, Any]] | None:
        """Where the report belongs, given the rows of `under_lock` and the reports `recorded` before it in this
        transaction (candidate rows too, which those reads were sent too early to see), or None for a group of its
        own. A shared link first. Then text: the similar texts most similar first; for each, its latest reports
        nearby and then the rest of the window, until one matches (in a viral rumour hundreds share a text, and the
        latest one nearby is almost always the match). The match comes with its group's row (see `_best_match`)."""
        rows = list(rows)
        link_rows = rows.pop(0) if self.link else []
        if self.link:
            mine = grouping.links(self.report)
            linked = [row for row, other in zip(recorded, _as_reports(recorded), strict=True)
                      if mine & grouping.links(other)]
            if link_rows or linked:
                return _best_match(self.report, link_rows + linked)
        if not self.report.text_key:
            return None
        first_look = {self.first_look: rows.pop()} if self.first_look else {}
        just_recorded: dict[str, list[tuple]] = {}  # this transaction's reports by text, the latest first
        for row in reversed(recorded):
            if row[1]:  # _CANDIDATE_COLUMNS[1] is the text key
                just_recorded.setdefault(row[1], []).append(row)
        every = {}  # texts the first read did not have: each one's every report nearby in the window, the latest first
        new: dict[str, list[tuple]] = {}
        if self.numbered:
            for row in rows.pop(0):  # recorded since the first read, in their order
                if row[1] not in self.texts:
                    new.setdefault(row[1], []).append(row)
        unseen = {key for key in just_recorded if key not in self.texts and key not in new}
        self.scored = sorted(self.scored + self._similar(new.keys() | unseen), reverse=True)
        if len(self.texts) < CANDIDATE_LIMIT:  # the first read had every text, so these texts' reports are all here
            every = {key: new.get(key, []) for key in new.keys() | unseen}
        for _score, key in self.scored:
            latest = just_recorded.get(key, [])
            if key in every:
                match = _best_match(self.report, _latest_first(latest + every[key]))
                if match is not None:
                    return match
                continue
            for offset, limit in ((0, FIRST_LOOK), (FIRST_LOOK, CANDIDATE_LIMIT - FIRST_LOOK)):
                if offset == 0 and key in first_look:
                    found = first_look.pop(key)
                else:
                    query, params = self._reports(key, offset, limit)
                    found = query.all(session, params)
                match = _best_match(self.report, _latest_first(latest + found) if offset == 0 else found)
                if match is not None:
                    return match
                if len(found) < limit:
                    break
        return None

    def _similar(self, keys) -> list[tuple[float, str]]:
        scored = ((grouping.similarity(self.report.text_key, key), key) for key in keys)
        return sorted(((score, key) for score, key in scored if score >= grouping.TEXT_THRESHOLD), reverse=True)

    def _reports(self, key: str, offset: int, limit: int) -> tuple[HotQuery, dict]:
        return (_GROUPING["reports", self.placed], {**self.params, "text_key": key, "offset": offset, "limit": limit})


@dataclass(eq=False)
class Submission:
    """One officer's report, as sent, in a batch of reports to one operation (`create_escalations`), and what it
    came to: `outcome` (the report, created?) or `error`, the refusal a request of its own would have had."""

    caller: User | SignInCheck  # a sign-in check still to be made goes with the batch's first reads
    data: EscalationCreate
    ip: str | None = field(default_factory=client_ip.get)  # for its audit event: the batch runs elsewhere
    outcome: tuple[EscalationPublic, bool] | None = None
    error: AppError | None = None
    actor: User | None = field(default=None, init=False)
    access: OperationAccess | None = field(default=None, init=False)
    report: grouping.Report | None = field(default=None, init=False)
    reads: "_Grouping | None" = field(default=None, init=False)


def create_escalation(
    *, session: Session, actor: User | SignInCheck, operation_id: uuid.UUID, data: EscalationCreate
) -> tuple[EscalationPublic, bool]:
    """(the report, created?). The same client_id again returns the first report and records nothing."""
    submission = Submission(actor, data)
    create_escalations(session=session, operation_id=operation_id, submissions=[submission])
    if submission.error is not None:
        raise submission.error
    return submission.outcome


def create_escalations(*, session: Session, operation_id: uuid.UUID, submissions: list[Submission]) -> None:
    """Reports to one operation, in `session`'s transaction: each submission ends with its outcome or its error,
    and nothing of a refused one is recorded. The reports are decided in order, each seeing those before it; one
    officer's client_id must not come twice (the intake never batches a repeat with its first).

    Two round trips of reads on PostgreSQL, whatever the number of reports (see _Grouping): every report's sign-in
    check, access check and grouping's costly read; then the operation lock and, under it, every report's repeat
    lookup and grouping's cheap reads. While the lock is held the process only decides and builds rows; the writes
    go with the COMMIT."""
    now = utcnow()
    lock = _operation_lock(session, operation_id)
    first_reads = []
    for submission in submissions:
        data = submission.data
        link_key, short_link_key = grouping.link_keys(data.source_url, data.summary)
        submission.report = grouping.Report(group_id=None, text_key=grouping.text_key(data.summary), link_key=link_key,
                                            short_link_key=short_link_key, reported_at=data.observed_at or now,
                                            lat=data.lat, lon=data.lon)
        submission.reads = _Grouping(operation_id, submission.report, locked=bool(lock))
        first_reads.append((sign_in_read(submission.caller), access_read(submission.caller, operation_id),
                            submission.reads.before_lock()))
    first = iter(together(session, *(call for sign_in, access, before in first_reads
                                     for call in (*sign_in, access, *before))))
    checked = []
    for submission, (sign_in, _access, before) in zip(submissions, first_reads, strict=True):
        sign_in_rows, access_rows = [next(first) for _ in sign_in], next(first)
        before_rows = [next(first) for _ in before]
        try:  # the checks in their usual order: signed in, then may report here
            submission.actor = signed_in(submission.caller, sign_in_rows)
            submission.access = operation_access(session, actor=submission.actor, operation_id=operation_id,
                                                 permission=Permission.ESCALATION_CREATE, rows=access_rows)
        except AppError as error:
            submission.error = error
            continue
        submission.reads.score(before_rows)
        checked.append(submission)
    if not checked:
        return
    second_reads = [[(_BY_CLIENT_ID, {"reporter_id": submission.actor.id, "client_id": submission.data.client_id}),
                     *submission.reads.under_lock()] for submission in checked]
    second = iter(together(session, *lock, *(call for calls in second_reads for call in calls))[len(lock):])
    batch = _Batch()
    for submission, calls in zip(checked, second_reads, strict=True):
        rows = [next(second) for _call in calls]
        ip = client_ip.set(submission.ip)
        try:
            submission.outcome = _decide_and_record(session, operation_id, submission, rows, batch, now)
        except AppError as error:  # raised before anything of this report was written
            submission.error = error
        finally:
            client_ip.reset(ip)


class _Batch:
    """The reports recorded so far in this transaction, as grouping candidates (rows as `_Grouping.find` reads
    them), and the groups they made or grew, as they now stand (rows read earlier have them as they were)."""

    def __init__(self) -> None:
        self.recorded: list[tuple] = []
        self.groups: dict[uuid.UUID, dict[str, Any]] = {}

    def add(self, escalation: dict[str, Any], group: dict[str, Any]) -> None:
        self.groups[group["id"]] = group
        self.recorded.append((*(escalation[column.key] for column in _CANDIDATE_COLUMNS),
                              *(group[column.key] for column in EscalationGroup.__table__.c)))


def _decide_and_record(session: Session, operation_id: uuid.UUID, submission: Submission, rows: list[list[tuple]],
                       batch: _Batch, now: datetime) -> tuple[EscalationPublic, bool]:
    data, actor, report = submission.data, submission.actor, submission.report
    fingerprint = _fingerprint(operation_id, data)
    existing = _by_client_id(session, actor.id, data.client_id, rows[0])
    if existing is not None:
        return _publics(session, [(_repeat(existing, fingerprint), _group(session, existing.group_id))])[0], False
    submission.access.ensure_open()
    if data.observed_at is not None and data.observed_at > now + FUTURE_SLACK:
        raise Invalid("observed_at is in the future. Check the phone's clock.")
    found = submission.reads.find(session, rows[1:], batch.recorded)
    match = found[0] if found else None
    category = (data.category or Category.OTHER).value
    # Nothing below raises for what a client sent: from here on this report is written.
    # Rows built as values, not with the ORM's unit of work nor models' constructors: this is the hot path of
    # a rumour burst. Under the operation lock nothing else changes this operation's groups, so the grown
    # group is worked out here from the row read with the match (or as this batch left it), and the writes (like
    # the history entry and the audit event below) go to PostgreSQL with the COMMIT: the lock is then held for no
    # round trip of theirs. The same officer's client_id first used at this moment in another operation (another
    # lock) breaks the unique index at the commit: a 409, nothing saved; sent again, it is refused as a reused
    # client_id (422).
    if found:
        grown = batch.groups.get(match.group_id, found[1])
        grown.update(size=grown["size"] + 1, category=most_severe(grown["category"], category),
                     latest_reported_at=now, updated_at=now)
        _GROW_GROUP.with_commit(session, {"group_id": grown["id"], "category": grown["category"], "now": now})
    else:
        grown = new_row(EscalationGroup, operation_id=operation_id, category=category, size=1,
                        first_reported_at=now, latest_reported_at=now, created_at=now, updated_at=now)
        _INSERT_GROUP.with_commit(session, grown)
    group = detached(EscalationGroup, dict(grown))
    escalation_row = new_row(
        Escalation,
        operation_id=operation_id,
        client_id=data.client_id,
        reporter_id=actor.id,
        group_id=group.id,
        summary=data.summary,
        category=category,
        source_url=data.source_url,
        lat=data.lat,
        lon=data.lon,
        accuracy_m=data.accuracy_m,
        observed_at=data.observed_at,
        reported_at=report.reported_at,
        text_key=report.text_key,
        link_key=report.link_key,
        short_link_key=report.short_link_key,
        request_hash=fingerprint,
        created_at=now,
        updated_at=now,
    )
    _INSERT_ESCALATION.with_commit(session, escalation_row)
    batch.add(escalation_row, grown)
    escalation = detached(Escalation, escalation_row)
    _history(
        session,
        group=group,
        actor=actor,
        action="created",
        escalation=escalation,
        to_status=group.status,
        details={"grouped_by": match.reason if match else None, "score": match.score if match else None},
        unread=True,
    )
    record(
        session,
        actor=actor,
        action=AuditAction.ESCALATION_CREATED,
        operation_id=operation_id,
        target_type="escalation",
        target_id=escalation.id,
        details={
            "client_id": data.client_id,
            "group_id": str(group.id),
            "category": category,
            "grouped_by": match.reason if match else None,
            "has_link": bool(data.source_url),
            "has_location": data.lat is not None,
        },
    )
    _announce(session, group=group, escalations=[escalation], type_="escalation.created")
    if group.status == EscalationStatus.RESOLVED:  # already ruled on: tell this officer at once
        _tell_reporters(session, group=group, escalations=[escalation])
    return _public(escalation, group, reporter_name=actor.display_name), True  # no photos yet


# --- photos ----------------------------------------------------------------------------------------------


def add_photo(
    *, session: Session, settings: Settings, actor: User, escalation_id: uuid.UUID, raw: bytes
) -> tuple[AttachmentPublic, bool]:
    """Only the reporter adds photos to a report. The same photo again returns the first (the outbox
    retries uploads)."""
    escalation, access = _visible(session, actor=actor, escalation_id=escalation_id)
    if escalation.reporter_id != actor.id:
        raise Forbidden("Only the officer who made the report can add photos to it.")
    access.ensure_open()
    photo = photos.clean_photo(raw, max_bytes=min(settings.max_upload_bytes, photos.MAX_BYTES))
    existing = session.scalar(
        select(EscalationAttachment).where(
            EscalationAttachment.escalation_id == escalation.id,
            EscalationAttachment.original_sha256 == photo.original_sha256,
        )
    )
    if existing is not None:
        return _attachment_public(existing), False
    count = session.scalar(
        select(func.count())
        .select_from(EscalationAttachment)
        .where(EscalationAttachment.escalation_id == escalation.id)
    )
    if count >= MAX_PHOTOS:
        raise Conflict(f"A report holds at most {MAX_PHOTOS} photos.")
    attachment = EscalationAttachment(
        escalation_id=escalation.id,
        storage_key="",
        content_type=photo.content_type,
        width=photo.width,
        height=photo.height,
        size_bytes=len(photo.data),
        original_sha256=photo.original_sha256,
        sha256=photo.sha256,
        uploaded_by=actor.id,
    )
    attachment.storage_key = f"{escalation.operation_id}/{attachment.id}.{photo.extension}"
    get_storage(settings).put(attachment.storage_key, photo.data)
    session.add(attachment)
    escalation.updated_at = utcnow()
    session.add(escalation)
    record(
        session,
        actor=actor,
        action=AuditAction.ESCALATION_ATTACHMENT_ADDED,
        operation_id=escalation.operation_id,
        target_type="escalation",
        target_id=escalation.id,
        details={
            "attachment_id": str(attachment.id),
            "content_type": photo.content_type,
            "width": photo.width,
            "height": photo.height,
            "sha256": photo.sha256,
        },
    )
    session.flush()
    _announce(
        session,
        group=_group(session, escalation.group_id),
        escalations=[escalation],
        type_="escalation.updated",
    )
    return _attachment_public(attachment), True


def read_photo(
    *, session: Session, settings: Settings, actor: User, escalation_id: uuid.UUID, attachment_id: uuid.UUID
) -> tuple[bytes, str]:
    escalation, _access = _visible(session, actor=actor, escalation_id=escalation_id)
    attachment = session.get(EscalationAttachment, attachment_id)
    if attachment is None or attachment.escalation_id != escalation.id:
        raise NotFound("Photo not found.")
    try:
        data = get_storage(settings).get(attachment.storage_key)
    except FileNotFoundError:
        raise NotFound("The photo file is missing from storage.") from None
    record(
        session,
        actor=actor,
        action=AuditAction.ESCALATION_ATTACHMENT_VIEWED,
        operation_id=escalation.operation_id,
        target_type="escalation",
        target_id=escalation.id,
        details={"attachment_id": str(attachment.id)},
    )
    return data, attachment.content_type


# --- reading ---------------------------------------------------------------------------------------------


def list_escalations(
    *,
    session: Session,
    actor: User,
    operation_id: uuid.UUID,
    status: EscalationStatus | None,
    since: datetime | None,
    limit: int = LIST_LIMIT,
) -> list[EscalationPublic]:
    """Command: every report, newest first. Officers: their own, with their outcomes."""
    access = operation_access(session, actor=actor, operation_id=operation_id)
    query = (
        select(Escalation, EscalationGroup)
        .join(EscalationGroup, EscalationGroup.id == Escalation.group_id)
        .where(Escalation.operation_id == operation_id)
    )
    if not access.can(Permission.ESCALATION_VIEW_ALL):
        access.ensure(Permission.ESCALATION_CREATE)
        query = query.where(Escalation.reporter_id == actor.id)
    if status is not None:
        query = query.where(EscalationGroup.status == status.value)
    if since is not None:
        query = query.where(Escalation.updated_at >= since)
    rows = session.execute(query.order_by(Escalation.created_at.desc(), Escalation.id).limit(limit)).all()
    return _publics(session, [(e, g) for e, g in rows])


def queue(
    *,
    session: Session,
    actor: User,
    operation_id: uuid.UUID,
    status: EscalationStatus | None,
    since: datetime | None,
    limit: int = LIST_LIMIT,
) -> list[GroupPublic]:
    """Bronze's queue: one row per rumour, highest priority first, every report in it listed."""
    operation_access(session, actor=actor, operation_id=operation_id, permission=Permission.ESCALATION_VIEW_ALL)
    query = select(EscalationGroup).where(
        EscalationGroup.operation_id == operation_id, EscalationGroup.merged_into_id.is_(None)
    )
    if status is not None:
        query = query.where(EscalationGroup.status == status.value)
    if since is not None:
        query = query.where(EscalationGroup.updated_at >= since)
    groups = list(session.scalars(query.order_by(EscalationGroup.updated_at.desc()).limit(limit)))
    members, now = _members(session, groups), utcnow()
    rows = [_group_public(g, members.get(g.id, []), now) for g in groups]
    return sorted(rows, key=lambda row: (-row.priority, row.first_reported_at))


def get_escalation(*, session: Session, actor: User, escalation_id: uuid.UUID) -> EscalationDetail:
    escalation, access = _visible(session, actor=actor, escalation_id=escalation_id)
    group = _group(session, escalation.group_id)
    command = access.can(Permission.ESCALATION_VIEW_ALL)
    entries = session.scalars(
        select(EscalationHistory)
        .where(or_(EscalationHistory.group_id == group.id, EscalationHistory.escalation_id == escalation.id))
        .order_by(EscalationHistory.at, EscalationHistory.id)
    ).all()
    public = _publics(session, [(escalation, group)])[0]
    if command:
        names = _names(session, {e.actor_id for e in entries if e.actor_id})
        history = [
            HistoryEntry(
                at=e.at,
                action=e.action,
                actor_id=e.actor_id,
                actor_name=names.get(e.actor_id),
                escalation_id=e.escalation_id,
                from_status=e.from_status,
                to_status=e.to_status,
                outcome=e.outcome,
                note=e.note,
                details=e.details,
            )
            for e in entries
        ]
        group_view = _group_public(group, _members(session, [group]).get(group.id, []), utcnow())
        return EscalationDetail(**public.model_dump(), history=history, group=group_view)
    # Officers see what happened to their report, not command's working notes or who else reported it.
    history = [
        HistoryEntry(
            at=e.at,
            action=e.action,
            actor_id=None,
            escalation_id=escalation.id,
            from_status=e.from_status,
            to_status=e.to_status,
            outcome=e.outcome,
            note=e.note if e.to_status == EscalationStatus.RESOLVED else None,
            details={},
        )
        for e in entries
        if e.action == "transitioned" or (e.action == "created" and e.escalation_id == escalation.id)
    ]
    return EscalationDetail(**public.model_dump(), history=history, group=None)


# --- triage ----------------------------------------------------------------------------------------------


def _check_assignee(session: Session, *, operation_id: uuid.UUID, assignee_id: uuid.UUID | None) -> None:
    if assignee_id is not None and membership_of(session, operation_id, assignee_id) is None:
        raise Invalid("assignee_id: that person is not a member of this operation.")


def _counter_template(session: Session, *, template_id: uuid.UUID, operation_id: uuid.UUID) -> None:
    from app.templates import service as template_service

    try:
        template_service.get_template_for_counter_message(session, template_id=template_id, operation_id=operation_id)
    except NotFound:
        raise Invalid("counter_template_id: no such template in this operation's library.") from None


def transition(*, session: Session, actor: User, escalation_id: uuid.UUID, data: TransitionIn) -> EscalationDetail:
    """Acts on the whole group: resolving a group resolves every report in it and tells each reporter."""
    escalation, access = _for_triage(session, actor=actor, escalation_id=escalation_id)
    group = _group(session, escalation.group_id)
    check_transition(group.status, data.to, data.outcome)
    resolving = data.to == EscalationStatus.RESOLVED
    if not resolving and (data.duplicate_of or data.counter_template_id):
        raise Invalid("duplicate_of and counter_template_id are given only when resolving.")
    duplicate_of = None
    if data.outcome == Outcome.DUPLICATE:
        if data.duplicate_of is None:
            raise Invalid("duplicate_of: name the rumour this one duplicates.")
        duplicate_of = _group_by_reference(
            session, operation_id=group.operation_id, reference=data.duplicate_of, field="duplicate_of"
        )
        if duplicate_of.id == group.id:
            raise Invalid("duplicate_of: a rumour cannot duplicate itself.")
    elif data.duplicate_of is not None:
        raise Invalid("duplicate_of is given only with the outcome duplicate.")
    counter_template_id = data.counter_template_id or (duplicate_of.counter_template_id if duplicate_of else None)
    if data.counter_template_id is not None:
        _counter_template(session, template_id=data.counter_template_id, operation_id=group.operation_id)
    _check_assignee(session, operation_id=group.operation_id, assignee_id=data.assignee_id)
    now, previous = utcnow(), group.status
    group.status, group.updated_at = data.to, now
    group.acknowledged_at = group.acknowledged_at or now  # ruling straight away also acknowledges
    if data.assignee_id is not None:
        group.assignee_id = data.assignee_id
    if resolving:
        group.outcome, group.ruling_note, group.resolved_at, group.resolved_by = (
            data.outcome,
            data.note,
            now,
            actor.id,
        )
        group.counter_template_id = counter_template_id
        group.duplicate_of_id = duplicate_of.id if duplicate_of else None
    session.add(group)
    _history(
        session,
        group=group,
        actor=actor,
        action="transitioned",
        escalation=escalation,
        from_status=previous,
        to_status=data.to,
        outcome=data.outcome,
        note=data.note,
        details={"assignee_id": str(data.assignee_id) if data.assignee_id else None},
    )
    members = _touch_members(session, group.id, now)
    record(
        session,
        actor=actor,
        action=AuditAction.ESCALATION_TRANSITIONED,
        operation_id=group.operation_id,
        target_type="escalation_group",
        target_id=group.id,
        details={
            "escalation_id": str(escalation.id),
            "from": previous,
            "to": data.to,
            "outcome": data.outcome,
            "note": data.note,
            "members": [str(m.id) for m in members],
            "duplicate_of": str(duplicate_of.id) if duplicate_of else None,
            "counter_template_id": str(counter_template_id) if counter_template_id else None,
            "assignee_id": str(data.assignee_id) if data.assignee_id else None,
        },
    )
    session.flush()
    _announce(session, group=group, escalations=members, type_="escalation.updated")
    if resolving:
        _tell_reporters(session, group=group, escalations=members)
    return get_escalation(session=session, actor=actor, escalation_id=escalation.id)


def assign(
    *,
    session: Session,
    actor: User,
    escalation_id: uuid.UUID,
    assignee_id: uuid.UUID | None,
    note: str | None,
) -> EscalationDetail:
    escalation, _access = _for_triage(session, actor=actor, escalation_id=escalation_id)
    group = _group(session, escalation.group_id)
    _check_assignee(session, operation_id=group.operation_id, assignee_id=assignee_id)
    previous, group.assignee_id, group.updated_at = group.assignee_id, assignee_id, utcnow()
    session.add(group)
    _history(
        session,
        group=group,
        actor=actor,
        action="assigned",
        escalation=escalation,
        note=note,
        details={"assignee_id": str(assignee_id) if assignee_id else None},
    )
    record(
        session,
        actor=actor,
        action=AuditAction.ESCALATION_ASSIGNED,
        operation_id=group.operation_id,
        target_type="escalation_group",
        target_id=group.id,
        details={
            "from": str(previous) if previous else None,
            "to": str(assignee_id) if assignee_id else None,
            "note": note,
        },
    )
    session.flush()
    return get_escalation(session=session, actor=actor, escalation_id=escalation.id)


def add_note(*, session: Session, actor: User, escalation_id: uuid.UUID, note: str) -> EscalationDetail:
    escalation, _access = _for_triage(session, actor=actor, escalation_id=escalation_id)
    group = _group(session, escalation.group_id)
    group.updated_at = utcnow()
    session.add(group)
    _history(session, group=group, actor=actor, action="noted", escalation=escalation, note=note)
    record(
        session,
        actor=actor,
        action=AuditAction.ESCALATION_NOTE_ADDED,
        operation_id=group.operation_id,
        target_type="escalation_group",
        target_id=group.id,
        details={"note": note},
    )
    session.flush()
    return get_escalation(session=session, actor=actor, escalation_id=escalation.id)


def _refresh_span(session: Session, group: EscalationGroup) -> None:
    """Size, first/latest report and category from the members (after a merge or split)."""
    rows = session.execute(
        select(Escalation.created_at, Escalation.category).where(Escalation.group_id == group.id)
    ).all()
    group.size = len(rows)
    if rows:
        group.first_reported_at = min(r.created_at for r in rows)
        group.latest_reported_at = max(r.created_at for r in rows)
        category = Category.OTHER.value
        for row in rows:
            category = most_severe(category, row.category)
        group.category = category


def merge(
    *, session: Session, actor: User, escalation_id: uuid.UUID, into: uuid.UUID, note: str | None
) -> EscalationDetail:
    """Bronze joins two groups that are one rumour. The target keeps its state; every report stays."""
    escalation, _access = _for_triage(session, actor=actor, escalation_id=escalation_id)
    source = _group(session, escalation.group_id)
    target = _group_by_reference(session, operation_id=source.operation_id, reference=into, field="into")
    if target.id == source.id:
        raise Conflict("These reports are already in one group.")
    if EscalationStatus.RESOLVED in (source.status, target.status):
        raise Conflict("A ruled rumour cannot be merged; resolve the other as its duplicate instead.")
    now = utcnow()
    moved = list(session.scalars(select(Escalation.id).where(Escalation.group_id == source.id)))
    session.execute(
        update(Escalation).where(Escalation.group_id == source.id).values(group_id=target.id, updated_at=now)
    )
    source.merged_into_id, source.size, source.updated_at = target.id, 0, now
    _refresh_span(session, target)
    target.updated_at = now
    session.add_all([source, target])
    for group, action in ((source, "merged_away"), (target, "merged")):
        _history(
            session,
            group=group,
            actor=actor,
            action=action,
            note=note,
            details={
                "from_group": str(source.id),
                "into_group": str(target.id),
                "moved": [str(i) for i in moved],
            },
        )
    record(
        session,
        actor=actor,
        action=AuditAction.ESCALATION_MERGED,
        operation_id=target.operation_id,
        target_type="escalation_group",
        target_id=target.id,
        details={
            "from_group": str(source.id),
            "into_group": str(target.id),
            "moved": [str(i) for i in moved],
            "note": note,
        },
    )
    session.flush()
    members = list(
        session.scalars(select(Escalation).where(Escalation.id.in_(moved)).execution_options(populate_existing=True))
    )
    _announce(session, group=target, escalations=members, type_="escalation.updated")
    return get_escalation(session=session, actor=actor, escalation_id=escalation.id)


def split(*, session: Session, actor: User, escalation_id: uuid.UUID, note: str | None) -> EscalationDetail:
    """Take one report out of its group into a new group of its own (grouping got it wrong)."""
    escalation, _access = _for_triage(session, actor=actor, escalation_id=escalation_id)
    source = _group(session, escalation.group_id)
    if source.size <= 1:
        raise Conflict("This report is already on its own.")
    if source.status == EscalationStatus.RESOLVED:
        raise Conflict("A ruled rumour cannot be split; its reporters have been told the outcome.")
    now = utcnow()
    alone = EscalationGroup(
        operation_id=source.operation_id,
        category=escalation.category,
        size=1,
        first_reported_at=escalation.created_at,
        latest_reported_at=escalation.created_at,
        created_at=now,
        updated_at=now,
    )
    session.add(alone)
    session.flush()
    escalation.group_id, escalation.updated_at = alone.id, now
    session.add(escalation)
    session.flush()
    _refresh_span(session, source)
    source.updated_at = now
    session.add(source)
    for group in (source, alone):
        _history(
            session,
            group=group,
            actor=actor,
            action="split",
            escalation=escalation,
            note=note,
            details={"from_group": str(source.id), "new_group": str(alone.id)},
        )
    record(
        session,
        actor=actor,
        action=AuditAction.ESCALATION_SPLIT,
        operation_id=source.operation_id,
        target_type="escalation",
        target_id=escalation.id,
        details={"from_group": str(source.id), "new_group": str(alone.id), "note": note},
    )
    session.flush()
    _announce(session, group=alone, escalations=[escalation], type_="escalation.updated")
    return get_escalation(session=session, actor=actor, escalation_id=escalation.id)


# --- the ruling goes back --------------------------------------------------------------------------------

RULING_TITLES = {
    Outcome.FALSE: "Rumour ruled FALSE",
    Outcome.TRUE: "Rumour confirmed TRUE",
    Outcome.UNVERIFIED: "Rumour UNVERIFIED",
    Outcome.DUPLICATE: "Rumour already reported",
}


def _tell_reporters(session: Session, *, group: EscalationGroup, escalations: list[Escalation]) -> None:
    """Every officer who reported the rumour gets the ruling in their inbox (and by push), with the
    counter-message template to use. Their own report shows the outcome too, whatever happens here."""
    try:
        from app.notifications import service as notification_service

        send_to_users = notification_service.send_to_users
    except (ImportError, AttributeError):  # the notifications domain is not installed yet
        return
    sender = session.get(User, group.resolved_by) if group.resolved_by else None
    first_by_reporter: dict[uuid.UUID, Escalation] = {}
    for escalation in escalations:
        first_by_reporter.setdefault(escalation.reporter_id, escalation)
    about = next((e.summary for e in escalations if e.summary), None)
    body = (f"“{about[:140]}”: " if about else "Your report: ") + (group.ruling_note or "see the ruling in Parley.")
    for reporter_id, escalation in first_by_reporter.items():
        send_to_users(
            session,
            operation_id=group.operation_id,
            sender=sender,
            user_ids=[reporter_id],
            title=RULING_TITLES[Outcome(group.outcome)],
            body=body[:1000],
            urgency="high",
            url=f"/#/escalations/{escalation.id}",
            require_ack=False,
            kind="rumour_ruling",
            ref={
                "escalation_id": str(escalation.id),
                "counter_template_id": str(group.counter_template_id) if group.counter_template_id else None,
            },
        )


# --- debrief ---------------------------------------------------------------------------------------------


def _percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (position - low), 1)


def escalation_figures(session: Session, *, operation_id: uuid.UUID) -> dict[str, Any]:
    """For the debrief. `by_outcome` counts rumours (groups; they sum to `groups`), `by_category` counts
    reports (they sum to `reports`); times run from a rumour's first report to its acknowledgement and
    to its ruling, in seconds."""
    groups = list(
        session.scalars(
            select(EscalationGroup).where(
                EscalationGroup.operation_id == operation_id, EscalationGroup.merged_into_id.is_(None)
            )
        )
    )
    by_category = {c.value: 0 for c in Category}
    for category, count in session.execute(
        select(Escalation.category, func.count())
        .where(Escalation.operation_id == operation_id)
        .group_by(Escalation.category)
    ).all():
        by_category[category] = count
    by_outcome = {o.value: 0 for o in Outcome} | {"open": 0}
    for group in groups:
        by_outcome[group.outcome or "open"] += 1
    to_ack = [(g.acknowledged_at - g.first_reported_at).total_seconds() for g in groups if g.acknowledged_at]
    to_ruling = [(g.resolved_at - g.first_reported_at).total_seconds() for g in groups if g.resolved_at]
    largest = sorted(groups, key=lambda g: (-g.size, g.first_reported_at))[:5]
    members = _members(session, largest)
    return {
        "reports": sum(by_category.values()),
        "groups": len(groups),
        "by_outcome": by_outcome,
        "by_category": by_category,
        "time_to_ack_s": {"median": _percentile(to_ack, 0.5), "p90": _percentile(to_ack, 0.9)},
        "time_to_ruling_s": {"median": _percentile(to_ruling, 0.5), "p90": _percentile(to_ruling, 0.9)},
        "largest_groups": [
            {
                "group_id": str(g.id),
                "size": g.size,
                "outcome": g.outcome or "open",
                "summary": next((m.summary for m in members.get(g.id, []) if m.summary), None),
                "first_reported_at": iso(g.first_reported_at),
            }
            for g in largest
        ],
    }
