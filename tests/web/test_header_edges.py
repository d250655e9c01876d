"""Malformed and non-ASCII credentials are a 401 with nothing stored, never a 500: sent as
raw bytes over a socket, the way an attacker would (a client library would refuse them)."""

from __future__ import annotations

import asyncio

import pytest

from prbot.store.base import Store

from .conftest import MakeClient, fixture_named, github_headers, gitlab_headers

PR_OPENED = "github/pull_request.opened"
PUSH = "gitlab/push"

BAD_VALUES = [
    "sha256=ünïcödé".encode(),
    b"sha256=\xff\xfe\xfd",
    ("sha256=" + "é" * 64).encode(),
    b"\xc3\x28",  # invalid UTF-8
    b"sha256=" + b"a" * 5000,
]


async def raw_post(host: str, port: int, path: str, headers: dict[str, bytes], body: bytes):
    reader, writer = await asyncio.open_connection(host, port)
    lines = [f"POST {path} HTTP/1.1".encode(), f"Host: {host}:{port}".encode()]
    for name, value in headers.items():
        lines.append(name.encode() + b": " + value)
    lines.append(f"Content-Length: {len(body)}".encode())
    lines.append(b"Connection: close")
    writer.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    status_line = answer.split(b"\r\n", 1)[0]
    return int(status_line.split()[1]), answer


def as_bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


async def nothing_stored(store: Store) -> None:
    assert await store.deliveries() == []
    assert await store.jobs() == []


@pytest.mark.parametrize("bad", BAD_VALUES)
async def test_github_signature(bad: bytes, make_client: MakeClient, store: Store) -> None:
    client = await make_client()
    fx = fixture_named(PR_OPENED)
    headers = {k: as_bytes(v) for k, v in github_headers(fx.event, fx.body, "d-edge").items()}
    headers["X-Hub-Signature-256"] = bad
    status, answer = await raw_post(client.host, client.port, "/webhooks/github", headers, fx.body)
    assert status == 401, answer[:300]
    await nothing_stored(store)


@pytest.mark.parametrize("bad", BAD_VALUES)
async def test_gitlab_token(bad: bytes, make_client: MakeClient, store: Store) -> None:
    client = await make_client()
    fx = fixture_named(PUSH)
    headers = {k: as_bytes(v) for k, v in gitlab_headers(fx.event, "edge-key").items()}
    headers["X-Gitlab-Token"] = bad
    status, answer = await raw_post(client.host, client.port, "/webhooks/gitlab", headers, fx.body)
    assert status == 401, answer[:300]
    await nothing_stored(store)


@pytest.mark.parametrize("bad", BAD_VALUES)
async def test_api_bearer_token(bad: bytes, make_client: MakeClient) -> None:
    client = await make_client()
    headers = {"Authorization": b"Bearer " + bad, "Content-Type": b"application/json"}
    status, answer = await raw_post(client.host, client.port, "/api/runs", headers, b"{}")
    assert status == 401, answer[:300]
