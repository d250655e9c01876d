"""Reading a webhook body: parsed once, and only what normalizing reads becomes Python.

pysimdjson validates a whole body and builds a lazy document over it: a 30 KB GitHub
``pull_request`` payload takes about 7 µs, and a value turns into a Python object only
when normalizing reads it. orjson builds every dict, list and string of the tree (about
37 µs, and the allocations cost the intake more than that: bench/webhooks.py was about
20% faster with no parse at all). Normalizing reads objects through ``OBJECT`` and
``ARRAY``, so it takes a document and plain dicts and lists (tests, fallbacks) alike.

A document belongs to its parser, which is reused: simdjson refuses to parse again while
objects of the last document are alive. So a caller reads what it needs and drops the
document before it awaits anything (``intake.py``); should one outlive that anyway, a
fresh parser takes over, slower but correct, and a warning says so.

Bodies simdjson refuses but the stdlib's json reads (integers beyond 64 bits, NaN and
Infinity, UTF-16 and UTF-32: all of which gidgethub would read) go to ``json.loads``: a
signed delivery is never refused for them (a refused hook may be disabled for good).
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import simdjson

log = logging.getLogger("prbot.web.payload")

OBJECT: tuple[type, ...] = (dict, simdjson.Object)
ARRAY: tuple[type, ...] = (list, simdjson.Array)

MALFORMED: Any = object()  # what ``parse`` answers for a body that is not JSON

_local = threading.local()  # one parser per thread: a parser is not thread-safe


def _parser() -> simdjson.Parser:
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = simdjson.Parser()
    return parser


def parse(body: bytes) -> Any:
    """The body as a document (or a plain value), or MALFORMED. Read what is needed from
    a document before the next ``parse`` on this thread."""
    try:
        return _parser().parse(body)
    except (ValueError, UnicodeDecodeError):
        pass  # not JSON to simdjson: maybe to the stdlib (below)
    except RuntimeError as exc:
        if "re-use a parser" not in str(exc):  # BIGINT_ERROR and the like
            return _stdlib(body)
        log.warning("a parsed webhook body outlived its request: using a new parser")
        _local.parser = simdjson.Parser()
        return parse(body)
    return _stdlib(body)


def _stdlib(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:  # not JSON, or not text
        return MALFORMED
