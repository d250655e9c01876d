"""Comment-preserving, byte-surgical YAML edits, verified before they are returned.

A ruamel.yaml round-trip reformats files (quotes, indentation, comments, blank lines), so a
one-value bump would show up in review as a rewrite of the whole file. Instead we only use
ruamel.yaml's *parser* to learn where every node sits in the raw text (its events carry
character offsets, CRLF and BOM included) and then splice new text into the original
string. Everything outside the value being set keeps its exact bytes.

No edit is returned unverified: the new text is read back with ruamel.yaml's composer
(not the editor's tree) and must equal, as data, the original with exactly the intended
change; an edit that would also change another path through an anchor is refused unless
it follows aliases. See docs/definitions.md, "YAML edits".

Public API: ``parse_path``, ``YamlPath``, ``set_value``, ``append_items``,
``merge_overlay``, ``yaml_problem`` and ``YamlEditError``.

Modules, each using only those listed before it: ``errors``, ``path`` (edit paths),
``positions`` (offsets in the raw text), ``tree`` (parser events composed into nodes),
``values`` (nodes as Python data), ``datapaths`` (values at paths of data, differences),
``keys`` (which key a path step names), ``readback``
(reading a result back, independently), ``scalars`` (scalar and one-line text), ``dump``
(block-style collections), ``locate`` (walking a path), ``plan`` (splices replacing a
node), ``create`` (splices adding missing keys and items), ``verify`` (the checks every
edit passes) and ``edit`` (the public edits).
"""

from __future__ import annotations

from .edit import append_items, merge_overlay, set_value
from .errors import YamlEditError
from .path import YamlPath, parse_path
from .readback import yaml_problem

__all__ = [
    "YamlEditError",
    "YamlPath",
    "append_items",
    "merge_overlay",
    "parse_path",
    "set_value",
    "yaml_problem",
]
