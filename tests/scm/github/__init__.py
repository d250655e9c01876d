"""GitHub provider tests (a package, so basenames may repeat those of tests/scm/gitlab)."""
