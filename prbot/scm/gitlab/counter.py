"""GitLab's route templates: ids, shas and branch names in a URL become placeholders, so
request counts (``prbot.scm.counter``) from different runs compare."""

from __future__ import annotations

from urllib.parse import urlsplit

from prbot.scm.counter import RequestCounter

# the segment after one of these names is an identifier, named by the placeholder
_PLACEHOLDERS = {
    "projects": ":id",
    "groups": ":id",
    "commits": ":sha",
    "statuses": ":sha",
    "branches": ":branch",
    "merge_requests": ":iid",
    "notes": ":note_id",
    "award_emoji": ":award_id",
    "all": ":user_id",  # members/all/:user_id
    "users": ":user_id",
    "pipelines": ":pipeline_id",
    "deployments": ":deployment_id",
}


def route_template(url: str) -> str:
    """``/api/v4/projects/acme%2Fgitops/repository/commits/ab12`` ->
    ``/projects/:id/repository/commits/:sha``."""
    path = urlsplit(url).path
    marker = "/api/v4"
    if marker in path:
        path = path.split(marker, 1)[1]
    parts = [p for p in path.split("/") if p]
    out: list[str] = []
    for i, part in enumerate(parts):
        prev = parts[i - 1] if i else ""
        # "all" is only an id-bearing collection under members/
        if prev == "all" and (i < 2 or parts[i - 2] != "members"):
            out.append(part)
        elif prev in _PLACEHOLDERS and not out[-1].startswith(":"):
            out.append(_PLACEHOLDERS[prev])
        else:
            out.append(part)
    return "/" + "/".join(out)


def record(counter: RequestCounter, method: str, url: str) -> str:
    """Count one attempt at ``url``, by its route template; returns the key."""
    return counter.add(method, route_template(url))
