"""The GitLab provider's pure parts: routes, Change-Id, actions, archives, retries, shapes."""

from __future__ import annotations

import base64
import io
import subprocess
import tarfile
import time
from email.utils import formatdate

import pytest
import requests
from gitlab.exceptions import GitlabHttpError

from prbot.automation.changeset import ChangeSet, FileChange
from prbot.scm.counter import RequestCounter
from prbot.scm.gitlab import convert
from prbot.scm.gitlab.archive import (
    ArchiveCache,
    ArchiveFile,
    ArchiveLimits,
    ArchiveTooLarge,
    BoundedBuffer,
    blob_sha,
    extract,
)
from prbot.scm.gitlab.changes import actions, change_id, trailer_of, with_trailer
from prbot.scm.gitlab.counter import record, route_template
from prbot.scm.gitlab.errors import http_status, translate
from prbot.scm.gitlab.reads import common_folder as _common_folder
from prbot.scm.gitlab.transport import CountingSession, RetryPolicy, retry_after
from prbot.scm.port import Conflict, NotFound, RateLimited, ScmError, ScmUnavailable

API = "http://gl.example/api/v4"


@pytest.mark.parametrize(
    ("url", "template"),
    [
        (f"{API}/projects/acme%2Fgitops", "/projects/:id"),
        (f"{API}/projects/12/repository/commits/ab12?x=1", "/projects/:id/repository/commits/:sha"),
        (
            f"{API}/projects/12/repository/commits/ab12/statuses",
            "/projects/:id/repository/commits/:sha/statuses",
        ),
        (f"{API}/projects/12/statuses/ab12", "/projects/:id/statuses/:sha"),
        (
            f"{API}/projects/12/repository/branches/feat%2Fx",
            "/projects/:id/repository/branches/:branch",
        ),
        (
            f"{API}/projects/12/merge_requests/3/notes/9/award_emoji",
            "/projects/:id/merge_requests/:iid/notes/:note_id/award_emoji",
        ),
        (f"{API}/projects/12/members/all/7", "/projects/:id/members/all/:user_id"),
        (f"{API}/groups/acme%2Fplatform/members/all/7", "/groups/:id/members/all/:user_id"),
        (f"{API}/projects/12/repository/archive.tar.gz", "/projects/:id/repository/archive.tar.gz"),
        (f"{API}/users?username=alice", "/users"),
        (f"{API}/user", "/user"),
    ],
)
def test_route_template(url: str, template: str):
    assert route_template(url) == template


def test_counter_splits_reads_and_writes():
    c = RequestCounter("gitlab")
    record(c, "get", f"{API}/projects/1")
    record(c, "GET", f"{API}/projects/2")
    record(c, "POST", f"{API}/projects/1/merge_requests")
    assert c.counts == {"GET /projects/:id": 2, "POST /projects/:id/merge_requests": 1}
    assert (c.reads, c.writes, c.total) == (2, 1, 3)
    c.reset()
    assert c.total == 0


# -- Change-Id and actions -------------------------------------------------------------------


def cs(*changes: FileChange) -> ChangeSet:
    return ChangeSet(tuple(changes))


def test_change_id_ignores_order_but_not_content_mode_or_operation():
    a = FileChange("create", "a.yaml", b"a\n")
    b = FileChange("update", "b.yaml", b"b\n")
    base = change_id(cs(a, b))
    assert change_id(cs(b, a)) == base
    assert change_id(cs(a, FileChange("update", "b.yaml", b"B\n"))) != base
    assert change_id(cs(a, FileChange("update", "b.yaml", b"b\n", "100755"))) != base
    assert change_id(cs(a, FileChange("create", "b.yaml", b"b\n"))) != base
    # framing: moving bytes between path and content changes the id
    assert change_id(cs(FileChange("create", "ab", b"c"))) != change_id(
        cs(FileChange("create", "a", b"bc"))
    )


