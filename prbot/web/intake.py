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
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from aiohttp import web
from gidgethub import BadRequest, ValidationFailure
from gidgethub.sansio import Event as GitHubEvent

from prbot import metrics
from prbot.config import Settings
from prbot.events import Event
from prbot.store.base import Delivery, NewJob, Store
from prbot.web.normalize import github_events, gitlab_events

log = logging.getLogger("prbot.web.intake")

JSON_TYPE = "application/json"
MAX_LABEL = 48  # event names are used as metric labels and log fields: keep them short


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
                dedupe_key=f"{platform}:{delivery_id}:{i}",
                max_attempts=self.max_attempts,
            )
            for i, e in enumerate(events)
        ]
        delivery = Delivery(platform, delivery_id, event_name, self.clock(), body)
        try:
            stored = await self.store.record_delivery(delivery, events, jobs)
        except Exception:
            outcome, status, answer = "unavailable", 503, {"status": "unavailable"}
            log.exception(
                "delivery not stored",
                extra={"platform": platform, "delivery_id": delivery_id, "event": event_name},
            )
        else:
            if not stored:
                outcome, status, answer = "duplicate", 200, {"status": "duplicate"}
            elif events:
                outcome, status = "accepted", 202
                answer = {"status": "accepted", "events": len(events)}
            else:
                outcome, status, answer = "ignored", 200, {"status": "ignored"}
        metrics.delivery(platform, event_name, outcome)
        log.info(
            "delivery %s",
            outcome,
            extra={
                "platform": platform,
                "delivery_id": delivery_id,
                "event": event_name,
                "action": action,
                "outcome": outcome,
                "events": len(events),
                "status": status,
                "latency_ms": round((time.perf_counter() - started) * 1000, 2),
            },
        )
        return _reply(status, answer)

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
        # only what gidgethub reads, with lowercase keys as it expects; the id and event
        # are checked after verification so that unsigned junk always gets 401
        delivery_id = headers.get("X-GitHub-Delivery", "")
        event_name = headers.get("X-GitHub-Event", "")
        minimal = {
            "x-hub-signature-256": signature,
            "content-type": headers.get("Content-Type", ""),
            "x-github-event": event_name,
            "x-github-delivery": delivery_id,
        }
        gh_event: GitHubEvent | None = None
        for secret in self.github_secrets:
            try:
                # verifies the signature first, then parses the body (once: a wrong
                # secret fails before parsing)
                gh_event = GitHubEvent.from_http(minimal, body, secret=secret)
            except ValidationFailure:
                continue
            except (BadRequest, UnicodeDecodeError):
                return self._bad_request("github", request, started, delivery_id)
            break
        if gh_event is None:
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
        if not isinstance(gh_event.data, dict):
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
        payload = gh_event.data
        events = self._normalize(github_events, "github", event_name, payload, delivery_id)
        action = payload.get("action")
        return await self._record(
            "github",
            delivery_id,
            event_name,
            action if isinstance(action, str) else "",
            body,
            events,
            started,
        )

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
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return self._bad_request("gitlab", request, started, delivery_id)
        if not isinstance(payload, dict):
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
        action = action.get("action") if isinstance(action, dict) else None
        return await self._record(
            "gitlab",
            delivery_id,
            event_name,
            action if isinstance(action, str) else "",
            body,
            events,
            started,
        )
