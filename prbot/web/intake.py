"""Webhook intake: POST /webhooks/github and POST /webhooks/gitlab.

verify -> parse once -> normalize -> ``store.record_delivery`` (one transaction: the
delivery, its events and one job per event) -> answer. Nothing is stored before the
signature is verified, and a delivery is acknowledged only once it is stored.

Answers:
- 202 ``{"status": "accepted", "events": n}``: stored, n jobs enqueued;
- 200 ``{"status": "ignored"}``: verified and stored (audit trail, dedupe) but prbot does
  not act on it. Never 4xx for a valid, signed event: GitLab disables a hook for good
  after repeated 4xx;
- 200 ``{"status": "duplicate"}``: this delivery id was stored already (redelivery);
- 401: missing or wrong signature/token; 400: not JSON, malformed JSON, no event
  header; 413: body over PRBOT_MAX_BODY_BYTES; 503: the store failed (the platform
  shows a failed delivery, which can be redelivered by hand; the reconciler catches up).

Dedupe key: X-GitHub-Delivery (kept on redelivery); GitLab's Idempotency-Key (kept on
retries), else X-Gitlab-Event-UUID; else a hash of the body.

The hot path is kept lean (it bounds deliveries per second): the GitHub signature is
checked with gidgethub's ``validate_event`` on the raw body, the body is parsed once
(``payload.py``: a lazy document, only what normalizing reads becomes Python), the event
name and delivery id come straight from the headers, each event is turned into a dict
once, answers are prebuilt bytes, and the one log line per delivery goes through
``prbot.logs.info_line`` (no LogRecord) and marks the fields redaction need not scan.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

from aiohttp import web
from gidgethub import ValidationFailure
from gidgethub.sansio import validate_event

from prbot import metrics
from prbot.events import Event
from prbot.logs import SAFE, info_line
from prbot.settings import Settings
from prbot.store.base import Delivery, NewJob, Store
from prbot.web.normalize import GITHUB, GITLAB, github_events, gitlab_events
from prbot.web.payload import MALFORMED, OBJECT, parse

log = logging.getLogger("prbot.web.intake")

JSON_TYPE = "application/json"
MAX_LABEL = 48  # event names are used as metric labels and log fields: keep them short
SHA256_PREFIX = "sha256="  # X-Hub-Signature-256 only: gidgethub would also take "sha1="

# Log fields the redaction filter may skip (see prbot.logs.SAFE): the platform and the
# outcome are our own literals; an event name only when prbot knows it; a delivery id only
# when it is a UUID (GitHub's and GitLab's form: hex and dashes match no credential
# pattern) or our own body hash. Anything else a sender chose is scanned as before.
_SAFE_ALWAYS = frozenset({"platform", "outcome"})
_SAFE_WITH_EVENT = _SAFE_ALWAYS | {"event"}
_SAFE_WITH_ID = _SAFE_ALWAYS | {"delivery_id"}
_SAFE_WITH_BOTH = _SAFE_WITH_EVENT | _SAFE_WITH_ID
KNOWN_EVENTS = frozenset({*GITHUB, *GITLAB, "System Hook", "ping"})
_PLAIN_ID = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}|sha256:[0-9a-f]{64}")


def _safe_fields(event_name: str, delivery_id: str) -> frozenset[str]:
    known_id = _PLAIN_ID.fullmatch(delivery_id) is not None
    if event_name in KNOWN_EVENTS:
        return _SAFE_WITH_BOTH if known_id else _SAFE_WITH_EVENT
    return _SAFE_WITH_ID if known_id else _SAFE_ALWAYS


_MESSAGES = {o: f"delivery {o}" for o in ("accepted", "duplicate", "ignored", "unavailable")}

# the answers of a stored delivery, as json.dumps wrote them, encoded once
_DUPLICATE = b'{"status": "duplicate"}'
_IGNORED = b'{"status": "ignored"}'
_UNAVAILABLE = b'{"status": "unavailable"}'


def _accepted(events: int) -> bytes:
    return b'{"status": "accepted", "events": %d}' % events


def _answer(status: int, body: bytes) -> web.Response:
    return web.Response(body=body, status=status, content_type=JSON_TYPE, charset="utf-8")


def _reply(status: int, body: dict[str, Any]) -> web.Response:
    return web.json_response(body, status=status)


def _content_hash(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


class Intake:
    """The two webhook handlers, sharing the store, limits and secrets (revealed once
    here, so the hot path does no per-request setup)."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.max_body = settings.max_body_bytes
        self.max_attempts = settings.max_attempts
        self.clock = clock
        self.github_secrets = tuple(s.reveal() for s in settings.webhook_secrets)
        self.gitlab_secrets = tuple(s.reveal().encode() for s in settings.gitlab_webhook_secrets)

    def add_routes(self, app: web.Application) -> None:
        if self.github_secrets:
            app.router.add_post("/webhooks/github", self.github)
        if self.gitlab_secrets:
            app.router.add_post("/webhooks/gitlab", self.gitlab)

    # -- shared steps

    async def _read_body(self, request: web.Request) -> bytes | None:
        """The body, or None when it is over the limit (checked on Content-Length before
        reading, and again while reading a chunked body)."""
        length = request.content_length
        if length is not None and length > self.max_body:
            return None
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return None
        return body if len(body) <= self.max_body else None

    def _refuse(
        self, platform: str, outcome: str, status: int, reason: str, started: float, **fields: Any
    ) -> web.Response:
        metrics.delivery(platform, "unknown", outcome)
        log.warning(
            "delivery refused: %s",
            reason,
            extra={
                "platform": platform,
                "outcome": outcome,
                "status": status,
                "latency_ms": round((time.perf_counter() - started) * 1000, 2),
                **fields,
                SAFE: _SAFE_ALWAYS,  # the delivery id of a refused delivery is scanned
            },
        )
        return _reply(status, {"status": outcome, "reason": reason})

    async def _record(
        self,
        platform: str,
        delivery_id: str,
        event_name: str,
        action: str,
        body: bytes,
        events: Sequence[Event],
        started: float,
    ) -> web.Response:
        jobs = [
            NewJob(
                kind="event",
                payload=e.to_dict(),
                # no job dedupe key: the delivery's own UNIQUE (platform, id) already
                # keeps a redelivery from adding jobs, and a keyed insert costs an index
                dedupe_key=None,
                max_attempts=self.max_attempts,
            )
            for e in events
        ]
        delivery = Delivery(platform, delivery_id, event_name, self.clock(), body)
        try:
            stored = await self.store.record_delivery(delivery, events, jobs)
        except Exception:
            outcome, status, answer = "unavailable", 503, _UNAVAILABLE
            log.exception(
                "delivery not stored",
                extra={"platform": platform, "delivery_id": delivery_id, "event": event_name},
            )
        else:
            if not stored:
                outcome, status, answer = "duplicate", 200, _DUPLICATE
            elif events:
                outcome, status, answer = "accepted", 202, _accepted(len(events))
            else:
                outcome, status, answer = "ignored", 200, _IGNORED
        metrics.delivery(platform, event_name, outcome)
        info_line(
            log,
            _MESSAGES[outcome],
            {
                "platform": platform,
                "delivery_id": delivery_id,
                "event": event_name,
                "action": action,
                "outcome": outcome,
                "events": len(events),
                "status": status,
                "latency_ms": round((time.perf_counter() - started) * 1000, 2),
            },
            _safe_fields(event_name, delivery_id),
        )
        return _answer(status, answer)

    def _normalize(
        self,
        normalize: Callable[[str, dict[str, Any]], list[Event]],
        platform: str,
        event_name: str,
        payload: dict[str, Any],
        delivery_id: str,
    ) -> list[Event]:
        try:
            return normalize(event_name, payload)
        except Exception:
            # a signed delivery we cannot read is stored and ignored, never refused:
            # refusing would make the platform disable the hook
            log.exception(
                "cannot normalize delivery; stored and ignored",
                extra={"platform": platform, "delivery_id": delivery_id, "event": event_name},
            )
            return []

    # -- GitHub

    async def github(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        headers = request.headers
        body = await self._read_body(request)
        if body is None:
            return self._refuse("github", "too_large", 413, "body too large", started)
        signature = headers.get("X-Hub-Signature-256", "")
        if not signature:
            # X-Hub-Signature (SHA-1) alone is not accepted
            return self._refuse(
                "github", "rejected_signature", 401, "missing X-Hub-Signature-256", started
            )
        # the id and event are checked after verification, so that unsigned junk always
        # gets 401
        delivery_id = headers.get("X-GitHub-Delivery", "")
        event_name = headers.get("X-GitHub-Event", "")
        if not self._github_signature_ok(body, signature):
            return self._refuse(
                "github",
                "rejected_signature",
                401,
                "signature does not match",
                started,
                delivery_id=delivery_id[:100],
            )
        if request.content_type != JSON_TYPE:
            return self._bad_request("github", request, started, delivery_id)
        # gidgethub read an empty body as no data: refused below as not a JSON object
        payload = parse(body) if body else None
        if payload is MALFORMED:
            return self._bad_request("github", request, started, delivery_id)
        if not isinstance(payload, OBJECT):
            return self._refuse(
                "github",
                "bad_request",
                400,
                "body must be a JSON object",
                started,
                delivery_id=delivery_id[:100],
            )
        if not event_name:
            return self._refuse(
                "github",
                "bad_request",
                400,
                "missing X-GitHub-Event",
                started,
                delivery_id=delivery_id[:100],
            )
        event_name = event_name[:MAX_LABEL]
        delivery_id = delivery_id or _content_hash(body)
        events = self._normalize(github_events, "github", event_name, payload, delivery_id)
        action = payload.get("action")
        action = action if isinstance(action, str) else ""
        del payload  # the parser's document must not outlive this step (payload.py)
        return await self._record("github", delivery_id, event_name, action, body, events, started)

    def _github_signature_ok(self, body: bytes, signature: str) -> bool:
        """gidgethub's check of X-Hub-Signature-256 over the raw body, with each configured
        secret in turn (rotation); never without a secret."""
        # a non-ASCII or malformed header is a wrong signature, not a server error
        # (hmac.compare_digest refuses non-ASCII text)
        if not (signature.isascii() and signature.startswith(SHA256_PREFIX)):
            return False
        for secret in self.github_secrets:
            try:
                validate_event(body, signature=signature, secret=secret)
            except ValidationFailure:
                continue
            return True
        return False

    def _bad_request(
        self, platform: str, request: web.Request, started: float, delivery_id: str
    ) -> web.Response:
        if request.content_type != JSON_TYPE:
            reason = f"content type must be {JSON_TYPE}, got {request.content_type[:60]!r}"
        else:
            reason = "malformed JSON"
        return self._refuse(
            platform, "bad_request", 400, reason, started, delivery_id=delivery_id[:100]
        )

    # -- GitLab

    def _gitlab_token_ok(self, token: str) -> bool:
        if not token.isascii():  # never a configured secret; and may not even encode
            return False
        given = token.encode()
        ok = False
        for secret in self.gitlab_secrets:
            # no early exit: every configured secret is compared, in constant time each
            ok |= hmac.compare_digest(given, secret)
        return ok

    async def gitlab(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        headers = request.headers
        body = await self._read_body(request)
        if body is None:
            return self._refuse("gitlab", "too_large", 413, "body too large", started)
        delivery_id = headers.get("Idempotency-Key") or headers.get("X-Gitlab-Event-UUID") or ""
        token = headers.get("X-Gitlab-Token", "")
        if not token or not self._gitlab_token_ok(token):
            reason = "missing X-Gitlab-Token" if not token else "X-Gitlab-Token does not match"
            return self._refuse(
                "gitlab",
                "rejected_signature",
                401,
                reason,
                started,
                delivery_id=delivery_id[:100],
            )
        if request.content_type != JSON_TYPE:
            return self._bad_request("gitlab", request, started, delivery_id)
        payload = parse(body)
        if payload is MALFORMED:
            return self._bad_request("gitlab", request, started, delivery_id)
        if not isinstance(payload, OBJECT):
            return self._refuse(
                "gitlab",
                "bad_request",
                400,
                "body must be a JSON object",
                started,
                delivery_id=delivery_id[:100],
            )
        event_name = headers.get("X-Gitlab-Event", "")[:MAX_LABEL]
        if not event_name:
            return self._refuse(
                "gitlab",
                "bad_request",
                400,
                "missing X-Gitlab-Event",
                started,
                delivery_id=delivery_id[:100],
            )
        delivery_id = delivery_id or _content_hash(body)
        events = self._normalize(gitlab_events, "gitlab", event_name, payload, delivery_id)
        action = payload.get("object_attributes", {})
        action = action.get("action") if isinstance(action, OBJECT) else None
        action = action if isinstance(action, str) else ""
        del payload  # the parser's document must not outlive this step (payload.py)
        return await self._record("gitlab", delivery_id, event_name, action, body, events, started)
