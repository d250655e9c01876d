"""Definitions at run time: the deployment's folder plus each repository's ``.prbot/``.

- The deployment's automations folder is read from disk once (``reload()`` re-reads it).
- A repository's ``.prbot/`` folder is read through the SCM port at its default branch's
  head, in a constant number of calls (one listing, one batched read), and cached by
  commit sha. A push to the default branch that lists its paths and touches nothing in
  ``.prbot/`` moves the cached entry to the new head without a request (a merged stage
  PR of a promotion, say); any other push calls ``invalidate(repo)``. As a safety net for
  a lost webhook, a cached entry older than ``recheck_seconds`` has its sha checked again.
  A moved sha whose ``.prbot/`` listing (paths and blob ids) is unchanged reuses the
  entry: files are read, loaded and reported only when the folder changed.
- ``.prbot/config.yaml`` is the repository's settings (``prbot.engine.repo_config``), not
  a definition: read and cached with the definitions, its problems reported with theirs.
- A problem in a repository's definitions is logged and reported on the commit as the
  status ``prbot/definitions`` (failure, naming the first problem); the repository's
  valid definitions stay usable, and other repositories are not affected.

Name clashes: a deployment definition always wins. A repository definition with the name
of a deployment one is reported as a problem of the repository (like any broken
definition), so a repository can never shadow what the platform team ships. A
repository's automation may target only that repository (``spec.repository`` naming
another one is a problem too): a repository's owners can't raise PRs elsewhere.
"""

from __future__ import annotations

import asyncio
import logging
import posixpath
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cachetools import LRUCache

from prbot.automation.changeset import SYMLINK, DirRepoView, RepoFile
from prbot.automation.definitions import Pipeline, PrAutomation
from prbot.automation.errors import Problem
from prbot.automation.limits import LIMITS, Limits
from prbot.automation.loader import DefinitionSet, load_view
from prbot.engine.boxed import load_files
from prbot.engine.repo_config import CONFIG_FILE, RepoConfig, parse_repo_config
from prbot.engine.router import Context, Router
from prbot.engine.sandbox import BoxLimitExceeded, Sandbox, shared_sandbox
from prbot.errors import PermanentError, describe, did_you_mean, is_permanent
from prbot.events import Event, InstallationChanged, PushToDefault
from prbot.retry import Backoff, retrying
from prbot.scm.port import Scm, ScmUnavailable, TreeEntry

log = logging.getLogger("prbot.definitions")

ROOT = ".prbot"
CONFIG_PATH = f"{ROOT}/{CONFIG_FILE}"  # the repository's settings, not a definition
STATUS_CONTEXT = "prbot/definitions"
SUBMODULE = "160000"
# reading a repository's definitions again after the forge stayed unavailable through the
# provider's own retries: 3 attempts, waits of up to 0.5 s then 1 s
LOOKUP_ATTEMPTS = 3
LOOKUP_BACKOFF = Backoff(base=0.5, cap=2.0)

ScmFor = Callable[[str], Scm]


class UnknownAutomation(PermanentError):
    """No automation of that name for the repository."""


class UnknownPipeline(PermanentError):
    """No pipeline of that name for the repository; ``hint`` is the did-you-mean."""

    def __init__(self, name: str, repo: str, hint: str) -> None:
        self.hint = hint
        super().__init__(f"no pipeline named {name!r} for {repo}{hint}")


@dataclass
class RepoDefinitions:
    """One repository's ``.prbot/`` at one commit."""

    repo: str
    sha: str
    definitions: DefinitionSet
    has_folder: bool
    checked_at: float
    listing: frozenset[tuple[str, str, str]] = frozenset()  # .prbot/ (path, mode, blob)
    config: RepoConfig = field(default_factory=RepoConfig)  # .prbot/config.yaml

    @property
    def problems(self) -> list[Problem]:
        return self.definitions.problems


@dataclass
class _Deployment:
    definitions: DefinitionSet = field(default_factory=DefinitionSet)
    loaded: bool = False


