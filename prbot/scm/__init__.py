"""The SCM port and its providers: GitHub (gidgethub + httpx), GitLab (python-gitlab)."""
