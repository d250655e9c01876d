"""Positions in the raw text: whitespace, comments, line starts and ends, columns."""

from __future__ import annotations


def skip_props(text: str, i: int) -> int:
    """End of the anchor/tag properties starting at i (they stay untouched by edits)."""
    n = len(text)
    while i < n and text[i] in "&!":
        if text.startswith("!<", i):
            i = text.index(">", i) + 1
        else:
            i += 1
            while i < n and text[i] not in " \t\r\n,[]{}":
                i += 1
        nxt = skip_space(text, i)
        if nxt < n and text[nxt] in "&!":
            i = nxt
        else:
            break
    return i


def skip_space(text: str, i: int) -> int:
    """Skip whitespace, line breaks and comments."""
    n = len(text)
    while i < n:
        c = text[i]
        if c in " \t\r\n\ufeff":
            i += 1
        elif c == "#":
            j = text.find("\n", i)
            i = n if j == -1 else j
        else:
            break
    return i


def line_end(text: str, i: int) -> int:
    """Index of the line break (CR of a CRLF) ending the line that holds i."""
    j = text.find("\n", i)
    if j == -1:
        return len(text)
    return j - 1 if j > i and text[j - 1] == "\r" else j


def line_start(text: str, i: int) -> int:
    start = text.rfind("\n", 0, i) + 1
    return 1 if start == 0 and text.startswith("\ufeff") else start


def column(text: str, i: int) -> int:
    return i - line_start(text, i)


def first_on_line(text: str, i: int) -> bool:
    return text[line_start(text, i) : i].strip(" \t") == ""


def line_number(text: str, i: int) -> int:
    """The 1-based line that holds offset i, for messages."""
    return text.count("\n", 0, i) + 1
