"""CSRF: every form and button of the pages carries the session's token in a hidden field
(``csrf_token``); a state-changing request without it, or with another, is refused before
anything is done. The token is the session's (rotated at sign-in), compared in constant
time. SameSite=Lax already keeps the cookie off other sites' posts; the token also covers
older browsers and same-site attackers."""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from prbot.web.ui.session import Session

FIELD = "csrf_token"
HEADER = "X-CSRF-Token"  # for the pages' scripts (fetch)


def csrf_ok(session: Session, form: Mapping[str, str], headers: Mapping[str, str]) -> bool:
    given = form.get(FIELD) or headers.get(HEADER) or ""
    # as bytes: compare_digest refuses str with non-ASCII characters
    return bool(given) and hmac.compare_digest(given.encode(), session.csrf.encode())
