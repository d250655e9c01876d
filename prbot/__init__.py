"""prbot: a GitOps PR-automation bot for GitHub and GitLab."""

__version__ = "0.1.0"
