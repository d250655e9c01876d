"""The OpenAPI 3.1 description of every ``/api`` route: one place, as data.

``GET /api/openapi.json`` serves ``document()``; the tests check every answer they get
against it, and schemathesis calls each route as it describes. A route added to the API
is added here, with its error answers: 401 (no or wrong bearer token), 404, 409, 422 (one
message per field), 503 (the store or the platform is unavailable: ask again later).
"""

from __future__ import annotations

import functools
from typing import Any

from aiohttp import web

from prbot.engine.promotion_requests import COMMANDS
from prbot.web.api import JOB_STATES, Handler

Schema = dict[str, Any]
JSON = "application/json"


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(required: dict[str, Schema], optional: dict[str, Schema] | None = None) -> Schema:
    """An object with these properties; more may come in later versions."""
    return {
        "type": "object",
        "properties": {**required, **(optional or {})},
        "required": list(required),
    }


STR: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}
NUM: Schema = {"type": "number"}
STR_OR_NULL: Schema = {"type": ["string", "null"]}
NUM_OR_NULL: Schema = {"type": ["number", "null"]}
STR_LIST: Schema = {"type": "array", "items": STR}
FIELD_ERRORS: Schema = {
    "type": "object",
    "description": 'field -> what is wrong with it ("inputs.NAME" for an input)',
    "additionalProperties": STR,
}
PLATFORM: Schema = {"type": "string", "enum": ["github", "gitlab"]}


def _status(value: str, reason: bool = False) -> Schema:
    props: dict[str, Schema] = {"status": {"const": value}}
    return _obj(props, {"reason": STR}) if not reason else _obj({**props, "reason": STR})


