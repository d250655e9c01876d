"""Webhook intake over real HTTP (127.0.0.1) into a real SQLite store: every captured
delivery, signatures and tokens, rotation, bad requests, size limits, deduplication."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from prbot.events import event_from_dict
from prbot.settings import Secret
from prbot.store import open_store
from prbot.store.base import Store

from .conftest import (
    GH_OLD_SECRET,
    GH_SECRET,
    GL_SECRET,
    Fixture,
    MakeClient,
    fixture_named,
    github_fixtures,
    github_headers,
    gitlab_fixtures,
    gitlab_headers,
    make_settings,
    sign,
)
from .test_normalize import EXPECTED

ALL = [*github_fixtures(), *gitlab_fixtures()]
PR_OPENED = "github/pull_request.opened"


def headers_for(fx: Fixture, delivery_id: str, **kw: Any) -> dict[str, str]:
    if fx.platform == "github":
        headers = github_headers(fx.event, fx.body, delivery_id, **kw)
        if fx.headers:  # the real captured headers, with our signature
            headers = {**{k.title(): v for k, v in fx.headers.items()}, **headers}
            headers.pop("Content-Length", None)
            headers.pop("Host", None)
            headers["X-GitHub-Delivery"] = delivery_id or fx.headers["x-github-delivery"]
        return headers
    return gitlab_headers(fx.event, delivery_id, **kw)


async def nothing_stored(store: Store) -> None:
    assert await store.deliveries() == []
    assert await store.jobs() == []


@pytest.mark.parametrize("fx", ALL, ids=lambda f: f"{f.platform}/{f.name}")
async def test_every_real_delivery(fx: Fixture, make_client: MakeClient, store: Store) -> None:
    client = await make_client()
    delivery_id = fx.headers.get("x-github-delivery") or f"id-{fx.name}"
    resp = await client.post(
        f"/webhooks/{fx.platform}", data=fx.body, headers=headers_for(fx, delivery_id)
    )
    expected = EXPECTED[f"{fx.platform}/{fx.name}"]
    answer = await resp.json()
    if expected:
        assert (resp.status, answer) == (202, {"status": "accepted", "events": len(expected)})
    else:
        assert (resp.status, answer) == (200, {"status": "ignored"})

    # every verified delivery is kept as received, even an ignored one
    [delivery] = await store.deliveries()
    assert (delivery.platform, delivery.delivery_id, delivery.event) == (
        fx.platform,
        delivery_id,
        fx.event,
    )
    assert delivery.payload == fx.body
    jobs = sorted(await store.jobs(), key=lambda j: j.id)
    assert [j.kind for j in jobs] == ["event"] * len(expected)
    # the delivery's UNIQUE id is the dedupe: its jobs need no key of their own
    assert [j.dedupe_key for j in jobs] == [None] * len(expected)
    assert [event_from_dict(j.payload) for j in jobs] == expected
    assert all(j.state == "queued" for j in jobs)


async def test_redelivery_is_deduplicated(make_client: MakeClient, store: Store) -> None:
    client = await make_client()
    fx = fixture_named(PR_OPENED)
    headers = headers_for(fx, "d-1")
    first = await client.post("/webhooks/github", data=fx.body, headers=headers)
    again = await client.post("/webhooks/github", data=fx.body, headers=headers)
    assert first.status == 202
    assert (again.status, await again.json()) == (200, {"status": "duplicate"})
    assert len(await store.deliveries()) == 1
    assert len(await store.jobs()) == 1


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "sha256=" + "0" * 64,
        "sha1=0123456789abcdef0123456789abcdef01234567",
        "md5=abc",
        sign("not-the-secret", b"x"),
    ],
)
async def test_bad_signature_is_401_and_nothing_stored(
    signature: str | None, make_client: MakeClient, store: Store
) -> None:
    client = await make_client()
    fx = fixture_named(PR_OPENED)
    headers = headers_for(fx, "d-bad")
    if signature is None:
        del headers["X-Hub-Signature-256"]
    else:
        headers["X-Hub-Signature-256"] = signature
    resp = await client.post("/webhooks/github", data=fx.body, headers=headers)
    assert resp.status == 401
    assert (await resp.json())["status"] == "rejected_signature"
    await nothing_stored(store)


async def test_sha1_signature_alone_is_not_enough(make_client: MakeClient, store: Store) -> None:
    import hashlib
    import hmac

    client = await make_client()
    fx = fixture_named(PR_OPENED)
    headers = headers_for(fx, "d-sha1")
    del headers["X-Hub-Signature-256"]
    headers["X-Hub-Signature"] = (
        "sha1=" + hmac.new(GH_SECRET.encode(), fx.body, hashlib.sha1).hexdigest()
    )
    resp = await client.post("/webhooks/github", data=fx.body, headers=headers)
    assert resp.status == 401
    await nothing_stored(store)


async def test_signature_over_another_body_is_rejected(
    make_client: MakeClient, store: Store
) -> None:
    client = await make_client()
    fx = fixture_named(PR_OPENED)
    headers = headers_for(fx, "d-tampered")
    tampered = fx.body.replace(b'"opened"', b'"closed"', 1)
    resp = await client.post("/webhooks/github", data=tampered, headers=headers)
    assert resp.status == 401
    await nothing_stored(store)


async def test_rotation_previous_secret_still_accepted(
    make_client: MakeClient, store: Store
) -> None:
    client = await make_client()
    fx = fixture_named(PR_OPENED)
    resp = await client.post(
        "/webhooks/github", data=fx.body, headers=headers_for(fx, "d-old", secret=GH_OLD_SECRET)
    )
    assert resp.status == 202
    assert len(await store.jobs()) == 1


@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "text/plain", "application/xml"]
)
async def test_wrong_content_type_is_400(
    content_type: str, make_client: MakeClient, store: Store
) -> None:
    client = await make_client()
    fx = fixture_named(PR_OPENED)
    # GitHub's form encoding, correctly signed: still refused, with a reason
    body = fx.body if content_type != "application/x-www-form-urlencoded" else b"payload=%7B%7D"
    headers = {**headers_for(fx, "d-ct"), "Content-Type": content_type}
    headers["X-Hub-Signature-256"] = sign(GH_SECRET, body)
    resp = await client.post("/webhooks/github", data=body, headers=headers)
    assert resp.status == 400
    assert "application/json" in (await resp.json())["reason"]
    gl = await client.post(
        "/webhooks/gitlab",
        data=fx.body,
        headers={**gitlab_headers("Push Hook", "k-ct"), "Content-Type": content_type},
    )
    assert gl.status == 400
    await nothing_stored(store)


@pytest.mark.parametrize("body", [b"{not json", b"", b"\xff\xfe{}", b"[1, 2]", b"null"])
async def test_malformed_json_is_400(body: bytes, make_client: MakeClient, store: Store) -> None:
    client = await make_client()
    gh = await client.post(
        "/webhooks/github", data=body, headers=github_headers("push", body, "d-json")
    )
    gl = await client.post("/webhooks/gitlab", data=body, headers=gitlab_headers("Push Hook", "k"))
    assert (gh.status, gl.status) == (400, 400)
    assert (await gh.json())["status"] == "bad_request"
    await nothing_stored(store)


@pytest.mark.parametrize(
    "body",
    [
        b'{"action": "x", "big": 123456789012345678901234567890}',
        b'{"n": NaN}',
        '{"a": 1}'.encode("utf-16"),
    ],
)
async def test_json_the_stdlib_reads_is_still_accepted(
    body: bytes, make_client: MakeClient, store: Store
) -> None:
    # orjson refuses these; the stdlib json (and so gidgethub) read them: still stored
    client = await make_client()
    gh = await client.post(
        "/webhooks/github", data=body, headers=github_headers("push", body, "d-x")
    )
    gl = await client.post(
        "/webhooks/gitlab", data=body, headers=gitlab_headers("Push Hook", "k-x")
    )
    assert (gh.status, gl.status) == (200, 200)
    assert len(await store.deliveries()) == 2


async def test_missing_event_header_is_400(make_client: MakeClient, store: Store) -> None:
    client = await make_client()
    fx = fixture_named(PR_OPENED)
    headers = headers_for(fx, "d-noevent")
    del headers["X-GitHub-Event"]
    resp = await client.post("/webhooks/github", data=fx.body, headers=headers)
    assert resp.status == 400
    await nothing_stored(store)


async def test_too_large_by_content_length(make_client: MakeClient, store: Store) -> None:
    client = await make_client(settings=make_settings(max_body_bytes=4096))
    body = json.dumps({"zen": "x" * 8000}).encode()
    resp = await client.post(
        "/webhooks/github", data=body, headers=github_headers("ping", body, "big")
    )
    assert resp.status == 413
    gl = await client.post(
        "/webhooks/gitlab", data=body, headers=gitlab_headers("Push Hook", "big")
    )
    assert gl.status == 413
    await nothing_stored(store)


async def test_too_large_chunked_body_is_capped(make_client: MakeClient, store: Store) -> None:
    client = await make_client(settings=make_settings(max_body_bytes=4096))
    body = json.dumps({"zen": "x" * 20000}).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(body), 1000):
            yield body[i : i + 1000]

    resp = await client.post(
        "/webhooks/github", data=chunks(), headers=github_headers("ping", body, "chunked")
    )
    assert resp.status == 413
    await nothing_stored(store)


async def test_body_at_the_limit_is_accepted(make_client: MakeClient, store: Store) -> None:
    fx = fixture_named(PR_OPENED)
    client = await make_client(settings=make_settings(max_body_bytes=len(fx.body)))
    resp = await client.post("/webhooks/github", data=fx.body, headers=headers_for(fx, "exact"))
    assert resp.status == 202


async def test_delivery_without_id_gets_a_content_hash(
    make_client: MakeClient, store: Store
) -> None:
    client = await make_client()
    fx = fixture_named(PR_OPENED)
    headers = headers_for(fx, "x")
    del headers["X-GitHub-Delivery"]
    first = await client.post("/webhooks/github", data=fx.body, headers=headers)
    again = await client.post("/webhooks/github", data=fx.body, headers=headers)
    assert (first.status, again.status) == (202, 200)
    [delivery] = await store.deliveries()
    assert delivery.delivery_id.startswith("sha256:") and len(delivery.delivery_id) == 71


# -- GitLab


async def test_gitlab_token(make_client: MakeClient, store: Store) -> None:
    client = await make_client()
    fx = fixture_named("gitlab/merge_request.open")
    wrong = await client.post(
        "/webhooks/gitlab", data=fx.body, headers=gitlab_headers(fx.event, "k1", token="nope")
    )
    headers = gitlab_headers(fx.event, "k1")
    del headers["X-Gitlab-Token"]
    missing = await client.post("/webhooks/gitlab", data=fx.body, headers=headers)
    prefix = await client.post(
        "/webhooks/gitlab",
        data=fx.body,
        headers=gitlab_headers(fx.event, "k1", token=GL_SECRET[:-1]),
    )
    assert (wrong.status, missing.status, prefix.status) == (401, 401, 401)
    await nothing_stored(store)
    ok = await client.post("/webhooks/gitlab", data=fx.body, headers=gitlab_headers(fx.event, "k1"))
    assert ok.status == 202


async def test_gitlab_rotation(make_client: MakeClient, store: Store) -> None:
    settings = make_settings(gitlab_webhook_secrets=(Secret("gl-new-token"), Secret(GL_SECRET)))
    client = await make_client(settings=settings)
    fx = fixture_named("gitlab/push.gitlab_com")
    for token, key in (("gl-new-token", "a"), (GL_SECRET, "b")):
        resp = await client.post(
            "/webhooks/gitlab", data=fx.body, headers=gitlab_headers(fx.event, key, token=token)
        )
        assert resp.status == 202


async def test_gitlab_dedupe_keys(make_client: MakeClient, store: Store) -> None:
    client = await make_client()
    fx = fixture_named("gitlab/note.merge_request")
    # a retry keeps Idempotency-Key while X-Gitlab-Event-UUID changes per attempt
    for uuid in ("u-1", "u-2"):
        headers = {**gitlab_headers(fx.event, "idem-1"), "X-Gitlab-Event-UUID": uuid}
        await client.post("/webhooks/gitlab", data=fx.body, headers=headers)
    # without Idempotency-Key, the event UUID is the key
    headers = {**gitlab_headers(fx.event, ""), "X-Gitlab-Event-UUID": "u-3"}
    del headers["Idempotency-Key"]
    await client.post("/webhooks/gitlab", data=fx.body, headers=headers)
    again = await client.post("/webhooks/gitlab", data=fx.body, headers=headers)
    assert (await again.json())["status"] == "duplicate"
    ids = sorted(d.delivery_id for d in await store.deliveries())
    assert ids == ["idem-1", "u-3"]
    # one job per stored delivery, none for the retry or the redelivery
    assert len(await store.jobs()) == 2


async def test_unknown_gitlab_event_is_stored_and_ignored(
    make_client: MakeClient, store: Store
) -> None:
    client = await make_client()
    body = b'{"object_kind": "build", "build_status": "success"}'
    resp = await client.post("/webhooks/gitlab", data=body, headers=gitlab_headers("Job Hook", "j"))
    assert (resp.status, await resp.json()) == (200, {"status": "ignored"})
    assert len(await store.deliveries()) == 1
    assert await store.jobs() == []


async def test_route_served_only_with_its_secret(make_client: MakeClient, store: Store) -> None:
    client = await make_client(settings=make_settings(gitlab_webhook_secrets=()))
    fx = fixture_named("gitlab/push.gitlab_com")
    resp = await client.post(
        "/webhooks/gitlab", data=fx.body, headers=gitlab_headers(fx.event, "k")
    )
    assert resp.status == 404
    await nothing_stored(store)


# -- failures of our own


async def test_store_failure_is_503_never_acknowledged(
    make_client: MakeClient, tmp_path: Path
) -> None:
    closed = open_store(f"sqlite:{tmp_path / 'never-opened.db'}")
    client = await make_client(app_store=closed)
    fx = fixture_named(PR_OPENED)
    resp = await client.post("/webhooks/github", data=fx.body, headers=headers_for(fx, "d-503"))
    assert (resp.status, await resp.json()) == (503, {"status": "unavailable"})


async def test_normalize_crash_is_stored_and_ignored(
    make_client: MakeClient, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import prbot.web.intake as intake

    def broken(event: str, payload: dict[str, Any]) -> list[Any]:
        raise KeyError("surprise")

    monkeypatch.setattr(intake, "github_events", broken)
    client = await make_client()
    fx = fixture_named(PR_OPENED)
    resp = await client.post("/webhooks/github", data=fx.body, headers=headers_for(fx, "d-crash"))
    assert (resp.status, await resp.json()) == (200, {"status": "ignored"})
    assert len(await store.deliveries()) == 1


async def test_one_log_line_per_delivery(
    make_client: MakeClient, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    client = await make_client()
    fx = fixture_named(PR_OPENED)
    with caplog.at_level(logging.INFO, logger="prbot.web.intake"):
        await client.post("/webhooks/github", data=fx.body, headers=headers_for(fx, "d-log"))
        bad = headers_for(fx, "d-log-bad", secret="wrong")
        await client.post("/webhooks/github", data=fx.body, headers=bad)
    records = [r for r in caplog.records if r.name == "prbot.web.intake"]
    assert len(records) == 2
    ok, refused = records
    assert (ok.delivery_id, ok.event, ok.action, ok.outcome, ok.events) == (  # type: ignore[attr-defined]
        "d-log",
        "pull_request",
        "opened",
        "accepted",
        1,
    )
    assert ok.latency_ms >= 0  # type: ignore[attr-defined]
    assert (refused.outcome, refused.status) == ("rejected_signature", 401)  # type: ignore[attr-defined]
    assert GH_SECRET not in caplog.text


async def test_answers_are_the_same_bytes(make_client: MakeClient, store: Store) -> None:
    """The prebuilt answers read exactly as json.dumps wrote them, with the same type."""
    client = await make_client()
    fx = fixture_named(PR_OPENED)
    ping = fixture_named("github/ping")
    answers = [
        await client.post("/webhooks/github", data=fx.body, headers=headers_for(fx, "b-1")),
        await client.post("/webhooks/github", data=fx.body, headers=headers_for(fx, "b-1")),
        await client.post("/webhooks/github", data=ping.body, headers=headers_for(ping, "b-2")),
    ]
    assert [(r.status, await r.text()) for r in answers] == [
        (202, json.dumps({"status": "accepted", "events": 1})),
        (200, json.dumps({"status": "duplicate"})),
        (200, json.dumps({"status": "ignored"})),
    ]
    assert {r.headers["Content-Type"] for r in answers} == {"application/json; charset=utf-8"}


async def test_sha1_hmac_in_the_sha256_header_is_refused(
    make_client: MakeClient, store: Store
) -> None:
    import hashlib
    import hmac

    client = await make_client()
    fx = fixture_named(PR_OPENED)
    headers = headers_for(fx, "d-sha1-in-256")
    headers["X-Hub-Signature-256"] = (
        "sha1=" + hmac.new(GH_SECRET.encode(), fx.body, hashlib.sha1).hexdigest()
    )
    resp = await client.post("/webhooks/github", data=fx.body, headers=headers)
    assert resp.status == 401
    await nothing_stored(store)


@pytest.mark.parametrize(
    ("delivery_id", "event", "safe"),
    [
        ("72d3162e-cc78-11e3-81ab-4c9367dc0958", "pull_request", {"delivery_id", "event"}),
        ("not-a-uuid", "pull_request", {"event"}),
        ("72d3162e-cc78-11e3-81ab-4c9367dc0958", "workflow_job", {"delivery_id"}),
        ("ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", "ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZ", set()),
        ("sha256:ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", "push", {"event"}),
        ("sha256:" + "ab" * 32, "push", {"delivery_id", "event"}),
    ],
)
async def test_log_line_marks_only_validated_fields_safe(
    delivery_id: str,
    event: str,
    safe: set[str],
    make_client: MakeClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from prbot.logs import SAFE, RedactingFilter

    client = await make_client()
    fx = fixture_named(PR_OPENED)
    caplog.handler.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO, logger="prbot.web.intake"):
        resp = await client.post(
            "/webhooks/github",
            data=fx.body,
            headers={**headers_for(fx, delivery_id), "X-GitHub-Event": event},
        )
    assert resp.status in (200, 202)
    [record] = [r for r in caplog.records if r.name == "prbot.web.intake"]
    assert getattr(record, SAFE) == {"platform", "outcome", *safe}
    if "ghp_" in delivery_id:  # scanned, so masked
        assert "ghp_" not in record.delivery_id  # type: ignore[attr-defined]
    if "ghp_" in event:
        assert record.event == "***"  # type: ignore[attr-defined]
