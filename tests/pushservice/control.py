"""The JSON control API of the push service when it runs as its own process (demo, bench, crash test).

POST /_control/subscriptions?count=N[&key=<applicationServerKey>]  -> [subscription JSON, ...]
GET  /_control/stats                                               -> {"accepted", "first_accept_at", ...}
GET  /_control/messages?endpoint=<endpoint>                        -> [decrypted payload, ...]
GET  /_control/received                                            -> {subscription id: [message ids]}
POST /_control/answer  {"status", "times"?, "retry_after"?, "endpoint"?}
POST /_control/delay   {"seconds"}
POST /_control/reset
"""

import json
from urllib.parse import parse_qs


def handle(service, method: str, path: str, query: str, body: bytes) -> tuple[int, object]:
    params = {k: v[0] for k, v in parse_qs(query).items()}
    action = path[len("/_control/"):]
    data = json.loads(body) if body else {}
    if method == "POST" and action == "subscriptions":
        count = min(int(params.get("count", "1")), 50_000)
        return 200, [service.subscribe(params.get("key")) for _ in range(count)]
    if method == "GET" and action == "stats":
        return 200, {"accepted": service.accepted, "first_accept_at": service.first_accept_at,
                     "last_accept_at": service.last_accept_at, "rejected": len(service.rejected),
                     "jwt_verifications": service.jwt_verifications, "subscriptions": len(service.subscriptions)}
    if method == "GET" and action == "messages":
        return 200, service.inbox(params["endpoint"])
    if method == "GET" and action == "received":
        return 200, {sid: [s.decrypt(m)["id"] for m in s.messages]
                     for sid, s in service.subscriptions.items() if s.messages}
    if method == "POST" and action == "answer":
        service.answer(int(data["status"]), times=data.get("times"), retry_after=data.get("retry_after"),
                       endpoint=data.get("endpoint"))
        return 200, {"ok": True}
    if method == "POST" and action == "delay":
        service.delay = float(data["seconds"])
        return 200, {"ok": True}
    if method == "POST" and action == "reset":
        service.reset()
        return 200, {"ok": True}
    return 404, {"error": "unknown control action"}