SCHEMAS: dict[str, Schema] = {
    # -- errors
    "Unauthorized": _status("unauthorized", reason=True),
    "BadRequest": _status("bad_request", reason=True),
    "NotFound": _status("not_found"),
    "TooLarge": _status("too_large"),
    "Refused": _status("refused", reason=True),
    "Unavailable": _status("unavailable"),
    "Invalid": _obj({"status": {"const": "invalid"}, "errors": FIELD_ERRORS}),
    # -- runs and jobs
    "RunRequest": _obj(
        {"automation": STR, "platform": PLATFORM, "requested_by": STR},
        {
            "repo": {**STR, "description": "owner/name; the automation's own when it names one"},
            "inputs": {
                "type": "object",
                "description": "input name -> value. A password input's value is taken "
                "and never stored: the process that answers runs the run itself, the value "
                "in its memory only (a restart before the run is done fails it: ask again); "
                "a process that cannot (no platform) refuses it with 422",
            },
        },
    ),
    "Run": _obj(
        {
            "id": INT,
            "automation": STR,
            "repo": STR,
            "platform": STR,
            "requested_by": STR,
            "inputs": {"type": "object", "description": "passwords removed"},
            "status": {
                "enum": ["queued", "running", "pr_open", "no_change", "merged", "closed", "failed"]
            },
            "head": STR,
            "pr_number": {"type": ["integer", "null"]},
            "pr_url": STR,
            "error": STR,
            "created_at": NUM,
            "updated_at": NUM,
            "request_key": STR_OR_NULL,
            "requested_in": STR,
        }
    ),
    "Job": _obj(
        {
            "id": INT,
            "kind": STR,
            "payload": {"type": "object"},
            "state": {"enum": list(JOB_STATES)},
            "attempts": INT,
            "max_attempts": INT,
            "next_run_at": NUM,
            "lease_owner": STR_OR_NULL,
            "lease_expires_at": NUM_OR_NULL,
            "last_error": STR_OR_NULL,
            "dedupe_key": STR_OR_NULL,
            "created_at": NUM,
            "updated_at": NUM,
        }
    ),
    # -- promotions
    "PromotionRequest": _obj(
        {"pipeline": STR, "repo": STR, "requested_by": STR},
        {"platform": {**PLATFORM, "default": "github"}, "inputs": {"type": "object"}},
    ),
    "CommandRequest": _obj(
        {"by": STR}, {"stage": {**STR, "description": "approve: the stage (else the current)"}}
    ),
    "Gate": {
        "type": "object",
        "properties": {"type": {"enum": ["approval", "window"]}},
        "required": ["type"],
        "description": "approval: users, teams, count, approved_by, counted; "
        "window: days, hours, timezone, opens_at",
    },
    "Stage": _obj(
        {
            "name": STR,
            "status": STR,
            "pr": {
                "oneOf": [{"type": "null"}, _obj({"number": INT, "url": STR})],
            },
            "merge_sha": STR_OR_NULL,
            "health": {
                "type": "array",
                "items": _obj({"name": STR, "kind": STR, "state": STR}),
            },
            "gates": {"type": "array", "items": _ref("Gate")},
            "failure": STR,
            "merged_at": NUM_OR_NULL,
            "finished_at": NUM_OR_NULL,
        }
    ),
    "Promotion": _obj(
        {
            "id": INT,
            "pipeline": STR,
            "repo": STR,
            "platform": STR,
            "status": STR,
            "requested_by": STR,
            "inputs": {"type": "object"},
            "reason": STR,
            "stages": {"type": "array", "items": _ref("Stage")},
        }
    ),
    # -- the catalog
    "Catalog": _obj(
        {
            "name": STR,
            "description": STR,
            "category": STR,
            "icon": STR,
            "source": {"enum": ["deployment", "repository"]},
        }
    ),
    "Automation": _obj(
        {
            "name": STR,
            "title": {**STR, "description": "the PR title's template, as written"},
            "description": STR,
            "documentation": STR,
            "catalog": STR_OR_NULL,
            "category": STR,
            "icon": STR,
            "repository": {**STR_OR_NULL, "description": "the one repository it targets"},
            "source": {"enum": ["deployment", "repository"]},
            "inputs": {
                "type": "object",
                "description": "a JSON Schema (2020-12) of the inputs object; conditional "
                "inputs carry x-prbot-when (see prbot/automation/input_schema.py)",
            },
            "confirm": {
                "oneOf": [
                    {"type": "null"},
                    _obj({"text": STR, "checklist": STR_LIST}),
                ],
            },
        }
    ),
    "CatalogAnswer": _obj(
        {
            "catalogs": {"type": "array", "items": _ref("Catalog")},
            "automations": {"type": "array", "items": _ref("Automation")},
        }
    ),
    "PreviewRequest": _obj(
        {"automation": STR, "platform": PLATFORM},
        {
            "repo": STR,
            "inputs": {
                "type": "object",
                "description": "input name -> value; a password's value renders as given "
                "and is shown as *** everywhere in the answer",
            },
        },
    ),
    "Preview": _obj(
        {
            "automation": STR,
            "platform": STR,
            "repo": STR,
            "title": STR,
            "branch": {**STR, "description": "the PR's head branch"},
            "base": STR,
            "body": STR,
            "labels": STR_LIST,
            "reviewers": STR_LIST,
            "files": {
                "type": "array",
                "items": _obj(
                    {
                        "path": STR,
                        "change": {"enum": ["create", "update", "delete"]},
                        "diff": {**STR, "description": "git-style unified diff"},
                    }
                ),
            },
        }
    ),
    "OpenApi": _obj({"openapi": STR, "info": {"type": "object"}, "paths": {"type": "object"}}),
}

# status -> (description, schema name): the shared error answers
ERRORS: dict[int, tuple[str, str]] = {
    400: ("the body is not a JSON object", "BadRequest"),
    401: ("no bearer token, or the wrong one", "Unauthorized"),
    404: ("no such thing", "NotFound"),
    409: ("refused: it would change nothing, or is not allowed now", "Refused"),
    413: ("the body is too large", "TooLarge"),
    422: ("invalid: one message per field", "Invalid"),
    503: ("the store or the platform is unavailable; ask again later", "Unavailable"),
}


def _answers(ok: int, ok_schema: str, *errors: int, ok_headers: Schema | None = None) -> Schema:
    answers: Schema = {
        str(ok): {"description": "done", "content": {JSON: {"schema": _ref(ok_schema)}}}
    }
    if ok_headers:
        answers[str(ok)]["headers"] = ok_headers
    for status in (401, *errors):
        description, name = ERRORS[status]
        answers[str(status)] = {
            "description": description,
            "content": {JSON: {"schema": _ref(name)}},
        }
    answers["401"]["headers"] = {"WWW-Authenticate": {"schema": STR}}
    return answers


def _body(name: str) -> Schema:
    return {"required": True, "content": {JSON: {"schema": _ref(name)}}}


def _query(name: str, schema: Schema, description: str = "") -> Schema:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def _path(name: str, schema: Schema) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _wrapped(key: str, name: str, *, many: bool = False, **extra: Schema) -> Schema:
    item = _ref(name)
    return _obj({key: {"type": "array", "items": item} if many else item, **extra})


