"""The service catalog for people: ``/catalog`` (cards by category, with search) and
``/catalog/<automation>`` (a form made from the automation's inputs, whatever they are).

The form works without JavaScript: it posts, the server checks everything again (the
same checks and messages as ``/api/runs``), and a refused form comes back with each
error beside its field and the values kept (a password never). Preview renders the
change against the repository's default branch and shows the diff, writing nothing.
JavaScript (``static/form.js``) only adds the live parts: fields shown and hidden by
their conditions (the server ignores a hidden field's value), and checks as one types.
A run needs the permission a ``/prbot run`` needs, read from the platform. The
repository is chosen from a list of those the person can write to when the platform can
list them (``repo_choice``), else typed; either way the control is named ``repo``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from aiohttp import web

from prbot.engine.commands.access import Access, may
from prbot.errors import PrbotError
from prbot.web.api import RunRequest
from prbot.web.catalog_api import CatalogApi
from prbot.web.ui.csrf import csrf_ok
from prbot.web.ui.dashboard import ScmFor
from prbot.web.ui.pages import Pages
from prbot.web.ui.repo_choice import RepoChoices
from prbot.web.ui.session import Session
from prbot.web.ui.signin import SignIn, public_url, redirect

CONFIRM = "confirm"  # the checklist's checkboxes: one value per item, all needed


class CatalogPages:
    def __init__(
        self,
        catalog: CatalogApi,
        access: Access,
        scm_for: ScmFor,
        signin: SignIn,
        pages: Pages,
        choices: RepoChoices | None = None,
    ) -> None:
        self.catalog = catalog
        self.choices = choices
        self.access = access
        self.scm_for = scm_for
        self.signin = signin
        self.pages = pages
        settings = catalog.api.settings
        self.platforms = [
            p
            for p, serves in (
                ("github", settings.serves_github),
                ("gitlab", settings.serves_gitlab),
            )
            if serves
        ]
        self.base = public_url(settings)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/catalog", self.index)
        app.router.add_get("/catalog/{name}", self.form)
        app.router.add_post("/catalog/{name}", self.submit)

    # -- the cards ------------------------------------------------------------------------

    async def index(self, request: web.Request) -> web.StreamResponse:
        session, changed = self.signin.session(request)
        if not session.signed_in:
            return redirect("/signin?next=/catalog")
        repo, platform = self._where(request.query, session)
        found = await self.catalog.catalog(platform if repo else None, repo or None)
        if isinstance(found, web.Response):  # a repository that cannot be read: say so
            found = await self.catalog.catalog(None, None)
            repo = ""
        if isinstance(found, web.Response):
            return found
        q = request.query.get("q", "").strip().lower()
        groups: dict[str, list[dict[str, Any]]] = {}
        for a in found["automations"]:
            text = " ".join(str(a.get(k) or "") for k in ("name", "description", "category"))
            if q and q not in text.lower():
                continue
            groups.setdefault(a.get("category") or "other", []).append(a)
        where = f"?repo={quote(repo, safe='')}&platform={platform}" if repo else ""
        values = {"groups": sorted(groups.items()), "q": q, "repo": repo, "where": where}
        response = self.pages.render("catalog.html", session, values)
        if changed:
            self.signin.sessions.save(response, session)
        return response

    # -- one form -------------------------------------------------------------------------

    async def form(self, request: web.Request) -> web.StreamResponse:
        session, changed = self.signin.session(request)
        name = request.match_info["name"]
        if not session.signed_in:
            return redirect(f"/signin?next=/catalog/{quote(name)}")
        repo, platform = self._where(request.query, session)
        entry = await self._entry(name, platform, repo)
        values = {k: v for k, v in request.query.items() if k not in ("repo", "platform")}
        response = await self._render(
            session,
            entry,
            values,
            repo=repo or entry.get("repository") or "",
            platform=platform,
        )
        if changed:
            self.signin.sessions.save(response, session)
        return response

    async def submit(self, request: web.Request) -> web.StreamResponse:
        session, _ = self.signin.session(request)
        name = request.match_info["name"]
        posted = await request.post()
        form = {k: str(v) for k, v in posted.items() if k != CONFIRM}
        if not csrf_ok(session, form, request.headers):
            raise web.HTTPForbidden(text="the form is out of date: reload the page")
        if not session.signed_in:
            return redirect(f"/signin?next=/catalog/{quote(name)}")
        repo, platform = form.get("repo", "").strip(), form.get("platform", "")
        entry = await self._entry(name, platform, repo)
        inputs = form_inputs(entry["inputs"], form)
        shown = {k: v for k, v in form.items() if k not in ("csrf_token", "action")}

        async def again(errors: Mapping[str, str], **more: Any) -> web.Response:
            return await self._render(
                session, entry, shown, repo=repo, platform=platform, errors=errors,
                status=422 if errors else 200, **more,
            )  # fmt: skip

        body = {"automation": name, "repo": repo, "platform": platform, "inputs": inputs}
        checked = await self.catalog.api.check_request(body)
        if isinstance(checked, web.Response):  # the repository cannot be read now
            return await again({"repo": "cannot be read now; try again in a moment"})
        errors = dict(checked.errors)
        if not errors and (refusal := await self._refusal(session, platform, repo)):
            errors["repo"] = refusal
        checklist = (entry.get("confirm") or {}).get("checklist") or []
        previewing = form.get("action") == "preview"  # harmless: no checklist needed
        if not previewing and len(posted.getall(CONFIRM, [])) < len(checklist):
            errors["confirm"] = "tick every item of the checklist first"
        if errors:
            return await again(errors)
        if previewing:
            found = await self.catalog.preview_of(body)
            if isinstance(found, web.Response):
                return await again({"repo": "the preview could not be made now; try again"})
            return await again({}, preview=found)
        return await self._run(session, checked)

    async def _run(self, session: Session, checked: RunRequest) -> web.StreamResponse:
        run, _job = await self.catalog.api.request_run(
            automation=checked.name,
            repo=checked.repo,
            platform=checked.platform,
            requested_by=session.user,
            inputs=checked.inputs,
            via="catalog",
            requested_in=f"{self.base}/catalog/{quote(checked.name)}",
        )
        return redirect(f"/runs/{run.id}")

    async def _refusal(self, session: Session, platform: str, repo: str) -> str:
        """Why ``session.user`` may not run anything on ``repo`` ("" if they may)."""
        if platform != session.platform and self.signin.mode == "oauth":
            return f"you are signed in with {session.platform}, not {platform}"
        try:
            verdict = await may(self.access, self.scm_for(platform), repo, session.user, "run")
        except PrbotError as exc:
            return f"your permission on it cannot be read now ({exc})"
        if verdict.broken:
            return f"its prbot settings are broken: {verdict.broken}"
        if not verdict.allowed:
            have = verdict.have or "none"
            return f"you need {verdict.need} permission on it to run this; you have {have}"
        return ""

    def _where(self, query: Mapping[str, str], session: Session) -> tuple[str, str]:
        """The repository asked about (its own automations join the catalog), and its
        platform (by default the one signed in with, else the first served one)."""
        platform = query.get("platform", "")
        if platform not in self.platforms:
            platform = session.platform if session.platform in self.platforms else ""
        if not platform:
            platform = self.platforms[0]
        return query.get("repo", "").strip(), platform

    async def _entry(self, name: str, platform: str, repo: str) -> dict[str, Any]:
        """The automation ``name``: the deployment's, or ``repo``'s own."""
        found = await self.catalog.catalog(platform if repo else None, repo or None)
        if isinstance(found, web.Response):  # not a readable repository: the deployment's
            found = await self.catalog.catalog(None, None)
        if isinstance(found, web.Response):
            raise web.HTTPServiceUnavailable(text="the catalog cannot be read now")
        entry = next((a for a in found["automations"] if a["name"] == name), None)
        if entry is None:
            raise web.HTTPNotFound(text="no such automation in the catalog")
        return entry

    async def _render(
        self,
        session: Session,
        entry: Mapping[str, Any],
        values: Mapping[str, str],
        *,
        repo: str,
        platform: str,
        errors: Mapping[str, str] | None = None,
        status: int = 200,
        preview: Mapping[str, Any] | None = None,
    ) -> web.Response:
        errors = dict(errors or {})
        fields = form_fields(entry["inputs"], values, errors)
        known = {f"inputs.{f['name']}" for f in fields} | {"repo", "platform", "confirm"}
        general = [message for key, message in errors.items() if key not in known]
        choices = await self._choices(session, platform, repo)
        page = {
            "choices": choices,
            "a": entry,
            "fields": fields,
            "repo": repo,
            "platform": platform,
            "platforms": self.platforms,
            "errors": errors,
            "general": general,
            "preview": preview,
        }
        return self.pages.render("form.html", session, page, status=status)

    async def _choices(self, session: Session, platform: str, repo: str) -> list[str]:
        """The repositories to choose from ([]: no list, type the name): the ones the
        person can write to, and the one asked for or posted, kept whatever it is (the
        submit checks it)."""
        if self.choices is None or (self.signin.mode == "oauth" and platform != session.platform):
            return []
        found = await self.choices.writable_by(platform, session.user)
        if not found:
            return []
        return [repo, *found] if repo and repo not in found else list(found)


def form_fields(
    schema: Mapping[str, Any], values: Mapping[str, str], errors: Mapping[str, str]
) -> list[dict[str, Any]]:
    """One control per input, in order, from the input's JSON Schema."""
    required = set(schema.get("required", ()))
    conditional = {
        name
        for rule in schema.get("allOf", ())
        for name in rule.get("then", {}).get("required", ())
    }
    fields = []
    for name, prop in schema.get("properties", {}).items():
        kind = prop.get("x-prbot-type", "string")
        default = prop.get("default")
        value = values.get(name)
        if value is None:
            value = form_text(default)
        if kind == "password":
            value = ""  # never shown again, never prefilled
        when = prop.get("x-prbot-when")
        fields.append(
            {
                "name": name,
                "title": prop.get("title", name),
                "help": prop.get("description", ""),
                "kind": kind,
                "options": [o for o in prop.get("enum", ()) if o != ""],
                "value": value,
                # a conditional input is required only while shown: form.js sets that
                "required": name in required,
                "required_when_shown": name in conditional,
                "pattern": (prop.get("pattern") or "") if kind in ("string", "password") else "",
                "placeholder": prop.get("x-prbot-placeholder", ""),
                "when": when,
                "error": errors.get(f"inputs.{name}", ""),
            }
        )
    return fields


def form_inputs(schema: Mapping[str, Any], form: Mapping[str, str]) -> dict[str, Any]:
    """The posted form as the inputs a run takes: an empty value is "not given"; a
    checkbox is true when sent (a checkbox not ticked is not sent at all)."""
    inputs: dict[str, Any] = {}
    for name, prop in schema.get("properties", {}).items():
        if prop.get("x-prbot-type") == "bool":
            inputs[name] = form.get(name) in ("on", "true")
        elif form.get(name, "") != "":
            inputs[name] = form[name]
    return inputs


def form_text(value: Any) -> str:
    """A value as a form field holds it (what "run again" and defaults fill in)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
