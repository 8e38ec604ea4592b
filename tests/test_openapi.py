"""The API documents itself."""

from tests import factories


def test_the_openapi_document_lists_the_endpoints(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"].startswith("3.")
    assert {
        "/api/auth/token",
        "/api/users",
        "/api/users/{user_id}",
        "/api/sites",
        "/api/sites/{site_id}",
        "/api/audit",
        "/api/health",
        "/api/courses/{course_id}/assessments",
        "/api/courses/{course_id}/maintenance",
        "/api/assessments/{assessment_id}",
        "/api/assessments/{assessment_id}/decision",
        "/api/assessments/{assessment_id}/photos",
        "/api/patients/{patient_id}/photos/{photo_id}",
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


def test_the_pagination_header_is_documented_as_the_json_text_it_is(client):
    spec = client.get("/api/openapi.json").get_json()
    header = spec["paths"]["/api/lots"]["get"]["responses"]["200"]["headers"]["X-Pagination"]
    assert header["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ListPosition"
    }


def test_a_body_is_documented_as_required_exactly_when_a_field_of_it_is(client):
    spec = client.get("/api/openapi.json").get_json()
    assert spec["paths"]["/api/serums"]["post"]["requestBody"]["required"] is True
    assert spec["paths"]["/api/serums/{serum_id}"]["patch"]["requestBody"]["required"] is False
    assert spec["paths"]["/api/lots/{lot_id}/open"]["post"]["requestBody"]["required"] is False


def test_an_amount_that_must_be_more_than_zero_says_so_and_a_nullable_object_is_it_or_null(client):
    schemas = client.get("/api/openapi.json").get_json()["components"]["schemas"]
    quantity = schemas["Dispense"]["properties"]["quantity"]
    assert quantity["minimum"] == 0 and quantity["exclusiveMinimum"] is True
    strength = schemas["Product"]["properties"]["strength"]["anyOf"]
    assert {"type": "object", "nullable": True, "enum": [None]} in strength


def test_every_refusal_has_only_the_fields_of_the_documented_error(client, login_as):
    properties = set(
        client.get("/api/openapi.json").get_json()["components"]["schemas"]["Error"]["properties"]
    )
    product = factories.make_product(kind="consumable", unit="piece")
    factories.make_lot(product=product, quantity=2)
    short = client.post(
        f"/api/products/{product.id}/dispense",
        json={"quantity": 5},
        headers=login_as("pharmacist"),
    )
    assert short.status_code == 409
    body = short.get_json()
    assert set(body) <= properties
    assert body["usable"] == 2 and body["errors"] == {"quantity": ["Only 2 usable."]}
    patient = factories.make_patient()
    substance = factories.make_substance()
    doctor = login_as("doctor")
    allergies = f"/api/patients/{patient.id}/allergies"
    client.post(allergies, json={"substance_id": substance.id}, headers=doctor)
    again = client.post(allergies, json={"substance_id": substance.id}, headers=doctor)
    assert again.status_code == 409 and set(again.get_json()) <= properties


def test_a_photo_uploads_as_multipart_and_is_served_as_an_image(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    upload = paths["/api/assessments/{assessment_id}/photos"]["post"]["requestBody"]
    form = upload["content"]["multipart/form-data"]["schema"]
    assert form["required"] == ["file", "view"]
    assert form["properties"]["file"] == {**form["properties"]["file"], "format": "binary"}
    served = paths["/api/patients/{patient_id}/photos/{photo_id}"]["get"]["responses"]["200"]
    assert set(served["content"]) == {"image/jpeg", "image/png"}
