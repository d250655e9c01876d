"""``python -m prbot``: the same as the ``prbot`` command."""

import sys

from prbot.cli import main

sys.exit(main())
