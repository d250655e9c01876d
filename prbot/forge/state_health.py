"""What CI reports on commits: statuses (and the pipeline GitLab derives from them),
check runs, deployments.

Part of ``Forge`` (state.py): a mixin over the state ``Forge.__init__`` sets up; see the
API summary in state.py.
"""

from __future__ import annotations

from prbot.forge.errors import (
    Conflict,
    NotFound,
    Unprocessable,
    invalid_field,
    missing_field,
)
from prbot.forge.models import (
    CheckRun,
    Deployment,
    DeploymentStatus,
    Pipeline,
    Status,
)

STATUS_STATES = ("error", "failure", "pending", "success")
DEPLOYMENT_STATES = ("error", "failure", "inactive", "in_progress", "queued", "pending", "success")
PIPELINE_STATES = ("created", "pending", "running", "success", "failed", "canceled", "skipped")


class HealthMixin:
    """Statuses, pipelines, check runs and deployments on commits."""

    async def _need_commit(self, repo: str, sha: str) -> str:
        full = await self.resolve(repo, sha)
        if full is None:
            raise Unprocessable(f"No commit found for SHA: {sha}")
        return full

    async def post_status(
        self,
        repo: str,
        sha: str,
        state: str,
        *,
        creator: str,
        context: str = "default",
        target_url: str | None = None,
        description: str | None = None,
        ref: str | None = None,
    ) -> Status:
        """A commit status (GitHub states: error/failure/pending/success). Also updates the
        commit's external pipeline (GitLab's view), whose ref is ``ref`` or a branch at
        ``sha``."""
        if state not in STATUS_STATES:
            raise Unprocessable("Validation Failed", errors=[invalid_field("state")])
        sha = await self._need_commit(repo, sha)
        ts = self.timestamp()
        s = Status(
            id=self._next_id("status", 20_000_000),
            repo=repo,
            sha=sha,
            context=context or "default",
            state=state,
            creator=creator,
            target_url=target_url,
            description=description,
            created_at=ts,
            updated_at=ts,
        )
        self._statuses.append(s)
        self.save()
        self._emit("status", repo, creator, status=s)
        await self._sync_external_pipeline(repo, sha, ref, creator)
        return s

    def statuses(self, repo: str, sha: str) -> list[Status]:
        """Every status posted on ``sha``, newest first."""
        return sorted(
            (s for s in self._statuses if s.repo == repo and s.sha == sha),
            key=lambda s: s.id,
            reverse=True,
        )

    def combined_status(self, repo: str, sha: str) -> tuple[str, list[Status]]:
        """GitHub's combined state and the latest status per context: failure if any is
        error/failure, pending if any pending or none at all, else success."""
        latest: dict[str, Status] = {}
        for s in self.statuses(repo, sha):
            latest.setdefault(s.context, s)
        states = {s.state for s in latest.values()}
        if states & {"error", "failure"}:
            combined = "failure"
        elif "pending" in states or not states:
            combined = "pending"
        else:
            combined = "success"
        return combined, sorted(latest.values(), key=lambda s: s.id)

    async def _sync_external_pipeline(
        self, repo: str, sha: str, ref: str | None, user: str
    ) -> None:
        combined, _ = self.combined_status(repo, sha)
        status = {"failure": "failed", "pending": "running", "success": "success"}[combined]
        pipe = next(
            (p for p in self._pipelines.values() if p.repo == repo and p.sha == sha
             and p.source == "external"),
            None,
        )  # fmt: skip
        if pipe is None:
            ref = ref or await self._branch_at(repo, sha)
            pipe = await self.create_pipeline(repo, sha, ref, status, user=user, source="external")
        elif pipe.status != status:
            await self.set_pipeline_status(repo, pipe.id, status, actor=user)

    async def _branch_at(self, repo: str, sha: str) -> str:
        r = self.repo(repo)
        heads = await self.branches(repo)
        names = [name for name, head in heads if head == sha]
        for pr in self.pull_requests(repo, state="all"):
            if pr.head_sha == sha and pr.head in names:
                return pr.head
        if r.default_branch in names:
            return r.default_branch
        return names[0] if names else r.default_branch

    async def create_pipeline(
        self,
        repo: str,
        sha: str,
        ref: str,
        status: str = "pending",
        *,
        user: str,
        source: str = "push",
    ) -> Pipeline:
        """A GitLab pipeline for ``sha`` on ``ref`` (statuses: created pending running
        success failed canceled skipped)."""
        if status not in PIPELINE_STATES:
            raise Unprocessable(f"invalid pipeline status {status!r}")
        sha = await self._need_commit(repo, sha)
        ts = self.timestamp()
        p = Pipeline(
            id=self._next_id("pipeline", 30_000_000),
            iid=self._next_id(f"pipeline:{repo}"),
            repo=repo,
            sha=sha,
            ref=ref,
            status=status,
            source=source,
            user=user,
            created_at=ts,
            updated_at=ts,
            finished_at=ts if status in ("success", "failed", "canceled", "skipped") else None,
        )
        self._pipelines[p.id] = p
        self.save()
        self._emit("pipeline", repo, user, pipeline=p)
        return p

    async def set_pipeline_status(
        self, repo: str, pipeline_id: int, status: str, *, actor: str
    ) -> Pipeline:
        p = self.pipeline(repo, pipeline_id)
        if status not in PIPELINE_STATES:
            raise Unprocessable(f"invalid pipeline status {status!r}")
        p.status = status
        p.updated_at = self.timestamp()
        done = status in ("success", "failed", "canceled", "skipped")
        p.finished_at = p.updated_at if done else None
        self.save()
        self._emit("pipeline", repo, actor, pipeline=p)
        return p

    def pipeline(self, repo: str, pipeline_id: int) -> Pipeline:
        p = self._pipelines.get(int(pipeline_id))
        if p is None or p.repo != repo:
            raise NotFound("Not Found")
        return p

    def pipelines(
        self, repo: str, *, sha: str | None = None, ref: str | None = None
    ) -> list[Pipeline]:
        """Pipelines newest first, optionally for one sha / ref."""
        out = [
            p
            for p in self._pipelines.values()
            if p.repo == repo and (sha is None or p.sha == sha) and (ref is None or p.ref == ref)
        ]
        return sorted(out, key=lambda p: p.id, reverse=True)

    async def post_check_run(
        self,
        repo: str,
        sha: str,
        name: str,
        *,
        app_id: int = 0,
        status: str = "completed",
        conclusion: str | None = None,
        details_url: str | None = None,
        external_id: str | None = None,
        title: str | None = None,
        summary: str | None = None,
        actor: str = "",
    ) -> CheckRun:
        """A check run on ``sha`` by app ``app_id`` (0: the forge's own checks app).
        ``completed`` needs a ``conclusion``. Emits check_run created (and completed),
        and check_suite completed once every run of the suite is completed."""
        if status not in ("queued", "in_progress", "completed"):
            raise Unprocessable("Validation Failed", errors=[invalid_field("status")])
        if status == "completed" and not conclusion:
            raise Unprocessable("Validation Failed", errors=[missing_field("conclusion")])
        sha = await self._need_commit(repo, sha)
        key = (repo, sha, app_id)
        if key not in self._suites:
            self._suites[key] = self._next_id("check_suite", 40_000_000)
        ts = self.timestamp()
        run = CheckRun(
            id=self._next_id("check_run", 50_000_000),
            repo=repo,
            sha=sha,
            name=name,
            app_id=app_id,
            suite_id=self._suites[key],
            status=status,
            conclusion=conclusion if status == "completed" else None,
            details_url=details_url,
            external_id=external_id,
            head_branch=await self._branch_at(repo, sha),
            title=title,
            summary=summary,
            started_at=ts,
            completed_at=ts if status == "completed" else None,
        )
        self._check_runs[run.id] = run
        self.save()
        actor = actor or self._app_actor(app_id)
        self._emit("check_run", repo, actor, action="created", check_run=run)
        if status == "completed":
            self._check_completed(run, actor)
        return run

    async def update_check_run(
        self,
        repo: str,
        check_run_id: int,
        *,
        status: str | None = None,
        conclusion: str | None = None,
        details_url: str | None = None,
        actor: str = "",
    ) -> CheckRun:
        run = self.check_run(repo, check_run_id)
        was_done = run.status == "completed"
        if conclusion and not status:
            status = "completed"
        if status:
            run.status = status
        if conclusion:
            run.conclusion = conclusion
        if details_url is not None:
            run.details_url = details_url
        if run.status == "completed" and not run.conclusion:
            raise Unprocessable("Validation Failed", errors=[missing_field("conclusion")])
        if run.status == "completed" and not was_done:
            run.completed_at = self.timestamp()
            self.save()
            self._check_completed(run, actor or self._app_actor(run.app_id))
        self.save()
        return run

    def _check_completed(self, run: CheckRun, actor: str) -> None:
        self._emit("check_run", run.repo, actor, action="completed", check_run=run)
        runs = [c for c in self._check_runs.values() if c.suite_id == run.suite_id]
        if all(c.status == "completed" for c in runs):
            conclusions = {c.conclusion for c in runs}
            conclusion = next(
                (c for c in ("failure", "cancelled", "timed_out", "action_required")
                 if c in conclusions),
                "neutral" if conclusions == {"neutral"} else "success",
            )  # fmt: skip
            suite = {
                "id": run.suite_id,
                "sha": run.sha,
                "app_id": run.app_id,
                "head_branch": run.head_branch,
                "status": "completed",
                "conclusion": conclusion,
                "runs": runs,
            }
            self._emit("check_suite", run.repo, actor, action="completed", suite=suite)

    def _app_actor(self, app_id: int) -> str:
        app = self._apps.get(app_id)
        return app.bot_login if app else "forge"

    def check_run(self, repo: str, check_run_id: int) -> CheckRun:
        run = self._check_runs.get(int(check_run_id))
        if run is None or run.repo != repo:
            raise NotFound("Not Found")
        return run

    def check_runs(self, repo: str, sha: str, *, name: str | None = None) -> list[CheckRun]:
        """Check runs on ``sha``, newest first (latest per name is first)."""
        runs = [
            c
            for c in self._check_runs.values()
            if c.repo == repo and c.sha == sha and (name is None or c.name == name)
        ]
        return sorted(runs, key=lambda c: c.id, reverse=True)

    async def create_deployment(
        self,
        repo: str,
        ref: str,
        *,
        creator: str,
        environment: str = "production",
        task: str = "deploy",
        description: str | None = None,
        payload: dict | None = None,
        required_contexts: list[str] | None = None,
        transient_environment: bool = False,
        production_environment: bool | None = None,
    ) -> Deployment:
        """A deployment of ``ref`` (branch, tag or sha). As on GitHub, every status
        context on the commit (or ``required_contexts``) must be success, else 409."""
        sha = await self.resolve(repo, ref)
        if sha is None:
            raise Conflict(f"No ref found for: {ref}")
        _, latest = self.combined_status(repo, sha)
        by_ctx = {s.context: s.state for s in latest}
        needed = list(by_ctx) if required_contexts is None else required_contexts
        failing = [c for c in needed if by_ctx.get(c) != "success"]
        if failing:
            raise Conflict(f"Conflict: Commit status checks failed for {ref}.")
        ts = self.timestamp()
        d = Deployment(
            id=self._next_id("deployment", 60_000_000),
            repo=repo,
            sha=sha,
            ref=ref,
            environment=environment,
            creator=creator,
            task=task,
            description=description,
            payload=payload or {},
            transient_environment=transient_environment,
            production_environment=(
                environment == "production"
                if production_environment is None
                else production_environment
            ),
            created_at=ts,
            updated_at=ts,
        )
        self._deployments[d.id] = d
        self.save()
        self._emit("deployment", repo, creator, deployment=d)
        return d

    def deployment(self, repo: str, deployment_id: int) -> Deployment:
        d = self._deployments.get(int(deployment_id))
        if d is None or d.repo != repo:
            raise NotFound("Not Found")
        return d

    def deployments(
        self,
        repo: str,
        *,
        sha: str | None = None,
        ref: str | None = None,
        environment: str | None = None,
        task: str | None = None,
    ) -> list[Deployment]:
        """Deployments newest first, filtered like GitHub's list."""
        out = [
            d
            for d in self._deployments.values()
            if d.repo == repo
            and (sha is None or d.sha == sha)
            and (ref is None or d.ref == ref)
            and (environment is None or d.environment == environment)
            and (task is None or d.task == task)
        ]
        return sorted(out, key=lambda d: d.id, reverse=True)

    async def post_deployment_status(
        self,
        repo: str,
        deployment_id: int,
        state: str,
        *,
        creator: str,
        description: str = "",
        target_url: str = "",
        log_url: str = "",
        environment_url: str = "",
        environment: str | None = None,
    ) -> DeploymentStatus:
        """A deployment status (error failure inactive in_progress queued pending
        success). Emits deployment_status (GitLab: Deployment Hook)."""
        d = self.deployment(repo, deployment_id)
        if state not in DEPLOYMENT_STATES:
            raise Unprocessable("Validation Failed", errors=[invalid_field("state")])
        ts = self.timestamp()
        s = DeploymentStatus(
            id=self._next_id("deployment_status", 70_000_000),
            deployment_id=d.id,
            repo=repo,
            state=state,
            creator=creator,
            environment=environment or d.environment,
            description=description or "",
            target_url=target_url or log_url or "",
            log_url=log_url or target_url or "",
            environment_url=environment_url or "",
            created_at=ts,
            updated_at=ts,
        )
        self._deployment_statuses[s.id] = s
        d.updated_at = ts
        self.save()
        self._emit("deployment_status", repo, creator, deployment=d, status=s)
        return s

    def deployment_statuses(self, repo: str, deployment_id: int) -> list[DeploymentStatus]:
        """Statuses of one deployment, newest first."""
        self.deployment(repo, deployment_id)
        out = [s for s in self._deployment_statuses.values() if s.deployment_id == deployment_id]
        return sorted(out, key=lambda s: s.id, reverse=True)

    def deployment_status(self, repo: str, deployment_id: int, status_id: int) -> DeploymentStatus:
        s = self._deployment_statuses.get(int(status_id))
        if s is None or s.deployment_id != int(deployment_id) or s.repo != repo:
            raise NotFound("Not Found")
        return s
