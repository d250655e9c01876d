"""``prbot demo``: the story of a platform team, played offline on this machine.

The local forge runs in this process (GitHub's or GitLab's API on 127.0.0.1), ``prbot
serve`` runs beside it as a real process with SQLite, and the demo plays the people and
the CD tool: it asks the catalog for runs, comments slash-commands, merges PRs and posts
the statuses a Flux or Argo CD would. prbot does the rest, as it would in production.

``stack.py`` starts and stops the parts, ``story.py`` plays the steps, ``summary.py``
prints what happened, ``cli.py`` is the command.
"""
