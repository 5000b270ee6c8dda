"""Small helpers for the escalation tests: make a report, move a group, make a photo."""

import io
import uuid

from PIL import Image

from app.core.db import session_scope
from app.operations.models import Operation


def report(client, world, who: str = "officer", *, operation=None, expect: int | None = 201, **body):
    body.setdefault("client_id", uuid.uuid4().hex)
    operation_id = (operation or world.op).id
    response = client.post(f"/api/v1/operations/{operation_id}/escalations", json=body,
                           headers=world.headers(who))
    if expect is not None:
        assert response.status_code == expect, response.text
    return response.json() if expect is not None and expect < 300 else response


def transition(client, world, escalation_id, who: str = "bronze", expect: int | None = 200, **body):
    response = client.post(f"/api/v1/escalations/{escalation_id}/transition", json=body,
                           headers=world.headers(who))
    if expect is not None:
        assert response.status_code == expect, response.text
    return response


def close_operation(operation_id) -> None:
    with session_scope() as session:
        operation = session.get(Operation, operation_id)
        operation.status = "closed"
        session.add(operation)


def jpeg_with_gps(size=(64, 48), orientation: int | None = None) -> bytes:
    """A JPEG carrying GPS coordinates (and optionally an orientation tag) in its EXIF."""
    image = Image.new("RGB", size, (200, 30, 30))
    image.putpixel((0, 0), (0, 0, 255))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0131] = "Secret Camera App 1.0"  # Software
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (52.0, 28.0, 48.0)  # GPSLatitudeRef, GPSLatitude
    gps[3], gps[4] = "W", (1.0, 53.0, 24.0)  # GPSLongitudeRef, GPSLongitude
    if orientation:
        exif[0x0112] = orientation
    output = io.BytesIO()
    image.save(output, "JPEG", exif=exif)
    return output.getvalue()


def png_bytes(size=(32, 32), mode="RGBA") -> bytes:
    output = io.BytesIO()
    Image.new(mode, size, (0, 128, 0, 128) if mode == "RGBA" else (0, 128, 0)).save(output, "PNG")
    return output.getvalue()
