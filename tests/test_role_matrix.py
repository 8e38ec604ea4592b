"""Who may call what (SPEC 4): one table of every operation of the OpenAPI document and the
roles it answers; anyone else gets 403 (before the body is read), an anonymous caller 401. The
test fails when the document has an operation this table does not list, or lists one it has
not."""

import re

import pytest

P, D, A = "pharmacist", "doctor", "admin"
EVERYONE = (P, D, A)
PUBLIC = "public"  # no token needed
PHARMACY = (P, A)
CLINICAL = (D, A)

ROLES = {
    ("POST", "/api/auth/token"): PUBLIC,
    ("DELETE", "/api/auth/token"): EVERYONE,
    ("GET", "/api/health"): PUBLIC,
    ("DELETE", "/api/users/{user_id}/tokens"): (A,),
    ("GET", "/api/users"): (A,),
    ("POST", "/api/users"): (A,),
    ("GET", "/api/users/{user_id}"): (A,),
    ("PATCH", "/api/users/{user_id}"): (A,),
    ("GET", "/api/sites"): EVERYONE,
    ("POST", "/api/sites"): (A,),
    ("GET", "/api/sites/{site_id}"): EVERYONE,
    ("PATCH", "/api/sites/{site_id}"): (A,),
    ("GET", "/api/transfers"): PHARMACY,
    ("POST", "/api/transfers"): (P,),
    ("GET", "/api/transfers/{transfer_id}"): PHARMACY,
    ("POST", "/api/transfers/{transfer_id}/lines"): (P,),
    ("DELETE", "/api/transfers/{transfer_id}/lines/{line_id}"): (P,),
    ("POST", "/api/transfers/{transfer_id}/ship"): (P,),
    ("POST", "/api/transfers/{transfer_id}/receive"): (P,),
    ("POST", "/api/transfers/{transfer_id}/cancel"): (P,),
    ("GET", "/api/audit"): (A,),
    ("GET", "/api/substances"): EVERYONE,
    ("POST", "/api/substances"): PHARMACY,
    ("GET", "/api/substances/{substance_id}"): EVERYONE,
    ("PATCH", "/api/substances/{substance_id}"): PHARMACY,
    ("GET", "/api/cross-reactivity"): EVERYONE,
    ("POST", "/api/cross-reactivity"): PHARMACY,
    ("GET", "/api/cross-reactivity/{group_id}"): EVERYONE,
    ("PATCH", "/api/cross-reactivity/{group_id}"): PHARMACY,
    ("DELETE", "/api/cross-reactivity/{group_id}"): PHARMACY,
    ("GET", "/api/serums"): EVERYONE,
    ("POST", "/api/serums"): PHARMACY,
    ("GET", "/api/serums/{serum_id}"): EVERYONE,
    ("PATCH", "/api/serums/{serum_id}"): PHARMACY,
    ("POST", "/api/serums/{serum_id}/approve"): PHARMACY,
    ("POST", "/api/serums/{serum_id}/retire"): PHARMACY,
    ("POST", "/api/serums/{serum_id}/versions"): PHARMACY,
    ("GET", "/api/patients"): CLINICAL,
    ("POST", "/api/patients"): (D,),
    ("GET", "/api/patients/{patient_id}"): CLINICAL,
    ("PATCH", "/api/patients/{patient_id}"): (D,),
    ("GET", "/api/patients/{patient_id}/allergies"): CLINICAL,
    ("POST", "/api/patients/{patient_id}/allergies"): (D,),
    ("PATCH", "/api/patients/{patient_id}/allergies/{allergy_id}"): (D,),
    ("DELETE", "/api/patients/{patient_id}/allergies/{allergy_id}"): (D,),
    ("GET", "/api/patients/{patient_id}/safety"): CLINICAL,
    ("GET", "/api/patients/{patient_id}/serums"): CLINICAL,
    ("GET", "/api/patients/{patient_id}/fhir/allergies"): CLINICAL,
    ("POST", "/api/patients/{patient_id}/fhir/allergies"): (D,),
    ("GET", "/api/patients/{patient_id}/courses"): CLINICAL,
    ("POST", "/api/patients/{patient_id}/courses"): (D,),
    ("POST", "/api/courses/{course_id}/maintenance"): (D,),
    ("GET", "/api/courses/{course_id}/assessments"): CLINICAL,
    ("POST", "/api/courses/{course_id}/assessments"): (D,),
    ("GET", "/api/assessments/{assessment_id}"): CLINICAL,
    ("POST", "/api/assessments/{assessment_id}/decision"): (D,),
    ("POST", "/api/assessments/{assessment_id}/photos"): (D,),
    ("GET", "/api/patients/{patient_id}/photos/{photo_id}"): CLINICAL,
    ("GET", "/api/condition-rules"): CLINICAL,
    ("POST", "/api/condition-rules"): (A,),
    ("GET", "/api/products"): EVERYONE,
    ("POST", "/api/products"): PHARMACY,
    ("GET", "/api/products/{product_id}"): EVERYONE,
    ("PATCH", "/api/products/{product_id}"): PHARMACY,
    ("POST", "/api/products/{product_id}/dispense"): (P,),
    ("GET", "/api/products/{product_id}/reorder-points"): EVERYONE,
    ("PUT", "/api/products/{product_id}/reorder-points/{site_id}"): PHARMACY,
    ("DELETE", "/api/products/{product_id}/reorder-points/{site_id}"): PHARMACY,
    ("GET", "/api/lots"): EVERYONE,
    ("POST", "/api/lots"): (P,),
    ("GET", "/api/lots/{lot_id}"): EVERYONE,
    ("GET", "/api/lots/{lot_id}/label"): PHARMACY,
    ("POST", "/api/lots/{lot_id}/release"): (P,),
    ("POST", "/api/lots/{lot_id}/quarantine"): (P,),
    ("POST", "/api/lots/{lot_id}/open"): (P,),
    ("POST", "/api/lots/{lot_id}/adjust"): (P,),
    ("POST", "/api/lots/{lot_id}/dispose"): (P,),
    ("POST", "/api/lots/{lot_id}/recall"): (P,),
    ("GET", "/api/lots/{lot_id}/movements"): PHARMACY,
    ("GET", "/api/lots/{lot_id}/trace"): PHARMACY,
    ("GET", "/api/counts"): PHARMACY,
    ("POST", "/api/counts"): (P,),
    ("GET", "/api/counts/{count_id}"): PHARMACY,
    ("POST", "/api/counts/{count_id}/lines"): (P,),
    ("POST", "/api/counts/{count_id}/submit"): (P,),
    ("POST", "/api/counts/{count_id}/approve"): (P,),
    ("POST", "/api/counts/{count_id}/cancel"): (P,),
    ("GET", "/api/sessions"): CLINICAL,
    ("GET", "/api/sessions/{session_id}"): CLINICAL,
    ("POST", "/api/sessions/{session_id}/complete"): (D,),
    ("POST", "/api/sessions/{session_id}/cancel"): (D,),
    ("POST", "/api/sessions/{session_id}/move"): (D,),
    ("POST", "/api/sessions/{session_id}/side-effects"): (D,),
    ("POST", "/api/sessions/{session_id}/side-effects/{side_effect_id}/entered-in-error"): (D,),
    ("POST", "/api/batches"): (P,),
    ("GET", "/api/batches/{batch_id}"): PHARMACY,
    ("POST", "/api/batches/{batch_id}/verify"): (P,),
    ("POST", "/api/batches/{batch_id}/reject"): (P,),
    ("GET", "/api/forecast"): PHARMACY,
    ("GET", "/api/alerts"): PHARMACY,
    ("GET", "/api/alerts/{alert_id}"): PHARMACY,
    ("POST", "/api/alerts/{alert_id}/ack"): PHARMACY,
    ("POST", "/api/alerts/ack"): PHARMACY,
    ("POST", "/api/alerts/scan"): (A,),
    ("GET", "/api/vigilance"): EVERYONE,
    ("GET", "/api/suppliers"): EVERYONE,
    ("POST", "/api/suppliers"): PHARMACY,
    ("GET", "/api/suppliers/{supplier_id}"): EVERYONE,
    ("PATCH", "/api/suppliers/{supplier_id}"): PHARMACY,
    ("GET", "/api/suppliers/{supplier_id}/products"): EVERYONE,
    ("POST", "/api/suppliers/{supplier_id}/products"): PHARMACY,
    ("GET", "/api/reorder-suggestions"): PHARMACY,
    ("GET", "/api/purchase-orders"): PHARMACY,
    ("POST", "/api/purchase-orders"): PHARMACY,
    ("POST", "/api/purchase-orders/from-suggestions"): PHARMACY,
    ("GET", "/api/purchase-orders/{order_id}"): PHARMACY,
    ("POST", "/api/purchase-orders/{order_id}/submit"): PHARMACY,
    ("POST", "/api/purchase-orders/{order_id}/cancel"): PHARMACY,
    ("GET", "/api/purchase-orders/{order_id}/print"): PHARMACY,
}


def operations(client) -> set[tuple[str, str]]:
    spec = client.get("/api/openapi.json").get_json()
    return {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in ("get", "post", "patch", "put", "delete")
    }


def test_the_table_lists_every_operation_of_the_openapi_document(client):
    assert operations(client) ^ set(ROLES) == set()


@pytest.mark.parametrize(("method", "path"), sorted(ROLES))
def test_each_role_gets_what_the_table_says(client, login_as, method, path):
    url = re.sub(r"\{[a-z_]+\}", "999999", path)
    call = getattr(client, method.lower())
    allowed = ROLES[(method, path)]
    anonymous = call(url, json={})
    if allowed == PUBLIC:
        assert anonymous.status_code not in (401, 403), anonymous.get_json()
        return
    assert anonymous.status_code == 401
    for role in EVERYONE:
        answer = call(url, json={}, headers=login_as(role))
        if role in allowed:
            assert answer.status_code not in (401, 403), (role, answer.get_json())
        else:
            assert answer.status_code == 403, (role, answer.get_json())
            assert set(answer.get_json()) <= {"code", "status", "message", "errors"}
