"""Page addresses as the forge's two APIs write them into ``html_url`` / ``web_url``.

GitHub style: ``/{owner}/{repo}``, ``/pull/{n}``, ``/commit/{sha}``, ``/tree/{ref}``.
GitLab style puts the same pages under ``/-/``: ``/-/merge_requests/{iid}``,
``/-/commit/{sha}``, ``/-/tree/{ref}``. A page links in the style it was reached by.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

Style = Literal["github", "gitlab"]


@dataclass(frozen=True)
class Links:
    repo_name: str  # owner/name
    style: Style = "github"

    @property
    def gitlab(self) -> bool:
        return self.style == "gitlab"

    @property
    def _sep(self) -> str:
        return "/-" if self.gitlab else ""

    def repo(self) -> str:
        return f"/{self.repo_name}"

    def tree(self, ref: str) -> str:
        return f"/{self.repo_name}{self._sep}/tree/{quote(ref)}"

    def pull(self, number: int) -> str:
        kind = "merge_requests" if self.gitlab else "pull"
        return f"/{self.repo_name}{self._sep}/{kind}/{number}"

    def commit(self, sha: str) -> str:
        return f"/{self.repo_name}{self._sep}/commit/{sha}"

    def comment_anchor(self, comment_id: int) -> str:
        # the fragments both platforms' comment URLs end in
        return f"note_{comment_id}" if self.gitlab else f"issuecomment-{comment_id}"

    def pull_ref(self, number: int) -> str:
        """How the platform writes a PR's number: GitLab !7, GitHub #7."""
        return f"!{number}" if self.gitlab else f"#{number}"

    @property
    def pull_noun(self) -> str:
        return "merge request" if self.gitlab else "pull request"
