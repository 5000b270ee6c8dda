"""Notifications from command: subscriptions, sending (inbox + outbox + audit in one transaction), receipts,
the ack-deadline re-send and the figures the debrief uses.

Services never commit: the caller's session does, so a notification, its inbox entries, its outbox rows and
its audit event land together or not at all.
"""

import ipaddress
import statistics
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import case, delete, func, insert, select, update
from sqlmodel import Session

from app.audit.writer import AuditAction, record
from app.auth.models import AuthSession, User
from app.core.config import Settings
from app.core.errors import Invalid, NotAuthenticated, NotFound
from app.core.events import Audience, publish
from app.core.permissions import Permission
from app.core.types import iso, new_id, utcnow
from app.notifications.models import Notification, NotificationRecipient, PushDelivery, PushSubscription
from app.notifications.payload import receipt_key, user_of_receipt_token
from app.notifications.schemas import (
    Counts,
    MyReceipt,
    NotificationCreate,
    NotificationDetail,
    NotificationPublic,
    ReceiptOut,
    SubscriptionIn,
    SubscriptionPublic,
)
from app.notifications.vapid import b64url_decode, key_id, public_key_b64
from app.operations.access import OperationAccess, operation_access
from app.operations.models import Membership, Operation

# The push services browsers use. Anything else is refused: a subscription is a URL this server will POST
# to, so an open list would let any signed-in user aim the server at internal hosts (SSRF).
DEFAULT_PUSH_HOSTS = ("fcm.googleapis.com", "android.googleapis.com", "updates.push.services.mozilla.com")
DEFAULT_PUSH_HOST_SUFFIXES = (".push.apple.com", ".notify.windows.com")
CHUNK = 2000  # ids per IN (...) list: well under SQLite's and PostgreSQL's parameter limits
DEFAULT_TTL_SECONDS = 4 * 3600
MIN_SEND_WINDOW_SECONDS = 60


def _chunks(items: list, size: int = CHUNK) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- subscriptions -----------------------------------------------------------------------------------------

def allowed_hosts(settings: Settings) -> set[str]:
    extra = {h.strip().lower() for h in settings.push_allowed_hosts.split(",") if h.strip()}
    return set(DEFAULT_PUSH_HOSTS) | extra


def check_endpoint(endpoint: str, settings: Settings) -> str:
    """Returns the endpoint's host, or raises Invalid (422) naming what is wrong."""
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError as exc:
        raise Invalid("endpoint is not a valid URL.") from exc
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not host:
        raise Invalid("endpoint must be an https URL of a push service.")
    if parts.scheme == "http" and not settings.push_allow_http:
        raise Invalid("endpoint must use https.")
    if parts.username or parts.password or parts.fragment or any(c.isspace() for c in endpoint):
        raise Invalid("endpoint must not carry credentials, a fragment or spaces.")
    if port == 0:
        raise Invalid("endpoint port is not valid.")
    extra = allowed_hosts(settings) - set(DEFAULT_PUSH_HOSTS)
    if host in extra:
        return host
    if host in DEFAULT_PUSH_HOSTS or host.endswith(DEFAULT_PUSH_HOST_SUFFIXES):
        if _is_ip(host):
            raise Invalid("endpoint host is not an allowed push service.")
        return host
    raise Invalid(f"endpoint host {host} is not an allowed push service.")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def check_keys(p256dh: str, auth: str) -> None:
    try:
        point = b64url_decode(p256dh)
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError as exc:
        raise Invalid("keys.p256dh must be a base64url uncompressed P-256 public key.") from exc
    if len(point) != 65 or point[0] != 4:
        raise Invalid("keys.p256dh must be an uncompressed P-256 point (65 bytes).")
    try:
        secret = b64url_decode(auth)
    except ValueError as exc:
        raise Invalid("keys.auth must be base64url.") from exc
    if len(secret) != 16:
        raise Invalid("keys.auth must be 16 bytes.")


