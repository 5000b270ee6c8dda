"""Every route in the OpenAPI document x every kind of caller, against what the matrix says.

Each route has a Rule naming the callers that may use it. Callers (from tests/factories.make_world):
anonymous; admin, auditor (global oversight); gold, bronze, comms, officer (members of `world.op`);
outsider (an officer in no operation); other_bronze (bronze of another operation only).
A caller who may not use a route gets 401 (anonymous), 403 or 404 (404 where they may not know the object
exists); an allowed caller gets anything but 401/403/404. A new route without a Rule fails the suite.

Domains add their routes to RULES: `body` is a valid request body (or a function of the world returning one),
`setup(client, world)` makes the objects a route needs and returns the path parameters naming them.
"""

import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from app.core.db import reset_engine
from tests.escalations import matrix as esc
from tests.factories import make_world
from tests.notifications import matrix as push
from tests.templates import matrix as tpl

CALLERS = ["anonymous", "admin", "auditor", "gold", "bronze", "comms", "officer", "outsider", "other_bronze"]
SIGNED_IN = frozenset(CALLERS) - {"anonymous"}
MEMBERS = frozenset({"gold", "bronze", "comms", "officer"})
COMMAND = frozenset({"gold", "bronze"})
TEMPLATE_AUTHORS = frozenset({"admin", "gold", "bronze", "comms", "other_bronze"})  # global author roles


@dataclass
class Rule:
    allowed: frozenset[str]
    body: Any = None
    setup: Callable[[Any, Any], dict[str, str]] | None = None
    params: dict[str, str] = field(default_factory=dict)
    files: Callable[[], dict] | None = None


def _op_body(_world):
    return {"name": "Op New", "starts_at": "2026-12-01T09:00:00Z", "ends_at": "2026-12-01T18:00:00Z"}


def _user_body(_world):
    return {"service_number": f"N{uuid.uuid4().hex[:8]}", "display_name": "New", "role": "officer",
            "password": "a-long-password"}


def _refresh_body(_world):
    return {"refresh_token": "00000000-0000-0000-0000-000000000000.not-a-real-token"}


def _commendation_body(world):
    from tests.debrief.scenario import make_template_use

    return {"target_type": "template_use", "target_id": str(make_template_use(world)), "note": "Well done."}


