"""The request layer: every GitHub call, REST or GraphQL, goes through ``GitHubClient.request``.

It asks the ``Auth`` for a credential per attempt (so tokens refresh transparently),
records rate-limit headers per credential bucket, waits out rate limits (bounded), retries
5xx and transport errors with full-jitter exponential backoff, counts requests by route
template, and maps failures onto the port's errors. gidgethub (httpx backend) builds the
headers and decodes answers; a thin subclass hands us each answer's status and headers.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import random
import re
import time
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import gidgethub
import gidgethub.httpx
import httpx

from prbot.scm.counter import RequestCounter
from prbot.scm.github.auth import Auth, Credential
from prbot.scm.github.errors import (
    GitHubConflict,
    GitHubNotFound,
    GitHubRateLimited,
    GitHubStatusError,
    GitHubUnavailable,
)
from prbot.scm.github.limits import RateLimitBook, RetryPolicy, rate_limit_wait
from prbot.scm.port import ScmError

log = logging.getLogger("prbot.scm.github")

PUBLIC_API = "https://api.github.com"
ACCEPT = "application/vnd.github+json"
GRAPHQL_ROUTE = "/graphql"
NO_BODY: Any = object()
# path parameters that may hold slashes (branch names, file paths) stay unescaped there
_MULTI_SEGMENT = frozenset({"branch", "tag", "ref", "path", "sha", "tree_sha", "commit_sha"})
_PARAM = re.compile(r"\{(\w+)\}")
_NEXT_LINK = re.compile(r'<([^>]+)>;\s*rel="next"')
# transport errors raised before the request left this machine: always safe to repeat
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

Sleep = Callable[[float], Awaitable[None]]


@dataclass
class Response:
    status: int
    headers: Mapping[str, str]
    data: Any

    def next_url(self) -> str | None:
        m = _NEXT_LINK.search(self.headers.get("link", ""))
        return m.group(1) if m else None


@dataclass
class _Exchange:
    """Filled in by ``_Backend._request``: gidgethub returns only the body to us."""

    status: int = 0
    headers: Mapping[str, str] = field(default_factory=dict)


_EXCHANGE: contextvars.ContextVar[_Exchange | None] = contextvars.ContextVar(
    "prbot_github_exchange", default=None
)


class _Backend(gidgethub.httpx.GitHubAPI):
    async def _request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes = b""
    ) -> tuple[int, Mapping[str, str], bytes]:
        status, answer_headers, content = await super()._request(method, url, headers, body)
        box = _EXCHANGE.get()
        if box is not None:
            box.status, box.headers = status, answer_headers
        return status, answer_headers, content


def default_graphql_url(api_url: str) -> str:
    """github.com: ``api.github.com/graphql``; Enterprise Server: ``HOST/api/graphql``."""
    api_url = api_url.rstrip("/")
    if api_url.endswith("/api/v3"):
        return api_url[: -len("/v3")] + "/graphql"
    return api_url + "/graphql"


def expand(route: str, params: Mapping[str, Any]) -> str:
    """Fill a route template, escaping each value (slashes kept only where GitHub wants them)."""

    def fill(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in params:
            raise KeyError(f"route {route} needs {name}")
        safe = "/" if name in _MULTI_SEGMENT else ""
        return urllib.parse.quote(str(params[name]), safe=safe)

    return _PARAM.sub(fill, route)


class GitHubClient:
    def __init__(
        self,
        *,
        api_url: str = PUBLIC_API,
        graphql_url: str | None = None,
        http: httpx.AsyncClient | None = None,
        timeout: float = 30.0,
        policy: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        counter: RequestCounter | None = None,
        limits: RateLimitBook | None = None,
        user_agent: str = "prbot",
    ):
        self.api_url = api_url.rstrip("/")
        self.graphql_url = graphql_url or default_graphql_url(self.api_url)
        self._own_http = http is None
        self._http = http or httpx.AsyncClient(timeout=timeout)
        self._gh = _Backend(self._http, user_agent, base_url=self.api_url)
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self.counter = counter or RequestCounter("github")
        self.limits = limits or RateLimitBook()

    def __repr__(self) -> str:
        return f"GitHubClient(api_url={self.api_url!r})"

    def now(self) -> float:
        """The client's clock (wall time unless a test gave another)."""
        return self._clock()

    async def aclose(self) -> None:
        if self._own_http:
            await self._http.aclose()

    # -- the one request function ---------------------------------------------------

    async def request(
        self,
        method: str,
        route: str,
        params: Mapping[str, Any] | None = None,
        *,
        auth: Auth,
        query: Mapping[str, Any] | None = None,
        json: Any = NO_BODY,
        accept: str = ACCEPT,
        idempotent: bool | None = None,
        url: str | None = None,
    ) -> Response:
        """Send one logical request; ``route`` is the template (``/repos/{owner}/{repo}``).

        ``idempotent=False`` (the default for POST) means: after an answer-less failure
        that may have reached GitHub, don't repeat; raise ``GitHubUnavailable(sent=True)``
        so the caller can look the result up first.
        """
        method = method.upper()
        safe_to_repeat = idempotent if idempotent is not None else method != "POST"
        target = url or self._url(route, params or {}, query)
        what = f"{method} {route}"
        attempt = rate_waits = 0
        reauthorized = waited = False
        while True:
            attempt += 1
            cred = await auth.credential(self)
            if not waited:  # having just waited as told, don't wait again for the same reset
                await self._respect_known_limit(cred.bucket, what)
            waited = False
            started = self._clock()
            key = self.counter.add(method, route)
            box = _Exchange()
            reset = _EXCHANGE.set(box)
            try:
                data = await self._send(method, target, cred, json, accept)
            except httpx.TransportError as exc:
                self.counter.answered(key, "error")
                sent = not isinstance(exc, _NOT_SENT)
                failure = f"{what}: {type(exc).__name__} (attempt {attempt})"
                log.debug("%s", failure)
                if (sent and not safe_to_repeat) or attempt >= self.policy.max_attempts:
                    raise GitHubUnavailable(failure, sent=sent) from None
                await self.pause(attempt)
                continue
            except gidgethub.GitHubException as exc:
                status, headers = box.status, box.headers
                self._observe(cred, key, status, headers)
                detail = _detail(exc)
                log.debug("%s -> %d (%s)", what, status, detail)
                if status == 401 and not reauthorized:
                    # a revoked or expired token: mint a new one once, then give up
                    reauthorized = True
                    auth.invalidate()
                    continue
                wait = self._rate_limit_wait(status, headers, detail, rate_waits)
                if wait is not None:
                    rate_waits += 1
                    await self._wait_out(what, wait, rate_waits)
                    waited = True
                    continue
                if status >= 500:
                    failure = f"{what}: GitHub answered {status} (attempt {attempt})"
                    if not safe_to_repeat or attempt >= self.policy.max_attempts:
                        raise GitHubUnavailable(failure, sent=True, status=status) from None
                    await self.pause(attempt)
                    continue
                raise _status_error(what, status, detail, getattr(exc, "errors", None)) from None
            except ValueError:
                # gidgethub could not decode the answer (bad JSON, unknown status code)
                status = box.status
                self._observe(cred, key, status, box.headers)
                if attempt >= self.policy.max_attempts or not safe_to_repeat:
                    raise GitHubUnavailable(
                        f"{what}: unreadable answer (status {status})", sent=True, status=status
                    ) from None
                await self.pause(attempt)
                continue
            finally:
                _EXCHANGE.reset(reset)
            self._observe(cred, key, box.status, box.headers)
            log.debug(
                "%s -> %d in %.0f ms (remaining %s)",
                what,
                box.status,
                (self._clock() - started) * 1000,
                box.headers.get("x-ratelimit-remaining", "?"),
            )
            return Response(box.status, box.headers, data)

    def _observe(self, cred: Credential, key: str, status: int, headers: Mapping[str, str]) -> None:
        """An answer came: count its status, note its rate-limit headers."""
        self.counter.answered(key, status)
        snap = self.limits.observe(cred.bucket, headers, self._clock())
        if snap is not None and (snap.resource or "core") == "core":
            self.counter.rate_limit(cred.bucket, snap.remaining)

    async def _send(self, method: str, url: str, cred: Credential, json: Any, accept: str) -> Any:
        kw: dict[str, Any] = {"accept": accept}
        if cred.scheme == "bearer":
            kw["jwt"] = cred.value
        else:
            kw["oauth_token"] = cred.value
        body = b"" if json is NO_BODY else json
        gh = self._gh
        if method == "GET":
            return await gh.getitem(url, {}, **kw)
        if method == "POST":
            return await gh.post(url, {}, data=body, **kw)
        if method == "PATCH":
            return await gh.patch(url, {}, data=body, **kw)
        if method == "PUT":
            return await gh.put(url, {}, data=body, **kw)
        if method == "DELETE":
            return await gh.delete(url, {}, data=body, **kw)
        raise ValueError(f"unsupported method {method}")

    async def pause(self, attempt: int) -> None:
        """Sleep the policy's jittered backoff for retry number ``attempt`` (1-based)."""
        await self._sleep(self.policy.backoff(attempt, self._rng))

    # -- helpers built on request ---------------------------------------------------

    async def paginate(
        self,
        route: str,
        params: Mapping[str, Any] | None = None,
        *,
        auth: Auth,
        query: Mapping[str, Any] | None = None,
        key: str | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[Any]:
        """Items of a listed resource, following ``Link: rel="next"`` (100 per page)."""
        url: str | None = None
        q = {"per_page": 100, **(query or {})}
        seen = 0
        while True:
            answer = await self.request("GET", route, params, auth=auth, query=q, url=url)
            items = answer.data.get(key, []) if key else answer.data
            for item in items or []:
                yield item
                seen += 1
                if limit is not None and seen >= limit:
                    return
            url = answer.next_url()
            # never send our token to a host GitHub's Link header did not come from
            if not url or not url.startswith(self.api_url + "/"):
                return

    async def graphql(
        self, query: str, variables: Mapping[str, Any], *, auth: Auth
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """``(data, errors)`` of one GraphQL request; raises if there is no data at all."""
        waits = 0
        while True:
            answer = await self.request(
                "POST",
                GRAPHQL_ROUTE,
                auth=auth,
                json={"query": query, "variables": dict(variables)},
                url=self.graphql_url,
                idempotent=True,  # we only send queries
            )
            body = answer.data if isinstance(answer.data, dict) else {}
            errors = [e for e in body.get("errors") or [] if isinstance(e, dict)]
            if not any(e.get("type") == "RATE_LIMITED" for e in errors):
                break
            # GraphQL's spent budget is a 200 with a RATE_LIMITED error, not a 403
            wait = self._rate_limit_wait(429, answer.headers, "rate limit", waits)
            waits += 1
            await self._wait_out(f"POST {GRAPHQL_ROUTE}", wait or 0.0, waits)
        data = body.get("data")
        if not isinstance(data, dict):
            first = errors[0] if errors else {}
            message = str(first.get("message", "no data"))
            if first.get("type") == "NOT_FOUND":
                raise GitHubNotFound(f"POST {GRAPHQL_ROUTE}: {message}", status=200, detail=message)
            raise GitHubStatusError(f"POST {GRAPHQL_ROUTE}: {message}", status=200, detail=message)
        return data, errors

    # -- rate limits ----------------------------------------------------------------

    def _rate_limit_wait(
        self, status: int, headers: Mapping[str, str], detail: str, waits_so_far: int
    ) -> float | None:
        return rate_limit_wait(
            status,
            headers,
            detail,
            now=self._clock(),
            waits_so_far=waits_so_far,
            policy=self.policy,
        )

    async def _wait_out(self, what: str, wait: float, waits: int) -> None:
        """Sleep as GitHub told us to, unless that exceeds our bounds: then RateLimited."""
        if wait > self.policy.max_rate_wait or waits > self.policy.max_rate_waits:
            raise GitHubRateLimited(
                f"{what}: rate limited by GitHub; retry in {wait:.0f}s", reset_in=wait
            ) from None
        log.info("%s: rate limited, waiting %.1fs", what, wait)
        await self._sleep(wait)

    async def _respect_known_limit(self, bucket: str, what: str) -> None:
        """Don't spend a request we know will be refused: wait for the reset first."""
        if what.endswith(GRAPHQL_ROUTE):
            return  # GraphQL has its own budget; its 403s are handled after the fact
        snap = self.limits.get(bucket)
        if snap is None or snap.remaining != 0 or snap.reset is None:
            return
        wait = snap.reset - self._clock() + 1.0
        if wait <= 0:
            return
        if wait > self.policy.max_rate_wait:
            raise GitHubRateLimited(
                f"{what}: no requests left until the rate limit resets in {wait:.0f}s",
                reset_in=wait,
            )
        log.info("%s: rate limit spent, waiting %.1fs for the reset", what, wait)
        await self._sleep(wait)

    def _url(self, route: str, params: Mapping[str, Any], query: Mapping[str, Any] | None) -> str:
        path = expand(route, params)
        if query:
            pairs = {k: _qs(v) for k, v in query.items() if v is not None}
            path += "?" + urllib.parse.urlencode(pairs)
        return path


def _qs(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _detail(exc: BaseException) -> str:
    """GitHub's message from a gidgethub exception (args[1] when there is one)."""
    args = [a for a in exc.args if isinstance(a, str)]
    return args[0][:300] if args else ""


def _status_error(what: str, status: int, detail: str, errors: Any) -> ScmError:
    message = f"{what}: {status} {detail}".rstrip()
    errs = errors if isinstance(errors, list) else ()
    if status == 404:
        return GitHubNotFound(message, status=status, detail=detail)
    if status in (409, 422):
        return GitHubConflict(message, status=status, detail=detail, errors=errs)
    # what reaches here is not a rate limit (waited out before): a bad request, or a
    # credential without the right; the same request would fail the same way
    return GitHubStatusError(
        message, status=status, detail=detail, errors=errs, permanent=status in (400, 401, 403)
    )