class DefinitionsCache:
    """``lookup(platform, repo, name)`` for the workers; see the module docstring."""

    def __init__(
        self,
        automations_dir: str | Path | None,
        scm_for: ScmFor,
        *,
        recheck_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        max_repos: int = 1024,
        attempts: int = LOOKUP_ATTEMPTS,
        backoff: Backoff = LOOKUP_BACKOFF,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        sandbox: Sandbox | None = None,
        limits: Limits = LIMITS,
    ):
        self.automations_dir = Path(automations_dir) if automations_dir else None
        self.scm_for = scm_for
        self.recheck_seconds = recheck_seconds
        self.clock = clock
        self.attempts = attempts
        self.backoff = backoff
        self.sleep = sleep
        self.sandbox = sandbox
        self.limits = limits
        self._deployment = _Deployment()
        self._repos: LRUCache[tuple[str, str], RepoDefinitions] = LRUCache(maxsize=max_repos)
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        # (platform, repo, sha) whose status was posted: once per commit is enough
        self._reported: LRUCache[tuple[str, str, str], bool] = LRUCache(maxsize=4 * max_repos)

    # -- the deployment's folder ------------------------------------------------------------

    @property
    def deployment(self) -> DefinitionSet:
        if not self._deployment.loaded:
            self.reload()
        return self._deployment.definitions

    def reload(self) -> DefinitionSet:
        """Read the deployment's folder again (a broken file is logged, the rest load)."""
        loaded = DefinitionSet()
        folder = self.automations_dir
        if folder is not None and folder.is_dir():
            loaded = load_view(DirRepoView(folder), display_root=str(folder), limits=self.limits)
            loaded.check_references()
        elif folder is not None:
            log.warning("automations folder %s does not exist: no deployment definitions", folder)
        for problem in loaded.problems:
            log.warning("definition problem: %s", problem)
        self._deployment = _Deployment(loaded, loaded=True)
        log.info(
            "deployment definitions: %d automation(s), %d pipeline(s), %d problem(s)",
            len(loaded.automations),
            len(loaded.pipelines),
            len(loaded.problems),
        )
        return loaded

    # -- repositories -------------------------------------------------------------------

    def moved(self, platform: str, repo: str, before: str, after: str) -> bool:
        """The default branch moved from ``before`` to ``after`` without touching
        ``.prbot/``: a cached entry of ``before`` now stands for ``after`` (no request).
        False when nothing cached is at ``before`` (the caller invalidates)."""
        entry = self._repos.get((platform, repo.lower()))
        if entry is None or not before or entry.sha != before:
            return False
        entry.sha, entry.checked_at = after, self.clock()
        return True

    def invalidate(self, repo: str, platform: str | None = None) -> None:
        """Forget a repository's cached definitions (its default branch moved); without
        ``platform``, on every platform."""
        for p in (platform,) if platform else ("github", "gitlab"):
            self._repos.pop((p, repo.lower()), None)

    def cached(self, platform: str, repo: str) -> RepoDefinitions | None:
        return self._repos.get((platform, repo.lower()))

    async def repo_definitions(self, platform: str, repo: str) -> RepoDefinitions:
        key = (platform, repo.lower())
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:  # one load per repository at a time, however many jobs ask
            entry = self._repos.get(key)
            if entry is not None and self.clock() - entry.checked_at < self.recheck_seconds:
                return entry
            scm = self.scm_for(platform)
            cached = entry

            async def fetch() -> RepoDefinitions:
                branch = await scm.default_branch(repo)
                snapshot = await scm.snapshot(repo, branch)
                listing = _listing(snapshot.entries)
                if cached is not None and (cached.sha == snapshot.sha or cached.listing == listing):
                    # same commit, or a later one with the very same .prbot/ files
                    cached.sha, cached.checked_at = snapshot.sha, self.clock()
                    return cached
                return await self._load(scm, repo, snapshot.sha, snapshot.entries, listing)

            # an outage that outlasted the provider's own retries gets a few more, spaced
            # out: a person is waiting on this (POST /api/runs answers 503 otherwise)
            entry = await retrying(
                fetch,
                attempts=self.attempts,
                backoff=self.backoff,
                transient=lambda exc: isinstance(exc, ScmUnavailable),
                sleep=self.sleep,
            )
            if entry is cached:
                return entry
            self._repos[key] = entry
        await self._report(platform, scm, entry)
        return entry

    async def _load(
        self,
        scm: Scm,
        repo: str,
        sha: str,
        entries: Mapping[str, TreeEntry],
        listing: frozenset[tuple[str, str, str]],
    ) -> RepoDefinitions:
        listed = {p: e for p, e in entries.items() if p.startswith(ROOT + "/")}
        found = DefinitionSet()
        # a definitions folder is small; a huge one is a mistake we refuse to download
        most = self.limits.max_repo_files
        if len(listed) > most:
            found.problems.append(
                Problem(
                    f"has {len(listed)} files; at most {most} are read (max_repo_files)", "", ROOT
                )
            )
            return RepoDefinitions(repo, sha, found, True, self.clock(), listing)
        regular = sorted(p for p, e in listed.items() if e.mode not in (SYMLINK, SUBMODULE))
        contents = await scm.read_files(repo, sha, regular) if regular else {}
        files: dict[str, RepoFile] = {p: RepoFile(contents[p], listed[p].mode) for p in contents}
        # symlinks are listed (not followed) so the loader can refuse them by name
        files.update({p: RepoFile(b"", SYMLINK) for p, e in listed.items() if e.mode == SYMLINK})
        # whoever can push to the default branch wrote these: parsed in the box
        box = self.sandbox or shared_sandbox()
        config, config_problems = await self._config(box, repo, files.pop(CONFIG_PATH, None))
        try:
            loaded = await box.run(f"loading {repo}/{ROOT}/", load_files, files, ROOT, self.limits)
        except BoxLimitExceeded as exc:
            # a definition that breaks a limit is a broken definition: a problem of this
            # commit, kept with it, so the next lookup fails at once instead of again
            # spending the box's whole deadline
            loaded = DefinitionSet(problems=[Problem(str(exc), "", ROOT)])
        found = self._combine(repo, loaded)
        found.problems += config_problems
        for problem in found.problems:
            log.warning("definition problem in %s@%s: %s", repo, sha[:12], problem)
        return RepoDefinitions(repo, sha, found, bool(listed), self.clock(), listing, config)

    async def _config(
        self, box: Sandbox, repo: str, file: RepoFile | None
    ) -> tuple[RepoConfig, list[Problem]]:
        """``.prbot/config.yaml``, which is not a definition: its settings and problems."""
        if file is None:
            return RepoConfig(), []
        if file.mode == SYMLINK:
            problem = Problem("is a symbolic link; prbot reads no links", "", CONFIG_PATH)
            return RepoConfig(broken=str(problem)), [problem]
        try:
            return await box.run(
                f"reading {repo}/{CONFIG_PATH}",
                parse_repo_config,
                file.content,
                CONFIG_PATH,
                self.limits,
            )
        except BoxLimitExceeded as exc:
            problem = Problem(str(exc), "", CONFIG_PATH)
            return RepoConfig(broken=str(problem)), [problem]

    def _combine(self, repo: str, loaded: DefinitionSet) -> DefinitionSet:
        """The repository's own definitions with its clashes and foreign targets as
        problems; pipeline stages may name deployment automations too."""
        deployment = self.deployment
        own = DefinitionSet(problems=list(loaded.problems))
        for name, automation in loaded.automations.items():
            if name in deployment.automations:
                own.problems.append(_clash(automation, deployment.automations[name]))
            elif automation.repository and automation.repository.lower() != repo.lower():
                own.problems.append(
                    Problem(
                        f"targets {automation.repository!r}; an automation in a repository's "
                        f"{ROOT}/ may only target that repository ({repo})",
                        "spec.repository",
                        automation.source_file,
                    )
                )
            else:
                own.automations[name] = automation
        for name, pipeline in loaded.pipelines.items():
            if name in deployment.pipelines:
                own.problems.append(_clash(pipeline, deployment.pipelines[name]))
            else:
                own.pipelines[name] = pipeline
        own.catalogs.update(loaded.catalogs)
        # references resolve against both, problems are the repository's
        check = DefinitionSet(automations={**deployment.automations, **own.automations})
        check.pipelines = own.pipelines
        check.check_references()
        own.problems += check.problems
        return own

    async def _report(self, platform: str, scm: Scm, entry: RepoDefinitions) -> None:
        """A commit status on the default branch's head: failure naming the first problem,
        or success when the folder loaded cleanly. Once per commit."""
        key = (platform, entry.repo.lower(), entry.sha)
        if key in self._reported or not entry.has_folder:
            return
        problems = entry.problems
        if problems:
            state = "failure"
            description = f"{len(problems)} problem(s): {problems[0]}"
        else:
            state = "success"
            n = len(entry.definitions.automations) + len(entry.definitions.pipelines)
            description = f"{n} definition(s) loaded"
        try:
            await scm.set_commit_status(
                entry.repo, entry.sha, state=state, context=STATUS_CONTEXT, description=description
            )
        except Exception as exc:
            # the status is a courtesy: never fail a run over it
            log.warning("could not report definitions status on %s: %s", entry.repo, exc)
            return
        self._reported[key] = True

    # -- lookups -------------------------------------------------------------------------

    async def lookup(self, platform: str, repo: str, name: str) -> PrAutomation:
        """The automation ``name`` for a run on ``repo``: a deployment one (no SCM read),
        else the repository's own. ``UnknownAutomation`` when there is none."""
        found = self.deployment.automations.get(name)
        if found is not None:
            return found
        entry = await self.repo_definitions(platform, repo)
        found = entry.definitions.automations.get(name)
        if found is not None:
            return found
        where = [str(self.automations_dir or "(no automations folder)"), f"{repo}/{ROOT}/"]
        known = [*self.deployment.automations, *entry.definitions.automations]
        message = f"no automation named {name!r} in {' or '.join(where)}"
        message += did_you_mean(name, known)
        broken = [p for p in entry.problems if _mentions(p, name)] or entry.problems
        if broken:
            message += f"; {repo}/{ROOT}/ has {len(entry.problems)} problem(s): {broken[0]}"
        raise UnknownAutomation(message)

    async def repo_set(self, platform: str, repo: str) -> DefinitionSet:
        """The repository's own usable definitions (the catalog lists them beside the
        deployment's; a broken one is left out, as a run would not find it)."""
        return (await self.repo_definitions(platform, repo)).definitions

    async def repo_config(self, platform: str, repo: str) -> RepoConfig:
        """The repository's ``.prbot/config.yaml`` settings (defaults without one)."""
        return (await self.repo_definitions(platform, repo)).config

    async def pipeline(self, platform: str, repo: str, name: str) -> Pipeline:
        """The pipeline ``name`` for ``repo``: a deployment one, else the repository's;
        ``UnknownPipeline`` (with a did-you-mean) when there is none."""
        found = self.deployment.pipelines.get(name)
        if found is not None:
            return found
        entry = await self.repo_definitions(platform, repo)
        found = entry.definitions.pipelines.get(name)
        if found is None:
            known = [*self.deployment.pipelines, *entry.definitions.pipelines]
            raise UnknownPipeline(name, repo, did_you_mean(name, known))
        return found


