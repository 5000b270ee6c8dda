import pytest

from tests.helpers import assert_problem, audit_actions


class TestErrorsAreProblemJson:
    def test_unknown_api_route(self, client):
        assert_problem(client.get("/api/v1/nothing-here"), 404)

    def test_wrong_method(self, client):
        assert_problem(client.delete("/api/v1/me"), 405)

    def test_oversize_body_declared(self, client, world):
        body = b'{"decision": "' + b"x" * (1024 * 1024 + 10) + b'", "rationale": "r"}'
        response = client.post(f"/api/v1/operations/{world.op.id}/decisions", content=body,
                               headers={**world.headers("bronze"), "content-type": "application/json"})
        assert_problem(response, 413)
        assert audit_actions("decision.recorded") == []

    def test_oversize_body_streamed_without_length(self, client, world):
        def chunks():
            yield b'{"decision": "'
            for _ in range(40):
                yield b"x" * 32768
            yield b'", "rationale": "r"}'

        response = client.post(f"/api/v1/operations/{world.op.id}/decisions", content=chunks(),
                               headers={**world.headers("bronze"), "content-type": "application/json"})
        assert_problem(response, 413)

    @pytest.mark.parametrize("body", [b"[1, 2", b"null", b'"a string"', b"\xff\xfe"])
    def test_malformed_json(self, client, world, body):
        response = client.post(f"/api/v1/operations/{world.op.id}/decisions", content=body,
                               headers={**world.headers("bronze"), "content-type": "application/json"})
        assert_problem(response, 422)

    def test_wrong_types_name_the_field(self, client, world):
        response = client.post(f"/api/v1/operations/{world.op.id}/decisions", json={"decision": 5, "rationale": []},
                               headers=world.headers("bronze"))
        body = assert_problem(response, 422)
        assert {tuple(e["loc"]) for e in body["errors"]} >= {("body", "decision"), ("body", "rationale")}


class TestTokens:
    def test_missing_token(self, client):
        response = client.get("/api/v1/me")
        assert_problem(response, 401)
        assert response.headers["www-authenticate"] == "Bearer"

    @pytest.mark.parametrize("header", ["Bearer", "Bearer not.a.jwt", "Basic dXNlcjpwYXNz", "Bearer " + "a" * 5000])
    def test_garbage(self, client, header):
        assert_problem(client.get("/api/v1/me", headers={"Authorization": header}), 401)


class TestHeadersAndObservability:
    def test_request_id_is_returned_and_can_be_supplied(self, client):
        assert len(client.get("/healthz").headers["x-request-id"]) >= 16
        assert client.get("/healthz", headers={"X-Request-ID": "van-7.42"}).headers["x-request-id"] == "van-7.42"
        assert client.get("/healthz", headers={"X-Request-ID": "bad id\n"}).headers["x-request-id"] != "bad id\n"

    def test_security_headers(self, client):
        response = client.get("/api/v1/me")
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"

    def test_metrics_count_requests_by_route(self, client, world):
        client.get("/api/v1/me", headers=world.headers("officer"))
        text = client.get("/metrics").text
        assert 'parley_http_requests_total{method="GET",route="/api/v1/me",status="200"}' in text
        assert "parley_http_request_seconds_bucket" in text

    def test_logs_carry_no_secrets(self, client, capsys):
        from tests.factories import PASSWORD, make_user

        user = make_user()
        response = client.post("/api/v1/auth/login", json={"service_number": user.service_number,
                                                           "password": PASSWORD})
        out = capsys.readouterr().out
        assert PASSWORD not in out
        assert response.json()["access_token"] not in out and response.json()["refresh_token"] not in out


def test_openapi_document_describes_the_api(client):
    schema = client.get("/openapi.json").json()
    assert "/api/v1/auth/login" in schema["paths"]
    assert "/api/v1/audit/verify" in schema["paths"]


class TestTextTheDatabaseCannotStore:
    """PostgreSQL refuses NUL in text; both engines answer 422 and store nothing."""

    def test_nul_in_an_operation_name(self, client, world):
        body = {"name": "Op \u0000", "starts_at": "2026-12-01T09:00:00Z", "ends_at": "2026-12-01T18:00:00Z"}
        assert_problem(client.post("/api/v1/operations", json=body, headers=world.headers("gold")), 422)
        assert audit_actions("operation.created") == []

    def test_line_break_in_a_display_name(self, client, world):
        body = {"service_number": "PC77", "display_name": "Two\nlines", "role": "officer",
                "password": "a-long-password"}
        assert_problem(client.post("/api/v1/users", json=body, headers=world.headers("admin")), 422)

    def test_nul_in_a_sign_in_is_a_clean_refusal(self, client):
        response = client.post("/api/v1/auth/login", json={"service_number": "PC\u00001", "password": "x" * 12})
        assert response.status_code in (401, 422), response.text
        assert response.headers["content-type"].startswith("application/problem+json")
