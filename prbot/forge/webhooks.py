"""Webhook deliveries, sent the way GitHub and GitLab send them.

``Forge`` calls ``dispatch(event)`` on every state change; each subscribed hook gets the
event rendered for its platform (ghpayloads / glpayloads) and POSTed from a background
worker, one worker per hook so a receiver sees a hook's events in the order they
happened. Every attempt is recorded (status code, error, duration) and can be
redelivered by id: GitHub keeps ``X-GitHub-Delivery`` on redelivery, GitLab keeps
``Idempotency-Key``. Secrets are used to sign or sent as the token; never recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp

from prbot.forge import ghpayloads, glpayloads
from prbot.forge.events import ForgeEvent
from prbot.forge.models import Hook

if TYPE_CHECKING:
    from prbot.forge.state import Forge

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 10.0  # GitHub gives up after 10 s; GitLab's default is similar
MAX_RECORDED = 2000
GITHUB_USER_AGENT = "GitHub-Hookshot/forge"
GITLAB_USER_AGENT = "GitLab/17.5.0"


@dataclass
class Delivery:
    id: int
    guid: str  # X-GitHub-Delivery / Idempotency-Key: the same across redeliveries
    hook_id: int
    platform: str
    event: str  # X-GitHub-Event / X-Gitlab-Event
    action: str | None
    repo: str | None
    url: str
    body: bytes = field(repr=False)
    redelivery: bool = False
    status_code: int | None = None
    error: str | None = None
    duration_ms: float | None = None
    delivered_at: float | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "guid": self.guid,
            "hook_id": self.hook_id,
            "platform": self.platform,
            "event": self.event,
            "action": self.action,
            "repository": self.repo,
            "url": self.url,
            "redelivery": self.redelivery,
            "status_code": self.status_code,
            "error": self.error,
            "duration_ms": self.duration_ms,
            "delivered_at": self.delivered_at,
        }

    def payload(self) -> Any:
        return json.loads(self.body)


def github_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _wants(hook: Hook, name: str, platform_events: dict[str, str] | None = None) -> bool:
    if not hook.events or "*" in hook.events:
        return True
    if name in hook.events:
        return True
    if platform_events:
        return any(platform_events.get(e) == name for e in hook.events)
    return False


class WebhookDispatcher:
    def __init__(self, forge: Forge):
        self.forge = forge
        self._queues: dict[int, asyncio.Queue[tuple[ForgeEvent | Delivery, bool]]] = {}
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._deliveries: deque[Delivery] = deque(maxlen=MAX_RECORDED)
        self._by_id: dict[int, Delivery] = {}
        self._next = 0
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending = 0  # queued or in-flight deliveries, across hooks
        self._idle: asyncio.Event | None = None

    # --- intake ---------------------------------------------------------------------------

    def dispatch(self, event: ForgeEvent) -> None:
        """Queue ``event`` for every hook that may want it (filtered again once rendered)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop: state changed outside a server (e.g. a sync script)
        hooks = [h for h in self.forge.hooks(event.repo) if h.active and self._reaches(h, event)]
        if not hooks:
            return
        # the payload shows the objects as they were when the change happened
        frozen = ForgeEvent(event.name, event.repo, event.actor, copy.deepcopy(event.data))
        for hook in hooks:
            queue = self._queue(loop, hook.id)
            self._pending += 1
            assert self._idle is not None
            self._idle.clear()
            queue.put_nowait((frozen, False))

    def _reaches(self, hook: Hook, event: ForgeEvent) -> bool:
        if event.repo is None and hook.repo is not None:
            return False
        if hook.app_id is None:
            return True
        # an app's hook hears only about its own installations and their repositories
        if event.repo is None:
            inst = event.data.get("installation")
            return inst is not None and inst.app_id == hook.app_id
        return self.forge.installation_for_repo(event.repo, hook.app_id) is not None

    def _queue(self, loop: asyncio.AbstractEventLoop, hook_id: int) -> asyncio.Queue:
        if self._loop is not loop:
            # a new event loop (a restarted server, another test): start afresh
            self._queues.clear()
            self._workers.clear()
            self._session = None
            self._loop = loop
            self._pending = 0
            self._idle = asyncio.Event()
            self._idle.set()
        if hook_id not in self._queues:
            self._queues[hook_id] = asyncio.Queue()
            self._workers[hook_id] = loop.create_task(self._work(hook_id))
        return self._queues[hook_id]

    async def _work(self, hook_id: int) -> None:
        queue = self._queues[hook_id]
        while True:
            item, _ = await queue.get()
            try:
                if isinstance(item, Delivery):
                    await self._send(item)
                else:
                    delivery = await self._render(hook_id, item)
                    if delivery is not None:
                        await self._send(delivery)
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug in rendering must not kill the hook's worker
                log.exception("webhook delivery failed for hook %s", hook_id)
            finally:
                queue.task_done()
                self._pending -= 1
                if self._pending == 0 and self._idle is not None:
                    self._idle.set()

    async def _render(self, hook_id: int, event: ForgeEvent) -> Delivery | None:
        hook = self.forge._hooks.get(hook_id)
        if hook is None or not hook.active:
            return None
        if hook.platform == "github":
            rendered = await ghpayloads.render(self.forge, event, hook)
            filters = None
        else:
            rendered = await glpayloads.render(self.forge, event)
            filters = glpayloads.SETTING_NAMES
        if rendered is None:
            return None
        name, payload = rendered
        if not _wants(hook, name, filters):
            return None
        self._next += 1
        body = json.dumps(payload, separators=(",", ":")).encode()
        action = payload.get("action")
        if hook.platform == "gitlab":
            action = (payload.get("object_attributes") or {}).get("action") or payload.get("status")
        delivery = Delivery(
            id=self._next,
            guid=str(uuid.uuid4()),
            hook_id=hook.id,
            platform=hook.platform,
            event=name,
            action=action if isinstance(action, str) else None,
            repo=event.repo,
            url=hook.url,
            body=body,
        )
        self._record(delivery)
        return delivery

    def _record(self, d: Delivery) -> None:
        if len(self._deliveries) == self._deliveries.maxlen:
            self._by_id.pop(self._deliveries[0].id, None)
        self._deliveries.append(d)
        self._by_id[d.id] = d

    # --- sending ----------------------------------------------------------------------------

    def _headers(self, hook: Hook, d: Delivery) -> dict[str, str]:
        if d.platform == "github":
            headers = {
                "Content-Type": "application/json",
                "User-Agent": GITHUB_USER_AGENT,
                "X-GitHub-Event": d.event,
                "X-GitHub-Delivery": d.guid,
                "X-GitHub-Hook-ID": str(hook.id),
                "X-GitHub-Hook-Installation-Target-Type": "integration"
                if hook.app_id
                else "repository",
                "X-GitHub-Hook-Installation-Target-ID": str(hook.app_id or 0),
            }
            if hook.secret:
                headers["X-Hub-Signature-256"] = github_signature(hook.secret, d.body)
                sha1 = hmac.new(hook.secret.encode(), d.body, hashlib.sha1).hexdigest()
                headers["X-Hub-Signature"] = f"sha1={sha1}"
            return headers
        headers = {
            "Content-Type": "application/json",
            "User-Agent": GITLAB_USER_AGENT,
            "X-Gitlab-Event": d.event,
            "X-Gitlab-Instance": self.forge.base_url,
            "X-Gitlab-Webhook-UUID": str(uuid.UUID(int=hook.id)),
            "X-Gitlab-Event-UUID": str(uuid.uuid4()),  # new per attempt
            "Idempotency-Key": d.guid,  # the same across retries and redeliveries
        }
        if hook.secret:
            headers["X-Gitlab-Token"] = hook.secret
        return headers

    async def _send(self, d: Delivery) -> None:
        hook = self.forge._hooks.get(d.hook_id)
        if hook is None:
            d.error = "hook removed"
            return
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
            )
        started = time.monotonic()
        try:
            async with self._session.post(
                hook.url, data=d.body, headers=self._headers(hook, d), allow_redirects=False
            ) as resp:
                await resp.read()
                d.status_code = resp.status
                d.error = None if resp.status < 400 else f"HTTP {resp.status}"
        except TimeoutError:
            d.error = f"timed out after {TIMEOUT_SECONDS:.0f} s"
        except aiohttp.ClientError as exc:
            d.error = f"{type(exc).__name__}: {exc}"
        d.duration_ms = round((time.monotonic() - started) * 1000, 1)
        d.delivered_at = time.time()

    # --- inspection and control ---------------------------------------------------------------

    def deliveries(self, hook_id: int | None = None) -> list[Delivery]:
        """Recorded deliveries, oldest first."""
        return [d for d in self._deliveries if hook_id is None or d.hook_id == hook_id]

    def delivery(self, delivery_id: int) -> Delivery:
        from prbot.forge.errors import NotFound

        try:
            return self._by_id[int(delivery_id)]
        except (KeyError, ValueError):
            raise NotFound("delivery not found") from None

    async def redeliver(self, delivery_id: int) -> Delivery:
        """Send a recorded delivery again (same body and delivery guid) and wait for it."""
        old = self.delivery(delivery_id)
        self._next += 1
        new = Delivery(
            id=self._next,
            guid=old.guid,
            hook_id=old.hook_id,
            platform=old.platform,
            event=old.event,
            action=old.action,
            repo=old.repo,
            url=old.url,
            body=old.body,
            redelivery=True,
        )
        self._record(new)
        await self._send(new)
        return new

    async def drain(self, timeout: float = 15.0) -> None:
        """Wait until every queued delivery has been attempted (tests, admin)."""
        if self._loop is not asyncio.get_running_loop() or self._idle is None:
            return
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            raise TimeoutError(f"{self._pending} webhook deliveries still pending") from None

    async def aclose(self, timeout: float = 5.0) -> None:
        with contextlib.suppress(TimeoutError, RuntimeError):
            await self.drain(timeout)
        for task in self._workers.values():
            task.cancel()
        for task in self._workers.values():
            with contextlib.suppress(asyncio.CancelledError, RuntimeError):
                await task
        self._workers.clear()
        self._queues.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None
