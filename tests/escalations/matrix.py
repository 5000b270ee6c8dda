"""Setups and bodies for the escalation and stream rows of tests/core/test_permission_matrix.py."""

import uuid

from tests.escalations.helpers import png_bytes

_MERGE_TARGETS: dict[int, str] = {}


def _report(client, world, who: str = "officer", summary: str | None = None) -> dict:
    response = client.post(f"/api/v1/operations/{world.op.id}/escalations",
                           json={"client_id": uuid.uuid4().hex, "summary": summary}, headers=world.headers(who))
    assert response.status_code == 201, response.text
    return response.json()


def report_body(_world) -> dict:
    return {"client_id": uuid.uuid4().hex, "summary": "Police have closed the mosque"}


def one_report(client, world) -> dict[str, str]:
    return {"escalation_id": _report(client, world)["id"]}


def grouped_reports(client, world) -> dict[str, str]:
    """Two reports of one rumour (so one can be split out)."""
    _report(client, world, "officer2", "police closed the mosque on Bull Street")
    return {"escalation_id": _report(client, world, "officer", "the mosque was closed by police")["id"]}


def two_rumours(client, world) -> dict[str, str]:
    _MERGE_TARGETS[id(world)] = _report(client, world, "officer2", "tanks on corporation street")["id"]
    return {"escalation_id": _report(client, world, "officer", "bus station closed by protesters")["id"]}


def merge_body(world) -> dict:
    return {"into": _MERGE_TARGETS[id(world)]}


def photo_files() -> dict:
    return {"file": ("photo.png", png_bytes(), "image/png")}


def report_with_photo(client, world) -> dict[str, str]:
    escalation_id = _report(client, world)["id"]
    response = client.post(f"/api/v1/escalations/{escalation_id}/attachments", files=photo_files(),
                           headers=world.headers("officer"))
    assert response.status_code == 201, response.text
    return {"escalation_id": escalation_id, "attachment_id": response.json()["id"]}
