"""An event's data goes out as the JSON FastAPI would have made of it, encoded once."""

import json
import math

from fastapi.encoders import jsonable_encoder

from app.live.service import to_sse


def test_plain_json_data_is_sent_as_fastapi_would_encode_it():
    data = {"group": {"id": "5f0c", "size": 3, "reporters": ["Sgt Łukasz", "PC بل"]}, "lat": 52.48, "seen": None}
    event = to_sse({"id": 17, "type": "escalation.created", "data": data})

    assert (event.id, event.event) == ("17", "escalation.created")
    assert event.raw_data == json.dumps(jsonable_encoder(data))
    assert json.loads(event.raw_data) == data


def test_data_that_is_not_plain_json_falls_back_to_fastapis_encoding():
    event = to_sse({"id": 18, "type": "x", "data": {"score": float("nan")}})
    assert event.raw_data is None  # FastAPI turns a non-finite float into null itself
    assert math.isnan(event.data["score"])
