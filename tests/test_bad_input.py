"""No bad input reaches a 500: every write endpoint of the OpenAPI document is sent malformed
bodies (wrong types, nulls, huge numbers, nonsense strings) by every role, on ids that exist."""

import pytest

from tests import factories

NASTY_VALUES = [None, -1, 0, 2**63, 10**30, 1.5e308, "", "nonsense", "2999-99-99", [], {}, True]


@pytest.fixture
def world(runner):
    """One of everything, so that path ids point at real rows."""
    assert runner.invoke(args=["seed", "--demo"]).exit_code == 0
    factories.make_lot()
    return {role: factories.make_user(role=role) for role in ("pharmacist", "doctor", "admin")}


def write_operations(spec):
    for path, operations in spec["paths"].items():
        for method in ("post", "patch"):
            if method in operations:
                yield path.replace("{", "").replace("}", "").split("/"), method, operations[method]


def request_fields(spec, operation) -> list[str]:
    content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    ref = content.get("schema", {}).get("$ref")
    if not ref:
        return []
    schema = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return list(schema.get("properties", {}))


def test_no_malformed_body_makes_a_500(client, world):
    spec = client.get("/api/openapi.json").get_json()
    headers = {role: factories.auth_header(user) for role, user in world.items()}
    failures = []
    for parts, method, operation in write_operations(spec):
        path = "/".join("1" if part.endswith("_id") else part for part in parts)
        fields = request_fields(spec, operation)
        bodies = [[], "text", {"unexpected": 1}]
        bodies += [dict.fromkeys(fields, value) for value in NASTY_VALUES]
        for role, header in headers.items():
            for body in bodies:
                response = getattr(client, method)(path, headers=header, json=body)
                if response.status_code >= 500:
                    failures.append((method.upper(), path, role, body, response.status_code))
    assert failures == []


def test_no_malformed_query_makes_a_500(client, world):
    spec = client.get("/api/openapi.json").get_json()
    headers = {role: factories.auth_header(user) for role, user in world.items()}
    failures = []
    for path, operations in spec["paths"].items():
        if "get" not in operations:
            continue
        url = "/".join("1" if part.startswith("{") else part for part in path.split("/"))
        names = [p["name"] for p in operations["get"].get("parameters", []) if p["in"] == "query"]
        for name in names:
            for value in ["", "-1", "0", str(2**63), "nonsense", "2999-99-99", "1e309", "%00"]:
                for role, header in headers.items():
                    response = client.get(url, headers=header, query_string={name: value})
                    if response.status_code >= 500:
                        failures.append((url, name, value, role, response.status_code))
    assert failures == []
