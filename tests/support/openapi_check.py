"""Every answer a test gets from ``/api`` checked against ``/api/openapi.json``: the
route and status must be described there, and the JSON body must match its schema
(plain jsonschema over the document, its ``$ref``s resolved inside it)."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import ClientResponse
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

DOCUMENT_URI = "urn:prbot:openapi"


class OpenApiCheck:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        resource = Resource(contents=document, specification=DRAFT202012)
        self.registry: Registry = Registry().with_resource(DOCUMENT_URI, resource)
        # literal paths first: /api/promotions before /api/promotions/{id}
        self.templates = sorted(document["paths"], key=lambda t: (t.count("{"), t))

    def template(self, path: str) -> str:
        for template in self.templates:
            if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), path):
                return template
        raise AssertionError(f"{path} is not described by the OpenAPI document")

    def check(self, method: str, path: str, status: int, body: Any) -> None:
        template = self.template(path)
        operation = self.document["paths"][template].get(method.lower())
        assert operation is not None, f"{method} {template} is not described"
        assert str(status) in operation["responses"], (
            f"{method} {template} answered {status}, which is not described: {body!r}"
        )
        pointer = "/".join(
            p.replace("~", "~0").replace("/", "~1")
            for p in (
                "paths",
                template,
                method.lower(),
                "responses",
                str(status),
                "content",
                "application/json",
                "schema",
            )
        )
        schema = {"$ref": f"{DOCUMENT_URI}#/{pointer}"}
        Draft202012Validator(schema, registry=self.registry).validate(body)

    async def answer(self, response: ClientResponse) -> Any:
        """The response's JSON body, after checking it against the document."""
        assert response.content_type == "application/json", await response.text()
        body = await response.json()
        self.check(response.method, response.url.path, response.status, body)
        return body
