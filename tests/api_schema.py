"""Checks every API response a test receives against the OpenAPI document the app serves."""

from flask.testing import FlaskClient
from jsonschema import Draft202012Validator, FormatChecker
from werkzeug.exceptions import HTTPException

from tests.conftest import IsolatedClient


def response_problems(app, document: dict, method: str, path: str, response) -> list[str]:
    """Why ``response`` does not match what the document promises for ``method path``; [] when it does."""
    operation = _operation(app, document, method, path)
    if operation is None:
        # Outside any operation (an unknown address, a method the address lacks): a problem document.
        if response.mimetype != "application/problem+json":
            return [f"{method} {path}: {response.status_code} is not a problem document"]
        schema = {"$ref": "#/components/schemas/Problem"}
    else:
        documented = operation["responses"].get(str(response.status_code))
        if documented is None:
            return [f"{method} {path}: status {response.status_code} is not documented"]
        content = documented.get("content")
        if content is None:
            return [] if not response.data else [f"{method} {path}: a body where none is documented"]
        if response.mimetype not in content:
            return [f"{method} {path}: {response.mimetype} is not among {list(content)}"]
        schema = content[response.mimetype]["schema"]
        for header in documented.get("headers", {}):
            if header not in response.headers:
                return [f"{method} {path}: header {header} missing"]
    validator = Draft202012Validator({**schema, "components": document["components"]},
                                     format_checker=FormatChecker())
    return [f"{method} {path}: {e.json_path}: {e.message}" for e in validator.iter_errors(response.get_json())]


def _operation(app, document: dict, method: str, path: str) -> dict | None:
    """The document's operation that the app routes ``method path`` to, or None outside every one."""
    adapter = app.url_map.bind("localhost")
    try:
        endpoint, _args = adapter.match(path.split("?")[0], method)
    except HTTPException:
        return None
    operation = None
    if endpoint.startswith("api."):
        for item in document["paths"].values():
            for verb, op in item.items():
                if verb == method.lower() and op["operationId"] == endpoint.removeprefix("api."):
                    operation = op
    return operation


class CheckedClient(IsolatedClient):
    """A test client whose every /api/ response must match the OpenAPI document (asserted on arrival)."""

    document: dict | None = None

    def open(self, *args, **kwargs):
        response = super().open(*args, **kwargs)
        request = response.request
        if request.path.startswith("/api/v1/") and request.path != "/api/v1/openapi.json":
            if CheckedClient.document is None:
                CheckedClient.document = FlaskClient.open(self, "/api/v1/openapi.json").get_json()
            problems = response_problems(self.application, CheckedClient.document, request.method,
                                         request.path, response)
            assert not problems, problems
        return response