def test_trailer_round_trip():
    cid = change_id(cs(FileChange("delete", "x", None)))
    message = with_trailer("Title\n\nBody\n\n", cid)
    assert message.endswith(f"\n\nPrbot-Change-Id: {cid}\n")
    assert trailer_of(message) == cid
    assert trailer_of("no trailer here") is None
    assert trailer_of("Prbot-Change-Id: short") is None


def test_actions_text_binary_modes_and_deletes():
    out = actions(
        cs(
            FileChange("create", "a.yaml", b"a: 1\n"),
            FileChange("create", "run.sh", b"#!/bin/sh\n", "100755"),
            FileChange("create", "logo.png", b"\x89PNG\x00\xff"),
            FileChange("update", "same.yaml", b"s\n"),
            FileChange("update", "now-exec.sh", b"x\n", "100755"),
            FileChange("delete", "gone.yaml", None),
        ),
        {"same.yaml": "100644", "now-exec.sh": "100644"},
    )
    assert out == [
        {"action": "create", "file_path": "a.yaml", "content": "a: 1\n", "encoding": "text"},
        {"action": "create", "file_path": "run.sh", "content": "#!/bin/sh\n", "encoding": "text"},
        {"action": "chmod", "file_path": "run.sh", "execute_filemode": True},
        {
            "action": "create",
            "file_path": "logo.png",
            "content": base64.b64encode(b"\x89PNG\x00\xff").decode(),
            "encoding": "base64",
        },
        {"action": "update", "file_path": "same.yaml", "content": "s\n", "encoding": "text"},
        {"action": "update", "file_path": "now-exec.sh", "content": "x\n", "encoding": "text"},
        {"action": "chmod", "file_path": "now-exec.sh", "execute_filemode": True},
        {"action": "delete", "file_path": "gone.yaml"},
    ]


def test_actions_pin_the_mode_of_updates_when_the_base_is_unknown():
    out = actions(cs(FileChange("update", "a", b"a")))
    assert out[-1] == {"action": "chmod", "file_path": "a", "execute_filemode": False}


def test_actions_refuse_symlinks():
    with pytest.raises(ValueError, match="symlink"):
        actions(cs(FileChange("create", "link", b"target", "120000")))


# -- archives --------------------------------------------------------------------------------


