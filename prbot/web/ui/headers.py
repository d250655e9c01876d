"""What every page sends beside its HTML: a strict Content-Security-Policy (scripts and
styles only from prbot itself, no inline script, no framing, forms only to prbot and the
platform's sign-in), and the usual hardening headers."""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web


def content_security_policy(form_targets: Iterable[str] = ()) -> str:
    targets = " ".join(["'self'", *form_targets])
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",
            f"form-action {targets}",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ]
    )


def harden(response: web.StreamResponse, policy: str) -> None:
    response.headers["Content-Security-Policy"] = policy
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"  # pages show who is signed in
