"""The pages people use (issue 12): who is signed in (``session``), protection of every
form (``csrf``), the headers every page sends (``headers``), and signing in behind a
proxy (``proxy``). The pages themselves build on these."""
