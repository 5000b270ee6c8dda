def test_healthz(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_reports_schema_at_head(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ready"


def test_me(client, world):
    response = client.get("/api/v1/me", headers=world.headers("officer"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["role"] == "officer"
    assert [o["name"] for o in body["operations"]] == ["Op Test"]
    assert body["operations"][0]["group"] == "Serial 1"