def subscribe(
    *, session: Session, settings: Settings, user: User, auth_session: AuthSession, data: SubscriptionIn
) -> PushSubscription:
    """Stores the browser's subscription for this user and session. The same endpoint again (a renewed
    subscription, or another officer signing in on a shared phone) replaces the earlier row."""
    host = check_endpoint(data.endpoint, settings)
    check_keys(data.keys.p256dh, data.keys.auth)
    expiration = None
    if data.expirationTime is not None:
        try:
            expiration = datetime.fromtimestamp(float(data.expirationTime) / 1000, UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise Invalid("expirationTime is not a valid time in milliseconds.") from exc
        if expiration <= utcnow():
            raise Invalid("This subscription has already expired; subscribe again.")
    current_key = key_id(b64url_decode(public_key_b64(settings)))
    subscription = session.scalar(select(PushSubscription).where(PushSubscription.endpoint == data.endpoint))
    replaced = subscription is not None
    if subscription is None:
        subscription = PushSubscription(user_id=user.id, session_id=auth_session.id, endpoint=data.endpoint,
                                        p256dh="", auth="", vapid_key_id=current_key)
    subscription.user_id, subscription.session_id = user.id, auth_session.id
    subscription.p256dh, subscription.auth = data.keys.p256dh, data.keys.auth
    subscription.expiration_time, subscription.vapid_key_id = expiration, current_key
    session.add(subscription)
    # the endpoint is a capability URL: the audit log keeps its host, not the secret path
    record(session, actor=user, action=AuditAction.PUSH_SUBSCRIBED, target_type="push_subscription",
           target_id=subscription.id, details={"host": host, "session_id": str(auth_session.id),
                                               "replaced": replaced})
    session.flush()
    return subscription


def subscription_public(subscription: PushSubscription) -> SubscriptionPublic:
    return SubscriptionPublic(id=subscription.id, endpoint_host=urlsplit(subscription.endpoint).hostname or "",
                              created_at=subscription.created_at, expiration_time=subscription.expiration_time)


def unsubscribe(*, session: Session, user: User, endpoint: str) -> None:
    subscription = session.scalar(
        select(PushSubscription).where(PushSubscription.endpoint == endpoint, PushSubscription.user_id == user.id)
    )
    if subscription is None:
        raise NotFound("No such push subscription for you.")
    session.delete(subscription)
    record(session, actor=user, action=AuditAction.PUSH_UNSUBSCRIBED, target_type="push_subscription",
           target_id=subscription.id, details={"host": urlsplit(endpoint).hostname})
    session.flush()


def drop_session_subscriptions(session: Session, auth_session: AuthSession) -> None:
    """SESSION_END_HOOK: a phone that signed out (or was revoked) gets no more pushes. Its queued deliveries
    lose their subscription (SET NULL) and are cancelled by the dispatcher."""
    session.execute(delete(PushSubscription).where(PushSubscription.session_id == auth_session.id))


# --- sending -------------------------------------------------------------------------------------------------

def _active_members(operation_id: uuid.UUID):
    return (select(Membership.user_id).join(User, User.id == Membership.user_id)
            .where(Membership.operation_id == operation_id, User.active.is_(True)))


def resolve_audience(session: Session, *, operation_id: uuid.UUID, audience, sender_id: uuid.UUID | None
                     ) -> list[uuid.UUID]:
    """The recipients' user ids. A group or user that is not in the operation is an error, never ignored:
    Bronze must not believe a message reached people it cannot reach."""
    query = _active_members(operation_id)
    if audience.kind == "users":
        wanted = list(dict.fromkeys(audience.value))
        found: set[uuid.UUID] = set()
        for chunk in _chunks(wanted):
            found.update(session.scalars(query.where(Membership.user_id.in_(chunk))))
        missing = [str(u) for u in wanted if u not in found]
        if missing:
            raise Invalid(f"{len(missing)} of the named users are not active members of this operation.",
                          errors=[{"loc": ["audience", "value"], "msg": "not a member", "type": "not_member",
                                   "input": missing[:50]}])
        return wanted
    if audience.kind == "role":
        query = query.where(Membership.role == audience.value)
    elif audience.kind == "group":
        query = query.where(Membership.group_name == audience.value)
        if session.scalar(select(Membership.id).where(Membership.operation_id == operation_id,
                                                      Membership.group_name == audience.value).limit(1)) is None:
            raise Invalid(f"There is no group '{audience.value}' in this operation.")
    recipients = [u for u in session.scalars(query) if u != sender_id]
    if not recipients:
        raise Invalid("Nobody in this operation matches that audience.")
    return recipients


def send(*, session: Session, access: OperationAccess, data: NotificationCreate) -> Notification:
    """POST /operations/{op}/notifications: bronze or gold of the operation (403 for others)."""
    access.ensure(Permission.NOTIFICATION_SEND)
    access.ensure_open()
    recipients = resolve_audience(session, operation_id=access.operation.id, audience=data.audience,
                                  sender_id=access.actor.id)
    return _create(session, operation=access.operation, sender=access.actor, recipients=recipients,
                   fields=data.model_dump(exclude={"audience"}), audience=data.audience.model_dump(mode="json"),
                   kind="message", ref=None)


def send_to_users(
    session: Session, *, operation_id: uuid.UUID, sender: User | None, user_ids: Iterable[uuid.UUID],
    title: str, body: str, urgency: str = "high", url: str | None = None, require_ack: bool = False,
    kind: str = "message", ref: dict | None = None, ttl_seconds: int = DEFAULT_TTL_SECONDS,
    ack_within_seconds: int | None = None, topic: str | None = None, sensitive: bool = False,
) -> Notification:
    """For other domains (a rumour's ruling to its reporters, briefing reminders): the caller has already
    decided who may trigger it. Writes the same rows and audit event as the HTTP send, in the caller's
    session. Users who are not (or no longer) active members are left out and counted in the audit details."""
    operation = session.get(Operation, operation_id)
    if operation is None:
        raise NotFound("Operation not found.")
    wanted = list(dict.fromkeys(uuid.UUID(str(u)) for u in user_ids))
    members: set[uuid.UUID] = set()
    for chunk in _chunks(wanted):
        members.update(session.scalars(_active_members(operation_id).where(Membership.user_id.in_(chunk))))
    recipients = [u for u in wanted if u in members]
    data = NotificationCreate(title=title[:120], body=body, urgency=urgency, ttl_seconds=ttl_seconds, url=url,
                              require_ack=require_ack, ack_within_seconds=ack_within_seconds, topic=topic,
                              sensitive=sensitive)
    return _create(session, operation=operation, sender=sender, recipients=recipients,
                   fields=data.model_dump(exclude={"audience"}),
                   audience={"kind": "users", "value": [str(u) for u in recipients]}, kind=kind, ref=ref,
                   left_out=len(wanted) - len(recipients))


def _create(session: Session, *, operation: Operation, sender: User | None, recipients: list[uuid.UUID],
            fields: dict, audience: dict, kind: str, ref: dict | None, left_out: int = 0) -> Notification:
    now = utcnow()
    notification = Notification(
        operation_id=operation.id, sender_id=sender.id if sender else None, kind=kind, ref=ref,
        title=fields["title"], body=fields["body"], urgency=fields["urgency"], ttl_seconds=fields["ttl_seconds"],
        topic=fields.get("topic"), sensitive=fields.get("sensitive", False), url=fields.get("url"),
        audience=audience, require_ack=fields.get("require_ack", False),
        ack_within_seconds=fields.get("ack_within_seconds"), created_at=now,
        expires_at=now + timedelta(seconds=fields["ttl_seconds"]),
    )
    if notification.require_ack and notification.ack_within_seconds:
        notification.ack_deadline_at = now + timedelta(seconds=notification.ack_within_seconds)
    session.add(notification)
    session.flush()
    recipient_ids = {user_id: new_id() for user_id in recipients}
    if recipient_ids:
        session.execute(insert(NotificationRecipient), [
            {"id": rid, "notification_id": notification.id, "user_id": uid} for uid, rid in recipient_ids.items()
        ])
    deliveries = _enqueue(session, notification=notification, recipient_ids=recipient_ids, round=0, now=now)
    record(session, actor=sender, action=AuditAction.NOTIFICATION_SENT, operation_id=operation.id,
           target_type="notification", target_id=notification.id, details={
               "kind": kind, "ref": ref, "title": notification.title, "body": notification.body,
               "urgency": notification.urgency, "ttl_seconds": notification.ttl_seconds, "audience": audience,
               "require_ack": notification.require_ack, "ack_within_seconds": notification.ack_within_seconds,
               "topic": notification.topic, "sensitive": notification.sensitive, "url": notification.url,
               "targets": len(recipient_ids), "deliveries": deliveries, "left_out": left_out})
    publish(session, operation_id=operation.id, type="notification.created",
            data={"id": str(notification.id), "kind": kind, "title": notification.title,
                  "urgency": notification.urgency, "require_ack": notification.require_ack,
                  "sensitive": notification.sensitive, "created_at": iso(now),
                  "sender_id": str(sender.id) if sender else None, "targets": len(recipient_ids)},
            # "recipients + command": the whole operation is simply every member (a much smaller event)
            audience=Audience.members() if audience.get("kind") == "operation" else Audience.users(recipient_ids))
    session.flush()
    return notification


def _enqueue(session: Session, *, notification: Notification, recipient_ids: dict[uuid.UUID, uuid.UUID],
             round: int, now: datetime) -> int:
    """One outbox row per current subscription of each recipient."""
    users = list(recipient_ids)
    # TTL 0 ("only if the phone is reachable now") still gets one prompt attempt and its retries for a minute
    give_up_at = max(notification.expires_at, now + timedelta(seconds=MIN_SEND_WINDOW_SECONDS))
    rows = []
    for chunk in _chunks(users):
        for sub_id, user_id in session.execute(
            select(PushSubscription.id, PushSubscription.user_id).where(PushSubscription.user_id.in_(chunk))
        ):
            rows.append({"id": new_id(), "notification_id": notification.id, "recipient_id": recipient_ids[user_id],
                         "subscription_id": sub_id, "round": round, "status": "pending", "attempts": 0,
                         "next_attempt_at": now, "expires_at": give_up_at, "created_at": now})
    if rows:
        session.execute(insert(PushDelivery), rows)
    return len(rows)


def resend_unacknowledged(session: Session, *, now: datetime | None = None, limit: int = 20) -> list[uuid.UUID]:
    """Ack deadlines that have passed: re-send once to everyone who has not acknowledged, and list them
    (recipient.resent_at) for Bronze. Safe with several dispatchers: whoever sets `resent_at` first owns it."""
    now = now or utcnow()
    due = list(session.scalars(
        select(Notification.id).where(Notification.require_ack.is_(True), Notification.ack_deadline_at <= now,
                                      Notification.resent_at.is_(None)).limit(limit)))
    done = []
    for notification_id in due:
        claimed = session.execute(update(Notification).where(Notification.id == notification_id,
                                                             Notification.resent_at.is_(None)).values(resent_at=now))
        if claimed.rowcount != 1:
            continue
        notification = session.get(Notification, notification_id)
        waiting = dict(session.execute(select(NotificationRecipient.user_id, NotificationRecipient.id).where(
            NotificationRecipient.notification_id == notification_id,
            NotificationRecipient.acknowledged_at.is_(None))).all())
        if waiting:
            session.execute(update(NotificationRecipient).where(
                NotificationRecipient.notification_id == notification_id,
                NotificationRecipient.acknowledged_at.is_(None)).values(resent_at=now))
        live = notification.expires_at > now
        deliveries = 0
        if live:
            deliveries = _enqueue(session, notification=notification, recipient_ids=waiting, round=1, now=now)
        record(session, actor=None, actor_role="system", action=AuditAction.NOTIFICATION_RESENT,
               operation_id=notification.operation_id, target_type="notification", target_id=notification_id,
               details={"not_acknowledged": sorted(str(u) for u in waiting), "deliveries": deliveries,
                        "expired": not live})
        publish(session, operation_id=notification.operation_id, type="notification.receipt",
                data={"id": str(notification_id), "event": "resent", "at": iso(now),
                      "not_acknowledged": sorted(str(u) for u in waiting),
                      "counts": counts_for(session, [notification_id])[notification_id].model_dump()},
                audience=Audience.command())
        done.append(notification_id)
    session.flush()
    return done


# --- reading ----------------------------------------------------------------------------------------------

def counts_for(session: Session, notification_ids: list[uuid.UUID]) -> dict[uuid.UUID, Counts]:
    result: dict[uuid.UUID, Counts] = {}
    for chunk in _chunks(list(notification_ids), 500):
        per_recipient = (
            select(PushDelivery.recipient_id.label("rid"), func.count().label("n"),
                   func.sum(case((PushDelivery.status == "sent", 1), else_=0)).label("sent"),
                   func.sum(case((PushDelivery.status == "pending", 1), else_=0)).label("pending"))
            .where(PushDelivery.notification_id.in_(chunk)).group_by(PushDelivery.recipient_id).subquery()
        )
        r = NotificationRecipient
        rows = session.execute(
            select(r.notification_id, func.count(), func.count(r.delivered_at), func.count(r.opened_at),
                   func.count(r.acknowledged_at),
                   func.sum(case((per_recipient.c.sent > 0, 1), else_=0)),
                   func.sum(case(((per_recipient.c.sent == 0) & (per_recipient.c.pending > 0), 1), else_=0)),
                   func.sum(case(((per_recipient.c.sent == 0) & (per_recipient.c.pending == 0), 1), else_=0)),
                   func.sum(case((per_recipient.c.n.is_(None), 1), else_=0)))
            .outerjoin(per_recipient, per_recipient.c.rid == r.id)
            .where(r.notification_id.in_(chunk)).group_by(r.notification_id)
        ).all()
        for nid, targets, delivered, opened, acked, sent, pending, failed, nosub in rows:
            result[nid] = Counts(targets=targets, delivered=delivered, opened=opened, acknowledged=acked,
                                 sent=sent or 0, pending=pending or 0, failed=failed or 0, no_subscription=nosub or 0)
    for nid in notification_ids:
        result.setdefault(nid, Counts(targets=0, sent=0, failed=0, pending=0, no_subscription=0, delivered=0,
                                      opened=0, acknowledged=0))
    return result


def _public(notification: Notification, *, counts: Counts | None, receipt: NotificationRecipient | None,
            cls=NotificationPublic, **extra):
    my = None
    if receipt is not None:
        my = MyReceipt(delivered_at=receipt.delivered_at, opened_at=receipt.opened_at,
                       acknowledged_at=receipt.acknowledged_at)
    return cls(**notification.model_dump(), counts=counts, receipt=my, **extra)


def list_for_operation(*, session: Session, access: OperationAccess, limit: int = 50,
                       before: datetime | None = None) -> list[NotificationPublic]:
    """Officers: their inbox with their receipt state. Command and auditors: every message, with counts."""
    see_all = access.can(Permission.NOTIFICATION_VIEW_ALL)
    if not see_all:
        access.ensure(Permission.NOTIFICATION_RECEIVE)
    query = select(Notification).where(Notification.operation_id == access.operation.id)
    if before is not None and before.tzinfo is None:
        raise Invalid("before needs a timezone (UTC ISO 8601, e.g. 2026-11-26T09:00:00Z).")
    if before is not None:
        query = query.where(Notification.created_at < before)
    if not see_all:
        query = query.join(NotificationRecipient, NotificationRecipient.notification_id == Notification.id).where(
            NotificationRecipient.user_id == access.actor.id)
    notifications = list(session.scalars(query.order_by(Notification.created_at.desc()).limit(limit)))
    ids = [n.id for n in notifications]
    mine = {r.notification_id: r for chunk in _chunks(ids) for r in session.scalars(
        select(NotificationRecipient).where(NotificationRecipient.notification_id.in_(chunk),
                                            NotificationRecipient.user_id == access.actor.id))}
    counts = counts_for(session, ids) if see_all else {}
    return [_public(n, counts=counts.get(n.id), receipt=mine.get(n.id)) for n in notifications]


def load_visible(session: Session, *, actor: User, notification_id: uuid.UUID
                 ) -> tuple[Notification, OperationAccess, NotificationRecipient | None]:
    """404 unless the caller is a recipient, or command of its operation, or an auditor."""
    notification = session.get(Notification, notification_id)
    if notification is None:
        raise NotFound("Notification not found.")
    try:
        access = operation_access(session, actor=actor, operation_id=notification.operation_id)
    except NotFound:
        raise NotFound("Notification not found.") from None
    receipt = session.scalar(select(NotificationRecipient).where(
        NotificationRecipient.notification_id == notification_id, NotificationRecipient.user_id == actor.id))
    if receipt is None and not access.can(Permission.NOTIFICATION_VIEW_ALL):
        raise NotFound("Notification not found.")
    return notification, access, receipt


def detail(*, session: Session, actor: User, notification_id: uuid.UUID) -> NotificationDetail:
    notification, access, receipt = load_visible(session, actor=actor, notification_id=notification_id)
    if not access.can(Permission.NOTIFICATION_VIEW_ALL):
        return _public(notification, counts=None, receipt=receipt, cls=NotificationDetail)
    r = NotificationRecipient
    not_acked = list(session.scalars(select(r.user_id).where(
        r.notification_id == notification.id, r.acknowledged_at.is_(None)))) if notification.require_ack else None
    resent = list(session.scalars(select(r.user_id).where(r.notification_id == notification.id,
                                                            r.resent_at.is_not(None))))
    return _public(notification, counts=counts_for(session, [notification.id])[notification.id], receipt=receipt,
                   cls=NotificationDetail, not_acknowledged=not_acked, resent_to=resent)


# --- receipts ---------------------------------------------------------------------------------------------

ORDER = ("delivered", "opened", "acknowledged")


def receipt_user(*, session: Session, settings: Settings, notification_id: uuid.UUID, token: str) -> User:
    """The recipient named by a service worker's receipt token (no session needed)."""
    user_id = user_of_receipt_token(receipt_key(settings), notification_id, token)
    user = session.get(User, user_id) if user_id else None
    if user is None or not user.active:
        raise NotAuthenticated("This receipt token is not valid for this notification.")
    return user


def record_receipt(*, session: Session, user: User, notification_id: uuid.UUID, event: str, via: str
                   ) -> ReceiptOut:
    """Receipts only move forward (acknowledged implies opened implies delivered); a repeat changes nothing
    and writes no audit event."""
    notification = session.get(Notification, notification_id)
    receipt = None
    if notification is not None:
        receipt = session.scalar(select(NotificationRecipient).where(
            NotificationRecipient.notification_id == notification_id, NotificationRecipient.user_id == user.id,
        ).with_for_update())
    if receipt is None:
        raise NotFound("Notification not found.")
    now = utcnow()
    newly = [name for name in ORDER[: ORDER.index(event) + 1] if getattr(receipt, f"{name}_at") is None]
    for name in newly:
        setattr(receipt, f"{name}_at", now)
    if newly:
        session.add(receipt)
        record(session, actor=user, action=AuditAction.NOTIFICATION_RECEIPT, operation_id=notification.operation_id,
               target_type="notification", target_id=notification.id,
               details={"event": event, "recorded": newly, "via": via})
        session.flush()
        publish(session, operation_id=notification.operation_id, type="notification.receipt",
                data={"id": str(notification.id), "user_id": str(user.id), "event": event, "at": iso(now),
                      "counts": counts_for(session, [notification.id])[notification.id].model_dump()},
                audience=Audience.command())
    return ReceiptOut(notification_id=notification.id, user_id=user.id, delivered_at=receipt.delivered_at,
                      opened_at=receipt.opened_at, acknowledged_at=receipt.acknowledged_at)


# --- figures for the debrief ------------------------------------------------------------------------------

def _percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return round(ordered[index], 1)


def notification_figures(session: Session, *, operation_id: uuid.UUID) -> dict:
    """{"sent", "targets", "delivery_rate", "open_rate", "ack_rate", "time_to_ack_s": {"median", "p90"}}.
    Rates are fractions 0..1 (None without a denominator); ack figures count messages that asked for one."""
    n, r = Notification, NotificationRecipient
    sent = session.scalar(select(func.count()).select_from(n).where(n.operation_id == operation_id)) or 0
    targets, delivered, opened = session.execute(
        select(func.count(), func.count(r.delivered_at), func.count(r.opened_at))
        .join(n, n.id == r.notification_id).where(n.operation_id == operation_id)).one()
    ack_rows = session.execute(
        select(n.created_at, r.acknowledged_at).join(n, n.id == r.notification_id)
        .where(n.operation_id == operation_id, n.require_ack.is_(True))).all()
    ack_times = [(acked - created).total_seconds() for created, acked in ack_rows if acked is not None]

    def rate(part: int, whole: int) -> float | None:
        return round(part / whole, 4) if whole else None

    return {
        "sent": sent, "targets": targets,
        "delivery_rate": rate(delivered, targets), "open_rate": rate(opened, targets),
        "ack_rate": rate(len(ack_times), len(ack_rows)),
        "time_to_ack_s": {"median": round(statistics.median(ack_times), 1) if ack_times else None,
                          "p90": _percentile(ack_times, 0.9)},
    }
