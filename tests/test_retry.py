"""The one backoff policy and Retry-After parser (prbot/retry.py)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prbot.retry import Backoff, parse_retry_after, retrying
from prbot.scm.port import NotFound, ScmUnavailable


@given(
    base=st.floats(0, 100),
    cap=st.floats(0, 1000),
    attempt=st.integers(1, 200),
    seed=st.integers(0, 2**32),
)
def test_full_jitter_stays_within_its_ceiling(base, cap, attempt, seed) -> None:
    policy = Backoff(base, cap)
    delay = policy.delay(attempt, random.Random(seed))
    assert 0 <= delay <= min(cap, base * 2 ** (attempt - 1)) + 1e-9
    assert policy.ceiling(attempt) <= cap


def test_ceiling_doubles_then_stops() -> None:
    policy = Backoff(base=0.5, cap=3.0)
    assert [policy.ceiling(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("", None), ("  ", None), ("120", 120.0), ("1.5", 1.5), ("-4", 0.0),
     ("soon", None), ("inf", None), ("nan", None), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)],
)  # fmt: skip
def test_retry_after_values(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=2_000_000_000.0) == expected


@given(st.text(max_size=40))
def test_retry_after_never_raises_nor_goes_negative(value: str) -> None:
    wait = parse_retry_after(value, now=1_700_000_000.0)
    assert wait is None or 0 <= wait < float("inf")


def test_retry_after_http_date() -> None:
    when = datetime(2030, 1, 1, 0, 0, 30, tzinfo=UTC)
    now = datetime(2030, 1, 1, tzinfo=UTC).timestamp()
    assert parse_retry_after(format_datetime(when, usegmt=True), now=now) == 30.0


class Flaky:
    def __init__(self, failures: list[BaseException]) -> None:
        self.failures = failures
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "ok"


async def no_sleep(seconds: float) -> None:
    waits.append(seconds)


waits: list[float] = []


def transient(exc: BaseException) -> bool:
    return isinstance(exc, ScmUnavailable)


async def test_retrying_a_transient_error() -> None:
    call = Flaky([ScmUnavailable("a"), ScmUnavailable("b")])
    waits.clear()
    result = await retrying(
        call, attempts=3, backoff=Backoff(1, 1), transient=transient, sleep=no_sleep
    )
    assert (result, call.calls, len(waits)) == ("ok", 3, 2)


async def test_giving_up_raises_the_last_error() -> None:
    call = Flaky([ScmUnavailable("a"), ScmUnavailable("b"), ScmUnavailable("c")])
    with pytest.raises(ScmUnavailable, match="b"):
        await retrying(call, attempts=2, backoff=Backoff(0, 0), transient=transient, sleep=no_sleep)
    assert call.calls == 2


async def test_what_is_not_transient_is_not_retried() -> None:
    call = Flaky([NotFound("gone")])
    with pytest.raises(NotFound):
        await retrying(call, attempts=5, backoff=Backoff(0, 0), transient=transient, sleep=no_sleep)
    assert call.calls == 1


async def test_attempts_must_be_positive() -> None:
    with pytest.raises(ValueError, match="attempts"):
        await retrying(Flaky([]), attempts=0, backoff=Backoff(), transient=transient)
