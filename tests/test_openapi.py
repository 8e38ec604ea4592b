"""The API documents itself."""


def test_the_openapi_document_lists_the_endpoints(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"].startswith("3.")
    assert {
        "/api/auth/token",
        "/api/users",
        "/api/users/{user_id}",
        "/api/audit",
        "/api/health",
    } <= set(spec["paths"])
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_swagger_ui_is_served_with_its_assets_from_this_server(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    assert b"/api/docs/assets/swagger-ui-bundle.js" in page.data
    with client.get("/api/docs/assets/swagger-ui-bundle.js") as asset:
        assert asset.status_code == 200
        assert asset.mimetype == "text/javascript"


def test_every_operation_behind_a_token_documents_its_roles_and_its_refusals(client):
    spec = client.get("/api/openapi.json").get_json()
    public = {("post", "/api/auth/token"), ("get", "/api/health")}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "post", "patch", "delete") or (method, path) in public:
                continue
            assert operation["security"] == [{"bearer": []}], (method, path)
            assert "For " in operation["description"], (method, path)
            assert {"401", "403", "404", "409", "422"} <= set(operation["responses"]), (
                method,
                path,
            )
