"""Comment-preserving, byte-surgical YAML edits.

A ruamel.yaml round-trip reformats files (quotes, indentation, comments, blank lines), so a
one-value bump would show up in review as a rewrite of the whole file. Instead we only use
ruamel.yaml's *parser* to learn where every node sits in the raw text (its events carry
character offsets, CRLF and BOM included) and then splice new text into the original
string. Everything outside the value being set keeps its exact bytes.

Public API: ``parse_path``, ``YamlPath``, ``set_value``, ``append_items``,
``merge_overlay`` and ``YamlEditError``.

Modules, each using only those listed before it: ``errors``, ``path`` (edit paths),
``positions`` (offsets in the raw text), ``tree`` (parser events composed into nodes),
``values`` (nodes as Python data), ``scalars`` (scalar and one-line text), ``dump``
(block-style collections), ``locate`` (walking a path), ``plan`` (splices replacing a
node), ``create`` (splices adding missing keys and items) and ``edit`` (the public edits).
"""

from __future__ import annotations

from .edit import append_items, merge_overlay, set_value
from .errors import YamlEditError
from .path import YamlPath, parse_path

__all__ = ["YamlEditError", "YamlPath", "append_items", "merge_overlay", "parse_path", "set_value"]
