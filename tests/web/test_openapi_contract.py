"""The OpenAPI document states the error contract: every operation lists 401, 403, 404, 409, 422 and 429
as application/problem+json with the Problem schema, and error responses really are that shape."""

from __future__ import annotations

from fastapi.testclient import TestClient

STATUSES = ("401", "403", "404", "409", "422", "429")


def test_every_operation_documents_its_errors_as_problem_json(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    problem = document["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail"} <= set(problem["required"])
    assert "detail_zh" in problem["properties"]
    operations = [(path, method, op) for path, item in document["paths"].items() for method, op in item.items()]
    assert len(operations) >= 55
    for path, method, operation in operations:
        for status in STATUSES:
            content = operation["responses"][status]["content"]
            assert list(content) == ["application/problem+json"], f"{method} {path} {status}"
            assert content["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_a_validation_error_is_served_as_the_documented_problem(client: TestClient) -> None:
    response = client.get("/api/v1/catalog", params={"limit": "many"})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert {"type", "title", "status", "detail"} <= set(response.json())