RULES: dict[tuple[str, str], Rule] = {
    ("POST", "/api/v1/auth/login"): Rule(frozenset(CALLERS), body={"service_number": "X1", "password": "nope-nope"}),
    ("POST", "/api/v1/auth/refresh"): Rule(frozenset(CALLERS), body=_refresh_body),
    ("POST", "/api/v1/auth/logout"): Rule(SIGNED_IN),
    ("GET", "/api/v1/me"): Rule(SIGNED_IN),
    ("POST", "/api/v1/users"): Rule(frozenset({"admin"}), body=_user_body),
    ("GET", "/api/v1/users"): Rule(frozenset({"admin"})),
    ("GET", "/api/v1/users/{user_id}"): Rule(frozenset({"admin"})),
    ("PATCH", "/api/v1/users/{user_id}"): Rule(frozenset({"admin"}), body={"display_name": "Renamed"}),
    ("POST", "/api/v1/users/{user_id}/revoke-sessions"): Rule(frozenset({"admin"})),
    ("POST", "/api/v1/operations"): Rule(frozenset({"gold", "admin"}), body=_op_body),
    ("GET", "/api/v1/operations"): Rule(SIGNED_IN),
    ("GET", "/api/v1/operations/{operation_id}"): Rule(MEMBERS | {"admin", "auditor"}),
    ("PATCH", "/api/v1/operations/{operation_id}"): Rule(frozenset({"gold", "admin"}), body={"name": "Renamed"}),
    ("PUT", "/api/v1/operations/{operation_id}/strategy"): Rule(frozenset({"gold"}), body={"text": "New strategy"}),
    ("PUT", "/api/v1/operations/{operation_id}/briefing"): Rule(COMMAND, body={"text": "New briefing"}),
    ("GET", "/api/v1/operations/{operation_id}/members"): Rule(COMMAND | {"admin", "auditor"}),
    ("PUT", "/api/v1/operations/{operation_id}/members/{user_id}"): Rule(COMMAND | {"admin"},
                                                                         body={"role": "officer", "group": "S9"}),
    ("DELETE", "/api/v1/operations/{operation_id}/members/{user_id}"): Rule(COMMAND | {"admin"}),
    ("POST", "/api/v1/operations/{operation_id}/briefing/ack"): Rule(MEMBERS),
    ("GET", "/api/v1/operations/{operation_id}/briefing/status"): Rule(COMMAND | {"admin", "auditor"}),
    ("GET", "/api/v1/operations/{operation_id}/decisions"): Rule(COMMAND | {"comms", "auditor"}),
    ("POST", "/api/v1/operations/{operation_id}/decisions"): Rule(COMMAND, body={"decision": "d", "rationale": "r"}),
    ("GET", "/api/v1/audit/events"): Rule(frozenset({"auditor", "admin"})),
    ("GET", "/api/v1/audit/verify"): Rule(frozenset({"auditor", "admin"})),
    ("GET", "/api/v1/audit/totals"): Rule(frozenset({"auditor", "admin"})),
    ("GET", "/api/v1/audit/export"): Rule(frozenset({"auditor"}), params={"format": "jsonl"}),
    ("GET", "/api/v1/audit/export/manifest"): Rule(frozenset({"auditor"}), params={"format": "csv"}),
    ("GET", "/api/v1/audit/public-key"): Rule(frozenset({"auditor"})),
    ("GET", "/api/v1/audit/retention/{operation_id}"): Rule(frozenset({"auditor", "admin"})),
    ("PUT", "/api/v1/audit/retention/{operation_id}"): Rule(frozenset({"admin"}), body={"retain_days": 365}),
    # briefing and debrief
    ("POST", "/api/v1/operations/{operation_id}/briefing/remind"): Rule(COMMAND),
    ("GET", "/api/v1/operations/{operation_id}/debrief"): Rule(COMMAND | {"auditor"}),
    ("POST", "/api/v1/operations/{operation_id}/commendations"): Rule(COMMAND, body=_commendation_body),
    ("GET", "/api/v1/operations/{operation_id}/commendations"): Rule(COMMAND | {"auditor"}),
    ("POST", "/api/v1/operations/{operation_id}/appraisals"): Rule(MEMBERS, body={"kind": "worked", "text": "Clear."}),
    ("GET", "/api/v1/operations/{operation_id}/appraisals"): Rule(COMMAND | {"auditor"}),
    # escalations and the live stream (setups in tests/escalations/matrix.py)
    ("POST", "/api/v1/operations/{operation_id}/escalations"): Rule(MEMBERS, body=esc.report_body),
    ("GET", "/api/v1/operations/{operation_id}/escalations"): Rule(MEMBERS),
    ("GET", "/api/v1/operations/{operation_id}/escalation-queue"): Rule(COMMAND),
    ("GET", "/api/v1/escalations/{escalation_id}"): Rule(COMMAND | {"officer"}, setup=esc.one_report),
    ("POST", "/api/v1/escalations/{escalation_id}/transition"): Rule(COMMAND, body={"to": "acknowledged"},
                                                                     setup=esc.one_report),
    ("POST", "/api/v1/escalations/{escalation_id}/assign"): Rule(COMMAND, body={"assignee_id": None},
                                                                 setup=esc.one_report),
    ("POST", "/api/v1/escalations/{escalation_id}/notes"): Rule(COMMAND, body={"note": "n"}, setup=esc.one_report),
    ("POST", "/api/v1/escalations/{escalation_id}/merge"): Rule(COMMAND, body=esc.merge_body, setup=esc.two_rumours),
    ("POST", "/api/v1/escalations/{escalation_id}/split"): Rule(COMMAND, body={}, setup=esc.grouped_reports),
    ("POST", "/api/v1/escalations/{escalation_id}/attachments"): Rule(frozenset({"officer"}), files=esc.photo_files,
                                                                      setup=esc.one_report),
    ("GET", "/api/v1/escalations/{escalation_id}/attachments/{attachment_id}"): Rule(
        COMMAND | {"officer"}, setup=esc.report_with_photo),
    ("GET", "/api/v1/operations/{operation_id}/stream"): Rule(MEMBERS, params={"replay_only": "true"}),
    # reply templates (setups in tests/templates/matrix.py)
    ("GET", "/api/v1/operations/{operation_id}/templates"): Rule(MEMBERS | {"admin", "auditor"}),
    ("GET", "/api/v1/operations/{operation_id}/templates/usage"): Rule(COMMAND | {"auditor"}),
    ("GET", "/api/v1/templates"): Rule(SIGNED_IN),
    ("POST", "/api/v1/templates"): Rule(TEMPLATE_AUTHORS, body=tpl.create_body),
    ("GET", "/api/v1/templates/export"): Rule(frozenset({"comms", "gold", "admin"})),
    ("POST", "/api/v1/templates/import"): Rule(TEMPLATE_AUTHORS, body=tpl.import_body),
    ("GET", "/api/v1/templates/{template_id}"): Rule(MEMBERS | {"admin", "auditor"}, setup=tpl.approved_in_op),
    ("POST", "/api/v1/templates/{template_id}/submit"): Rule(frozenset({"bronze"}), setup=tpl.draft_by_bronze),
    ("POST", "/api/v1/templates/{template_id}/approve"): Rule(frozenset({"gold", "comms"}), body={},
                                                              setup=tpl.pending_by_bronze),
    ("POST", "/api/v1/templates/{template_id}/reject"): Rule(frozenset({"gold", "comms"}), body={"reason": "No."},
                                                             setup=tpl.pending_by_bronze),
    ("POST", "/api/v1/templates/{template_id}/retire"): Rule(frozenset({"gold", "admin"}), setup=tpl.approved_in_op),
    ("POST", "/api/v1/templates/{template_id}/versions"): Rule(TEMPLATE_AUTHORS - {"other_bronze"},
                                                               body={"title": "New"}, setup=tpl.approved_in_op),
    ("POST", "/api/v1/templates/{template_id}/translations"): Rule(TEMPLATE_AUTHORS - {"other_bronze"},
                                                                   body=tpl.URDU, setup=tpl.approved_in_op),
    ("POST", "/api/v1/templates/{template_id}/render"): Rule(MEMBERS, body=tpl.render_body, setup=tpl.approved_in_op),
    # push and notifications (setups in tests/notifications/matrix.py)
    ("GET", "/api/v1/push/vapid-public-key"): Rule(frozenset(CALLERS)),
    ("POST", "/api/v1/push/subscriptions"): Rule(SIGNED_IN, body=push.subscription_body),
    ("DELETE", "/api/v1/push/subscriptions"): Rule(frozenset({"officer"}), body={"endpoint": push.OFFICERS_ENDPOINT},
                                                   setup=push.officers_subscription),
    ("POST", "/api/v1/operations/{operation_id}/notifications"): Rule(COMMAND, body={"title": "t", "body": "b"}),
    ("GET", "/api/v1/operations/{operation_id}/notifications"): Rule(MEMBERS | {"auditor"}),
    ("GET", "/api/v1/notifications/{notification_id}"): Rule(MEMBERS | {"auditor"}, setup=push.message_to_everyone),
    ("POST", "/api/v1/notifications/{notification_id}/receipts"): Rule(
        frozenset({"gold", "comms", "officer"}), body={"event": "opened"}, setup=push.message_to_everyone),
}
# Login and refresh answer 401 for bad credentials to everyone: they are "allowed" for every caller
# but their 401 is the expected refusal of the sample credentials, not a permission failure.
CREDENTIAL_ROUTES = {("POST", "/api/v1/auth/login"), ("POST", "/api/v1/auth/refresh")}


