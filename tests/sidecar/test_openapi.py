"""`GET /openapi.json`: an OpenAPI 3.1 document that matches the app's routes, served in
public by a real sidecar, holding no secret."""

from __future__ import annotations

import json

import requests
from openapi_spec_validator import validate

from sidecar.openapi import document
from tests.conftest import ADMIN_TOKEN, SECRET, Sidecar
from tests.test_docs import app_routes


def documented_operations(doc: dict) -> set[tuple[str, str]]:
    methods = {"get", "post", "put", "patch", "delete"}
    return {
        (method.upper(), path)
        for path, item in doc["paths"].items()
        for method in item
        if method in methods
    }


def test_every_route_of_the_app_is_documented_and_every_documented_path_is_a_route():
    routes = set(app_routes())
    documented = documented_operations(document())

    assert sorted(routes - documented) == []
    assert sorted(documented - routes) == []


def test_the_document_is_valid_openapi_3_1():
    doc = document()

    assert doc["openapi"] == "3.1.0"
    validate(doc)


def test_staff_routes_need_the_token_and_public_ones_do_not():
    doc = document()
    for method, path in documented_operations(doc):
        operation = doc["paths"][path][method.lower()]
        staff = path == "/metrics" or (
            path.startswith("/api/")
            and not path.startswith(
                ("/api/checkout", "/api/support/", "/api/orders/{order_id}/status", "/api/login")
            )
            and (method, path) != ("POST", "/api/waitlist")  # the storefront's
        )
        assert ("security" in operation) == staff, (method, path)


def test_a_running_sidecar_serves_it_publicly_without_secrets(sidecar: Sidecar):
    response = requests.get(sidecar.url + "/openapi.json", timeout=10)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    doc = json.loads(response.text)
    assert doc == json.loads(json.dumps(document()))
    assert ADMIN_TOKEN not in response.text
    assert SECRET not in response.text