def _listing(entries: Mapping[str, TreeEntry]) -> frozenset[tuple[str, str, str]]:
    prefix = ROOT + "/"
    return frozenset((p, e.mode, e.sha) for p, e in entries.items() if p.startswith(prefix))


def _clash(ours: PrAutomation | Pipeline, theirs: PrAutomation | Pipeline) -> Problem:
    # the file name only: the deployment's folder layout is none of the repository's business
    return Problem(
        f"a {ours.kind} named {ours.name!r} is already defined by the deployment "
        f"({posixpath.basename(theirs.source_file)}); rename this one",
        "metadata.name",
        ours.source_file,
    )


def _mentions(problem: Problem, name: str) -> bool:
    stem = posixpath.splitext(posixpath.basename(problem.file))[0]
    return stem == name or repr(name) in problem.message


# -- events: a push to a default branch, an installation removed ----------------------

router = Router()


@router.register(PushToDefault)
async def push_reloads_definitions(event: Event, context: Context) -> None:
    """Forget the repository's cached definitions; if the push touched ``.prbot/``,
    load them now, so a broken definition is reported on the commit that broke it, not
    when someone next runs an automation."""
    assert isinstance(event, PushToDefault)
    definitions = context.definitions
    touched = not event.paths or any(p == ROOT or p.startswith(ROOT + "/") for p in event.paths)
    if not touched and definitions.moved(event.platform, event.repo, event.before, event.after):
        return
    definitions.invalidate(event.repo, event.platform)
    if not touched:
        return
    try:
        await definitions.repo_definitions(event.platform, event.repo)
    except Exception as exc:
        if is_permanent(exc):
            log.debug("definitions of %s not reloaded: %s", event.repo, exc)
        else:
            log.warning("reloading definitions of %s failed: %s", event.repo, describe(exc))


@router.register(InstallationChanged, action="removed")
async def removed_installation_forgets_definitions(event: Event, context: Context) -> None:
    assert isinstance(event, InstallationChanged)
    for repo in event.repos:
        context.definitions.invalidate(repo, event.platform)
