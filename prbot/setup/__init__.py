"""Installing prbot for real: ``prbot setup github`` (the GitHub App manifest flow),
``prbot setup gitlab`` (webhooks through the API) and ``prbot check`` (what a deployment
needs, checked against the platforms). ``manifest.py`` and ``check.py`` are pure; the
other modules do the I/O."""