ID = _path("id", {"type": "integer", "minimum": 0})

PATHS: dict[str, Schema] = {
    "/api/runs": {
        "post": {
            "summary": "Ask for an automation run (validated now, run by a worker; one "
            "with password inputs by the process that answers)",
            "operationId": "createRun",
            "requestBody": _body("RunRequest"),
            "responses": _answers(
                201, "RunCreated", 400, 413, 422, 503, ok_headers={"Location": {"schema": STR}}
            ),
        }
    },
    "/api/runs/{id}": {
        "get": {
            "summary": "One run",
            "operationId": "getRun",
            "parameters": [ID],
            "responses": _answers(200, "RunAnswer", 404, 503),
        }
    },
    "/api/jobs": {
        "get": {
            "summary": "Jobs, newest first",
            "operationId": "listJobs",
            "parameters": [
                _query("state", {"enum": list(JOB_STATES)}),
                _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}),
            ],
            "responses": _answers(200, "JobsAnswer", 422, 503),
        }
    },
    "/api/promotions": {
        "post": {
            "summary": "Start a promotion through a pipeline's stages",
            "operationId": "createPromotion",
            "requestBody": _body("PromotionRequest"),
            "responses": _answers(202, "PromotionAnswer", 422, 503),
        },
        "get": {
            "summary": "Promotions, newest first",
            "operationId": "listPromotions",
            "parameters": [
                _query("platform", PLATFORM),
                _query("repo", STR),
                _query("pipeline", STR),
                _query("status", STR, "statuses, comma-separated"),
                _query("limit", {"type": "integer", "minimum": 1, "maximum": 500}),
            ],
            "responses": _answers(200, "PromotionsAnswer", 422, 503),
        },
    },
    "/api/promotions/{id}": {
        "get": {
            "summary": "One promotion",
            "operationId": "getPromotion",
            "parameters": [ID],
            "responses": _answers(200, "PromotionAnswer", 404, 503),
        }
    },
    "/api/promotions/{id}/{verb}": {
        "post": {
            "summary": "A command on a promotion (approve, hold, resume, ...)",
            "operationId": "commandPromotion",
            "parameters": [ID, _path("verb", {"enum": ["approve", *COMMANDS]})],
            "requestBody": _body("CommandRequest"),
            "responses": _answers(202, "CommandAccepted", 404, 409, 422, 503),
        }
    },
    "/api/catalog": {
        "get": {
            "summary": "Catalogs and automations, with the JSON Schema of their inputs",
            "operationId": "getCatalog",
            "parameters": [
                _query("platform", PLATFORM, "required with repo"),
                _query("repo", STR, "add this repository's own automations (.prbot/)"),
            ],
            "responses": _answers(200, "CatalogAnswer", 404, 422, 503),
        }
    },
    "/api/preview": {
        "post": {
            "summary": "The change a run would make, rendered and diffed; nothing written",
            "operationId": "preview",
            "requestBody": _body("PreviewRequest"),
            "responses": _answers(200, "Preview", 400, 404, 413, 422, 503),
        }
    },
    "/api/openapi.json": {
        "get": {
            "summary": "This document",
            "operationId": "openapi",
            "responses": _answers(200, "OpenApi"),
        }
    },
}

ANSWERS: dict[str, Schema] = {
    "RunCreated": _obj({"run": _ref("Run"), "job_id": INT}),
    "RunAnswer": _wrapped("run", "Run"),
    "JobsAnswer": _wrapped("jobs", "Job", many=True),
    "PromotionAnswer": _wrapped("promotion", "Promotion"),
    "PromotionsAnswer": _wrapped("promotions", "Promotion", many=True),
    "CommandAccepted": _wrapped("promotion", "Promotion", status={"const": "accepted"}),
}


@functools.cache
def document() -> Schema:
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "prbot internal API",
            "version": "1",
            "description": "Runs, promotions, the service catalog and previews. Every "
            "route needs the bearer token of PRBOT_API_TOKEN.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": PATHS,
        "components": {
            "schemas": {**SCHEMAS, **ANSWERS},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def add_route(app: web.Application, guard: Any) -> None:
    """``GET /api/openapi.json``, behind the API's guard like every /api route."""

    async def serve(_request: web.Request) -> web.Response:
        return web.json_response(document())

    handler: Handler = guard(serve)
    app.router.add_get("/api/openapi.json", handler)
