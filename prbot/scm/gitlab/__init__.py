"""The GitLab provider of the SCM port (python-gitlab, token auth)."""

from prbot.scm.counter import RequestCounter
from prbot.scm.gitlab.provider import GitLabScm
from prbot.scm.gitlab.transport import RetryPolicy

__all__ = ["GitLabScm", "RequestCounter", "RetryPolicy"]
