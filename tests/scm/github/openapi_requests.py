"""Check requests prbot sent against GitHub's own OpenAPI description (tests/fixtures/api).

The forge may be lenient; GitHub's description is not. Every REST request recorded by an
httpx event hook is matched to its operation (multi-segment parameters such as ``{ref}``
may hold slashes) and validated: path, query parameters and JSON body.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import httpx

from tests.fixtures import GITHUB_OPENAPI


@dataclass(frozen=True)
class Sent:
    method: str
    url: str
    body: bytes
    content_type: str


class RequestRecorder:
    """An httpx request hook keeping what was sent (bodies are in memory for gidgethub)."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []

    async def __call__(self, request: httpx.Request) -> None:
        self.sent.append(
            Sent(
                request.method,
                str(request.url),
                request.content,
                request.headers.get("content-type", "application/json"),
            )
        )


# operations prbot uses that the subset does not describe, checked by GitHub's documented
# path and query parameters: (method, path regex, template, allowed query keys)
OUTSIDE_SUBSET: tuple[tuple[str, re.Pattern[str], str, frozenset[str]], ...] = (
    (
        "GET",  # https://docs.github.com/rest/commits/commits#compare-two-commits
        re.compile(r"/repos/[^/]+/[^/]+/compare/.+\.\.\..+"),  # BASE...HEAD
        "/repos/{owner}/{repo}/compare/{basehead}",
        frozenset({"page", "per_page"}),
    ),
    (
        "GET",  # https://docs.github.com/rest/teams/members#get-team-membership-for-a-user
        re.compile(r"/orgs/[^/]+/teams/[^/]+/memberships/[^/]+"),
        "/orgs/{org}/teams/{team_slug}/memberships/{username}",
        frozenset(),
    ),
    (
        "GET",  # https://docs.github.com/rest/apps/apps#list-installations-for-the-authenticated-app
        re.compile(r"/app/installations"),
        "/app/installations",
        frozenset({"page", "per_page", "since", "outdated"}),
    ),
    (
        "GET",  # https://docs.github.com/rest/apps/installations#list-repositories-accessible-to-the-app-installation
        re.compile(r"/installation/repositories"),
        "/installation/repositories",
        frozenset({"page", "per_page"}),
    ),
    (
        "GET",  # https://docs.github.com/rest/repos/repos#list-repositories-for-the-authenticated-user
        re.compile(r"/user/repos"),
        "/user/repos",
        frozenset(
            {"visibility", "affiliation", "type", "sort", "direction"}
            | {"per_page", "page", "since", "before"}
        ),
    ),
)


@functools.cache
def _spec() -> Any:
    from openapi_core import Config, OpenAPI

    # the subset has 3 upstream default/format quirks the spec validator rejects
    return OpenAPI.from_file_path(str(GITHUB_OPENAPI), config=Config(spec_validator_cls=None))


@functools.cache
def _operations() -> list[tuple[str, re.Pattern[str], str]]:
    """(method, path regex, template), most literal characters first."""
    doc = json.loads(GITHUB_OPENAPI.read_text(encoding="utf-8"))
    out = []
    for template, ops in doc["paths"].items():
        for method, op in ops.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            multi = set()
            for p in op.get("parameters", []):
                if "$ref" in p:
                    p = doc["components"]["parameters"][p["$ref"].rsplit("/", 1)[1]]
                if p.get("x-multi-segment"):
                    multi.add(p["name"])
            regex = re.sub(
                r"\\\{(\w+)\\\}",
                lambda m, multi=multi: (
                    f"(?P<{m.group(1)}>{'.+' if m.group(1) in multi else '[^/]+'})"
                ),
                re.escape(template),
            )
            out.append((method.upper(), re.compile(regex), template))
    out.sort(key=lambda t: -len(re.sub(r"\{\w+\}", "", t[2])))
    return out


def validate(sent: Sent, api_prefix: str = "/api/v3") -> str:
    """Raise if ``sent`` does not match GitHub's description; returns its operation."""
    from openapi_core.testing import MockRequest

    parts = urlsplit(sent.url)
    path = unquote(parts.path.removeprefix(api_prefix))
    for method, regex, template in _operations():
        m = regex.fullmatch(path)
        if method != sent.method or m is None:
            continue
        concrete = template
        for name, value in m.groupdict().items():
            concrete = concrete.replace("{" + name + "}", quote(value, safe=""))
        request = MockRequest(
            "https://api.github.com",
            sent.method.lower(),
            concrete,
            args=dict(parse_qsl(parts.query)),
            data=sent.body or None,
            content_type=sent.content_type.split(";")[0],
        )
        _spec().validate_request(request)
        return f"{method} {template}"
    for method, regex, template, query_keys in OUTSIDE_SUBSET:
        if method == sent.method and regex.fullmatch(path):
            query = dict(parse_qsl(parts.query))
            assert set(query) <= query_keys, (sent.method, path, query)
            numbers = {k: v for k, v in query.items() if k in ("page", "per_page", "since")}
            assert all(v.isdigit() for v in numbers.values()), (sent.method, path, query)
            assert not sent.body, (sent.method, path, "a GET carries no body")
            return f"{method} {template}"
    raise AssertionError(f"{sent.method} {path} is not an operation of GitHub's REST subset")


def validate_all(sent: list[Sent]) -> set[str]:
    """Every REST request (GraphQL is not in the REST description) → operations used."""
    return {validate(s) for s in sent if not urlsplit(s.url).path.endswith("/api/graphql")}