def api_routes(app) -> list[tuple[str, str]]:
    schema = app.openapi()
    return sorted(
        (method.upper(), path)
        for path, operations in schema["paths"].items() if path.startswith("/api/")
        for method in operations
    )


def test_every_route_has_a_rule(app):
    missing = [route for route in api_routes(app) if route not in RULES]
    assert not missing, f"routes without a permission rule in {__file__}: {missing}"


def _call(client, world, method: str, path: str, rule: Rule, caller: str, extra_params: dict[str, str]):
    values = {"operation_id": str(world.op.id), "user_id": str(world["officer2"].id), **extra_params}
    url = path.format(**{name: values[name] for name in _placeholders(path)})
    headers = {} if caller == "anonymous" else world.headers(caller)
    body = rule.body(world) if callable(rule.body) else rule.body
    kwargs: dict[str, Any] = {"headers": headers, "params": rule.params}
    if rule.files:
        kwargs["files"] = rule.files()
    elif body is not None:
        kwargs["json"] = body
    return client.request(method, url, **kwargs)


def _placeholders(path: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(path) if name]


@pytest.mark.parametrize("route", sorted(RULES), ids=lambda r: f"{r[0]} {r[1]}")
def test_route_answers_each_caller_as_the_matrix_says(route, client, test_database, tmp_path):
    method, path = route
    rule = RULES[route]
    failures = []
    # callers who may not use the route share one world: they must change nothing
    world = make_world()
    extra = rule.setup(client, world) if rule.setup else {}
    for caller in CALLERS:
        if caller in rule.allowed:
            continue
        response = _call(client, world, method, path, rule, caller, extra)
        expected = {401} if caller == "anonymous" else {403, 404}
        if response.status_code not in expected:
            failures.append(f"{caller}: {response.status_code} (expected {sorted(expected)}) {response.text[:200]}")
    # each allowed caller gets a world of its own, so one caller's change cannot refuse the next
    for caller in sorted(rule.allowed):
        reset_engine()  # SQLite: the database file is replaced, so no pooled connection may outlive it
        test_database.fresh(tmp_path)
        world = make_world()
        extra = rule.setup(client, world) if rule.setup else {}
        response = _call(client, world, method, path, rule, caller, extra)
        refused = {403, 404} if route in CREDENTIAL_ROUTES else {401, 403, 404}
        if response.status_code in refused or response.status_code >= 500:
            failures.append(f"{caller}: {response.status_code} (allowed) {response.text[:200]}")
    assert not failures, "\n".join(failures)