def make_tar(entries: list[tuple[str, bytes | None, int, str | None]]) -> bytes:
    """(name, content or None for a folder, mode, symlink target) -> tar.gz bytes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, content, mode, link in entries:
            info = tarfile.TarInfo(name)
            info.mode = mode
            if link is not None:
                info.type = tarfile.SYMTYPE
                info.linkname = link
                tar.addfile(info)
            elif content is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


ARCHIVE = make_tar(
    [
        ("gitops-main-abc/", None, 0o755, None),
        ("gitops-main-abc/a.yaml", b"a: 1\n", 0o644, None),
        ("gitops-main-abc/bin/", None, 0o755, None),
        ("gitops-main-abc/bin/run.sh", b"#!/bin/sh\n", 0o755, None),
        ("gitops-main-abc/link", None, 0o777, "a.yaml"),
        ("gitops-main-abc/../evil", b"x", 0o644, None),
    ]
)


def test_extract_drops_top_folder_and_keeps_modes():
    files = extract(ARCHIVE, ArchiveLimits())
    assert set(files) == {"a.yaml", "bin/run.sh", "link"}
    assert files["a.yaml"] == ArchiveFile("100644", b"a: 1\n", blob_sha(b"a: 1\n"))
    assert files["bin/run.sh"].mode == "100755"
    assert (files["link"].mode, files["link"].content) == ("120000", b"a.yaml")


def test_extract_only_some_paths_and_relative_folder_archives():
    assert set(extract(ARCHIVE, ArchiveLimits(), only=["a.yaml", "nope"])) == {"a.yaml"}
    rel = make_tar([("top-x/values.yaml", b"v", 0o644, None)])
    assert set(extract(rel, ArchiveLimits(), folder="clusters/dev")) == {"clusters/dev/values.yaml"}
    full = make_tar([("top-x/clusters/dev/values.yaml", b"v", 0o644, None)])
    assert set(extract(full, ArchiveLimits(), folder="clusters/dev")) == {
        "clusters/dev/values.yaml"
    }


def test_extract_limits():
    with pytest.raises(ArchiveTooLarge):
        extract(ARCHIVE, ArchiveLimits(max_total=8))
    with pytest.raises(ArchiveTooLarge):
        extract(ARCHIVE, ArchiveLimits(max_files=2))
    with pytest.raises(ValueError, match="unreadable"):
        extract(b"not a tarball", ArchiveLimits())
    buf = BoundedBuffer(4)
    buf(b"abc")
    with pytest.raises(ArchiveTooLarge):
        buf(b"de")
    assert buf.getvalue() == b"abc"


def test_blob_sha_matches_git():
    data = b"hello\x00world\n"
    out = subprocess.run(
        ["git", "hash-object", "--stdin"], input=data, capture_output=True, check=True
    )
    assert blob_sha(data) == out.stdout.decode().strip()


def test_archive_cache_is_bounded():
    cache = ArchiveCache(max_entries=2, max_bytes=10)
    small = {"a": ArchiveFile("100644", b"1234", "x")}
    cache.put("r", "1", small)
    cache.put("r", "2", small)
    assert cache.get("r", "1") is small  # now most recent
    cache.put("r", "3", small)  # evicts "2", the least recently used
    assert cache.get("r", "2") is None and cache.get("r", "1") is small
    cache.put("r", "big", {"a": ArchiveFile("100644", b"x" * 11, "x")})
    assert cache.get("r", "big") is None


def test_common_folder():
    assert _common_folder(["a/b/c.yaml", "a/b/d/e.yaml"]) == "a/b"
    assert _common_folder(["a/x", "b/y"]) == ""
    assert _common_folder(["top.yaml", "a/b"]) == ""
    assert _common_folder(["a/b/c"]) == "a/b"


# -- retries ---------------------------------------------------------------------------------


def test_retry_after_forms():
    now = 1_700_000_000.0
    assert retry_after({"Retry-After": "7"}, now) == 7
    assert retry_after({"Retry-After": formatdate(now + 30, usegmt=True)}, now) == pytest.approx(30)
    assert retry_after({"RateLimit-Reset": str(int(now) + 12)}, now) == 12
    assert retry_after({}, now) is None
    assert retry_after({"Retry-After": "soon"}, now) is None


def test_backoff_is_jittered_and_bounded():
    policy = RetryPolicy(base_delay=0.5, max_delay=2.0)
    delays = [policy.backoff(attempt) for attempt in range(8) for _ in range(20)]
    assert all(0 <= d <= 2.0 for d in delays)
    assert len({round(d, 6) for d in delays}) > 10


def test_session_retry_decisions():
    s = CountingSession(RequestCounter(), RetryPolicy(max_retries=2, max_wait=10))
    assert s._retry_delay("GET", "r", 503, {}, 0) is not None
    assert s._retry_delay("PUT", "r", 502, {}, 1) is not None
    assert s._retry_delay("GET", "r", 503, {}, 2) is None  # retries spent
    assert s._retry_delay("POST", "r", 503, {}, 0) is None  # ambiguous: the provider decides
    assert s._retry_delay("GET", "r", 404, {}, 0) is None
    assert s._retry_delay("POST", "r", 429, {"Retry-After": "3"}, 0) == pytest.approx(3, abs=1)
    with pytest.raises(RateLimited) as caught:
        s._retry_delay("GET", "r", 429, {"Retry-After": "60"}, 0)
    assert caught.value.reset_in == 60


# -- errors ----------------------------------------------------------------------------------


def test_translate_maps_status_and_scrubs_secrets():
    secret = "glpat-abc123"
    exc = GitlabHttpError(f"token {secret} is bad", 404, b"")
    err = translate(exc, "get project", [secret])
    assert isinstance(err, NotFound) and secret not in str(err) and http_status(err) == 404
    assert isinstance(translate(GitlabHttpError("x", 409), "w", []), Conflict)
    assert isinstance(translate(GitlabHttpError("x", 502), "w", []), ScmUnavailable)
    assert type(translate(GitlabHttpError("x", 422), "w", [])) is ScmError
    assert isinstance(translate(requests.ConnectionError("boom"), "w", []), ScmUnavailable)
    assert isinstance(translate(requests.Timeout(), "w", []), ScmUnavailable)


# -- shapes ----------------------------------------------------------------------------------


def test_pull_request_from_merge_request():
    mr = {
        "iid": 4,
        "web_url": "http://gl/acme/gitops/-/merge_requests/4",
        "source_branch": "feat",
        "target_branch": "main",
        "title": "T",
        "description": None,
        "state": "merged",
        "sha": "a" * 40,
        "merge_commit_sha": "b" * 40,
        "labels": ["x", {"name": "y"}],
        "author": {"username": "prbot"},
    }
    pr = convert.pull_request("acme/gitops", mr)
    assert (pr.number, pr.state, pr.body, pr.labels, pr.author) == (
        4,
        "merged",
        "",
        ("x", "y"),
        "prbot",
    )
    assert pr.merge_commit_sha == "b" * 40
    for state, want in (("opened", "open"), ("closed", "closed"), ("locked", "closed")):
        assert convert.pull_request("r", {**mr, "state": state}).state == want


def test_health_signals():
    statuses = [
        {"id": 1, "name": "ci", "status": "running"},
        {"id": 3, "name": "lint", "status": "failed", "target_url": "http://ci/3"},
        {"id": 2, "name": "ci", "status": "success"},
    ]
    signals = convert.status_signals(statuses)
    assert [(s.name, s.state) for s in signals] == [
        ("lint", "failure"),
        ("ci", "success"),
        ("ci", "pending"),
    ]
    assert convert.pipeline_signal(
        [{"id": 1, "status": "success"}, {"id": 2, "status": "running"}]
    )[0].state == ("pending")
    assert convert.pipeline_signal([]) == []
    deployments = [
        {"id": 5, "sha": "s", "status": "failed", "environment": {"name": "dev"}},
        {"id": 6, "sha": "s", "status": "success", "environment": {"name": "dev"}},
        {"id": 7, "sha": "other", "status": "success", "environment": {"name": "prod"}},
        {"id": 4, "sha": "s", "status": "running", "environment": {"name": "staging"}},
    ]
    out = convert.deployment_signals(deployments, "s")
    assert [(s.name, s.state) for s in out] == [("dev", "success"), ("staging", "pending")]


def test_emoji_names_cover_every_reaction():
    from typing import get_args

    from prbot.scm.port import Reaction

    assert set(convert.EMOJI) == set(get_args(Reaction))


def test_counting_session_counts_attempts_of_a_dead_endpoint():
    s = CountingSession(
        RequestCounter(), RetryPolicy(max_retries=2, base_delay=0), sleep=lambda _: None
    )
    started = time.monotonic()
    with pytest.raises(requests.ConnectionError):
        s.get("http://127.0.0.1:9/api/v4/projects/1", timeout=1)
    assert s.counter.counts == {"GET /projects/:id": 3}
    assert time.monotonic() - started < 5


def test_implements_every_port_method_with_its_signature():
    import inspect

    from prbot.scm.gitlab import GitLabScm
    from prbot.scm.port import Scm

    methods = [n for n, v in vars(Scm).items() if inspect.iscoroutinefunction(v)]
    assert len(methods) == 19  # 14 + set_commit_status, close_pull_request, is_ancestor,
    # teams_of, writable_repositories
    for name in methods:
        want = inspect.signature(getattr(Scm, name))
        have = inspect.signature(getattr(GitLabScm, name))
        assert list(have.parameters.values()) == list(want.parameters.values()), name
    assert GitLabScm.platform == "gitlab"
