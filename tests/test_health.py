"""GET /api/health tells whether the service can do its job."""


def test_health_answers_ok_when_the_database_is_reachable(client):
    response = client.get("/api/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body["database"] == "ok"
    assert body["status"] in {"ok", "degraded"}
    assert "last_scan_at" in body


def test_health_needs_no_credentials(client):
    assert client.get("/api/health").status_code == 200
