"""Templates made through the real HTTP API, in the states a test needs."""

from typing import Any

from tests.factories import World

DEFAULT_BODY = "Officers are at {location}. The road reopens at {time}. Please follow their directions."
DEFAULT_SLOTS = [
    {"name": "location", "kind": "text", "max_length": 60},
    {"name": "time", "kind": "choice", "choices": ["14:00", "15:30", "the end of the march"]},
]


def template_body(**overrides: Any) -> dict[str, Any]:
    body = {"title": "Road reopening", "body": DEFAULT_BODY, "slots": DEFAULT_SLOTS, "category": "road_closures",
            "channel": "social_reply", "language": "en", "tags": ["roads"]}
    body.update(overrides)
    return body


def create(client, world: World, *, author: str = "comms", **overrides: Any) -> dict[str, Any]:
    response = client.post("/api/v1/templates", json=template_body(**overrides), headers=world.headers(author))
    assert response.status_code == 201, response.text
    return response.json()


def act(client, world: World, template_id: str, action: str, who: str, body: dict | None = None):
    return client.post(f"/api/v1/templates/{template_id}/{action}", json=body, headers=world.headers(who))


def approved(client, world: World, *, author: str = "comms", approver: str = "gold",
             expires_at: str | None = None, **overrides: Any) -> dict[str, Any]:
    """Created by `author`, submitted, approved by `approver`."""
    template = create(client, world, author=author, **overrides)
    assert act(client, world, template["id"], "submit", author).status_code == 200
    response = act(client, world, template["id"], "approve", approver, {"expires_at": expires_at})
    assert response.status_code == 200, response.text
    return response.json()


def render(client, world: World, template_id: str, who: str = "officer", *, operation=None, **body: Any):
    payload = {"operation_id": str((operation or world.op).id),
               "slots": body.pop("slots", {"location": "Bull Street", "time": "15:30"}), **body}
    return client.post(f"/api/v1/templates/{template_id}/render", json=payload, headers=world.headers(who))
