"""Merge requests, their notes and award emoji, and merging."""

from __future__ import annotations

from aiohttp import web

from prbot.forge.errors import Conflict, ForgeError, NotMergeable
from prbot.forge.gitlab.context import ApiError, Ctx, Routes, bad_request, not_found, paginate
from prbot.forge.gitlab.shapes import REACTION_OF_EMOJI, GitLabShapes
from prbot.forge.models import PullRequest, Repo

STATE_FILTER = {"opened": "open", "closed": "closed", "merged": "merged", "all": "all"}


def setup(routes: Routes, shapes: GitLabShapes) -> None:
    forge = routes.forge

    async def mr_json(repo: Repo, pr: PullRequest) -> dict:
        mergeable = await forge.mergeable(repo.full_name, pr.number)
        return shapes.merge_request(repo, pr, mergeable)

    def find_mr(ctx: Ctx, repo: Repo) -> PullRequest:
        try:
            return forge.pull_request(repo.full_name, int(ctx.arg("iid")))
        except (ForgeError, ValueError):
            raise not_found() from None

    def logins_of(ids: list[str] | None) -> list[str]:
        out = []
        for raw in ids or []:
            try:
                out.append(forge.user_by_id(int(raw)).login)
            except (ForgeError, ValueError):
                continue  # GitLab ignores ids it doesn't know
        return out

    async def set_reviewers(ctx: Ctx, repo: Repo, pr: PullRequest, logins: list[str]) -> None:
        wanted = [u for u in logins if u != pr.author]
        add = [u for u in wanted if u not in pr.requested_reviewers]
        if add:
            try:
                await forge.request_reviewers(repo.full_name, pr.number, add, actor=ctx.actor)
            except ForgeError as exc:
                raise bad_request(exc.message) from None
        removed = [u for u in pr.requested_reviewers if u not in wanted]
        if removed:
            # the forge has no "unrequest" call; the record's list is the state itself
            pr.requested_reviewers[:] = [u for u in pr.requested_reviewers if u in wanted]
            forge.save()

    # --- merge requests ------------------------------------------------------------------

    async def list_mrs(ctx: Ctx) -> web.Response:
        repo = ctx.project()
        state = STATE_FILTER.get(ctx.str_param("state") or "all")
        if state is None:
            raise bad_request("state does not have a valid value")
        prs = forge.pull_requests(
            repo.full_name,
            state=state,
            head=ctx.str_param("source_branch"),
            base=ctx.str_param("target_branch"),
        )
        if state == "closed":
            prs = [p for p in prs if p.state == "closed"]  # GitLab: merged is not closed
        labels = ctx.list_param("labels")
        if labels:
            prs = [p for p in prs if all(x in p.labels for x in labels)]
        iids = ctx.list_param("iids")
        if iids:
            prs = [p for p in prs if str(p.number) in iids]
        if ctx.str_param("sort") == "asc":
            prs = list(reversed(prs))
        rendered = [await mr_json(repo, p) for p in prs]
        return paginate(ctx, rendered, lambda x: x)

    async def get_mr(ctx: Ctx) -> web.Response:
        repo = ctx.project()
        return web.json_response(await mr_json(repo, find_mr(ctx, repo)))

    async def create_mr(ctx: Ctx) -> web.Response:
        repo = ctx.project("write")
        source = ctx.required("source_branch")
        target = ctx.required("target_branch")
        title = ctx.required("title")
        for pr in forge.pull_requests(repo.full_name, state="open", head=source, base=target):
            raise ApiError(
                409,
                [f"Another open merge request already exists for this source branch: !{pr.number}"],
            )
        for branch, field in ((source, "source_branch"), (target, "target_branch")):
            if await forge.resolve(repo.full_name, f"refs/heads/{branch}") is None:
                raise bad_request({field: ["is invalid"]})
        try:
            pr = await forge.open_pull_request(
                repo.full_name,
                head=source,
                base=target,
                title=title,
                body=ctx.str_param("description") or "",
                author=ctx.actor,
                labels=ctx.list_param("labels") or (),
            )
        except ForgeError as exc:
            raise bad_request([exc.message, *(e.get("message", "") for e in exc.errors)]) from None
        reviewers = logins_of(ctx.list_param("reviewer_ids"))
        if reviewers:
            await set_reviewers(ctx, repo, pr, reviewers)
        return web.json_response(await mr_json(repo, pr), status=201)

    async def update_mr(ctx: Ctx) -> web.Response:
        repo = ctx.project("write")
        pr = find_mr(ctx, repo)
        event = ctx.str_param("state_event")
        if event not in (None, "close", "reopen"):
            raise bad_request("state_event does not have a valid value")
        target = ctx.str_param("target_branch")
        if (
            target is not None
            and await forge.resolve(repo.full_name, f"refs/heads/{target}") is None
        ):
            raise bad_request({"target_branch": ["is invalid"]})
        await forge.update_pull_request(
            repo.full_name,
            pr.number,
            actor=ctx.actor,
            title=ctx.str_param("title"),
            body=ctx.str_param("description"),
            base=target,
            state={"close": "closed", "reopen": "open", None: None}[event],
        )
        labels = ctx.list_param("labels")
        add = list(ctx.list_param("add_labels") or [])
        remove = list(ctx.list_param("remove_labels") or [])
        if labels is not None:  # replaces the set
            add += [x for x in labels if x not in pr.labels]
            remove += [x for x in pr.labels if x not in labels]
        if add:
            await forge.add_labels(repo.full_name, pr.number, add, actor=ctx.actor)
        for name in dict.fromkeys(remove):
            if name in pr.labels:
                await forge.remove_label(repo.full_name, pr.number, name, actor=ctx.actor)
        if "reviewer_ids" in ctx.params or "reviewer_ids[]" in ctx.params:
            await set_reviewers(ctx, repo, pr, logins_of(ctx.list_param("reviewer_ids")))
        return web.json_response(await mr_json(repo, pr))

    async def merge_mr(ctx: Ctx) -> web.Response:
        repo = ctx.project("write")
        pr = find_mr(ctx, repo)
        if pr.state != "open" or pr.draft:
            raise ApiError(405, "405 Method Not Allowed")
        if await forge.mergeable(repo.full_name, pr.number) is False:
            raise ApiError(406, "Branch cannot be merged")
        sha = ctx.str_param("sha")
        if sha is not None and sha != pr.head_sha:
            raise ApiError(409, "SHA does not match HEAD of source branch: " + pr.head_sha)
        squash = ctx.bool_param("squash")
        custom = ctx.str_param("squash_commit_message" if squash else "merge_commit_message")
        if custom:
            title, _, message = custom.partition("\n")
            message = message.lstrip("\n")
        else:
            # GitLab's default merge commit message
            title = f"Merge branch '{pr.head}' into '{pr.base}'"
            message = f"{pr.title}\n\nSee merge request {repo.full_name}!{pr.number}"
        try:
            await forge.merge_pull_request(
                repo.full_name,
                pr.number,
                actor=ctx.actor,
                merge_method="squash" if squash else "merge",
                title=title,
                message=message,
                sha=sha,
            )
        except Conflict as exc:
            raise ApiError(409, exc.message) from None
        except NotMergeable:
            raise ApiError(406, "Branch cannot be merged") from None
        if ctx.bool_param("should_remove_source_branch") and pr.head != repo.default_branch:
            await forge.delete_ref(repo.full_name, f"refs/heads/{pr.head}", actor=ctx.actor)
        return web.json_response(await mr_json(repo, pr))

    # --- notes ---------------------------------------------------------------------------

    def find_note(ctx: Ctx, repo: Repo, pr: PullRequest):
        try:
            note = forge.comment(repo.full_name, int(ctx.arg("note_id")))
        except (ForgeError, ValueError):
            raise not_found("Note") from None
        if note.number != pr.number:
            raise not_found("Note")
        return note

    async def list_notes(ctx: Ctx) -> web.Response:
        repo = ctx.project()
        pr = find_mr(ctx, repo)
        notes = forge.comments(repo.full_name, pr.number)
        key = "updated_at" if ctx.str_param("order_by") == "updated_at" else "created_at"
        notes = sorted(notes, key=lambda c: (getattr(c, key), c.id))
        if ctx.str_param("sort", "desc") != "asc":
            notes.reverse()
        return paginate(ctx, notes, lambda c: shapes.note(repo, pr, c))

    async def get_note(ctx: Ctx) -> web.Response:
        repo = ctx.project()
        pr = find_mr(ctx, repo)
        return web.json_response(shapes.note(repo, pr, find_note(ctx, repo, pr)))

    async def create_note(ctx: Ctx) -> web.Response:
        repo = ctx.project()
        pr = find_mr(ctx, repo)
        body = ctx.required("body")
        note = await forge.add_comment(repo.full_name, pr.number, body, author=ctx.actor)
        return web.json_response(shapes.note(repo, pr, note), status=201)

    async def update_note(ctx: Ctx) -> web.Response:
        repo = ctx.project()
        pr = find_mr(ctx, repo)
        note = find_note(ctx, repo, pr)
        if note.author != ctx.actor:
            raise ApiError(403, "403 Forbidden")
        body = ctx.required("body")
        note = await forge.edit_comment(repo.full_name, note.id, body, actor=ctx.actor)
        return web.json_response(shapes.note(repo, pr, note))

    # --- award emoji ---------------------------------------------------------------------

    async def list_awards(ctx: Ctx) -> web.Response:
        repo = ctx.project()
        note = find_note(ctx, repo, find_mr(ctx, repo))
        return paginate(ctx, note.reactions, lambda r: shapes.award(note, r))

    async def award(ctx: Ctx) -> web.Response:
        repo = ctx.project()
        note = find_note(ctx, repo, find_mr(ctx, repo))
        name = ctx.required("name")
        content = REACTION_OF_EMOJI.get(name)
        if content is None:
            raise not_found("Award Emoji Name is not a valid emoji name")
        reaction, created = await forge.add_reaction(
            repo.full_name, note.id, content, user=ctx.actor
        )
        if not created:
            # GitLab: not_found!("Award Emoji Name has already been taken")
            raise not_found("Award Emoji Name has already been taken")
        return web.json_response(shapes.award(note, reaction), status=201)

    mr = "/projects/{id}/merge_requests/{iid}"
    routes.add("GET", "/projects/{id}/merge_requests", list_mrs)
    routes.add("POST", "/projects/{id}/merge_requests", create_mr)
    routes.add("GET", mr, get_mr)
    routes.add("PUT", mr, update_mr)
    routes.add("PUT", f"{mr}/merge", merge_mr)
    routes.add("GET", f"{mr}/notes", list_notes)
    routes.add("POST", f"{mr}/notes", create_note)
    routes.add("GET", f"{mr}/notes/{{note_id}}", get_note)
    routes.add("PUT", f"{mr}/notes/{{note_id}}", update_note)
    routes.add("GET", f"{mr}/notes/{{note_id}}/award_emoji", list_awards)
    routes.add("POST", f"{mr}/notes/{{note_id}}/award_emoji", award)
