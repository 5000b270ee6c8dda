"""Setups and bodies for the template routes in tests/core/test_permission_matrix.py."""

from tests.templates.builders import act, approved, create, template_body

URDU = {"language": "ur", "title": "سڑک", "body": "پولیس {location} پر ہے۔ {time}"}


def create_body(_world):
    return template_body()


def import_body(_world):
    return {"templates": [{"key": "a", "title": "Imported", "body": "Officers are at {location}.",
                           "slots": [{"name": "location", "kind": "text"}], "category": "information",
                           "channel": "in_person"}]}


def render_body(world):
    return {"operation_id": str(world.op.id), "slots": {"location": "Bull Street", "time": "15:30"}}


def draft_by_bronze(client, world):
    return {"template_id": create(client, world, author="bronze", operation_id=str(world.op.id))["id"]}


def pending_by_bronze(client, world):
    template = create(client, world, author="bronze", operation_id=str(world.op.id))
    assert act(client, world, template["id"], "submit", "bronze").status_code == 200
    return {"template_id": template["id"]}


def approved_in_op(client, world):
    return {"template_id": approved(client, world, author="bronze", approver="comms",
                                    operation_id=str(world.op.id))["id"]}
