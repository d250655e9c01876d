"""YAML from untrusted text, refused before any expansion work when it is too big.

Composing a YAML stream into nodes is linear in its text: an alias is one more reference to
a node already composed. What explodes is constructing Python values from the nodes (and
every walk over them after): nine aliases to a list of nine aliases, seven levels deep, is
a 13-line file that expands to millions of values. So nodes are counted while composing
(per document and per file, with a depth bound), then each document's size with every
alias expanded is computed over the node graph with memoization, and only a document
within the limits is constructed.
"""

from __future__ import annotations

from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer
from ruamel.yaml.nodes import MappingNode, SequenceNode

from prbot.automation.limits import LIMITS, Limits

MAX_DEPTH = 100  # nesting levels; real definitions have about 10


class YamlLimitError(ValueError):
    """A YAML stream over a limit; ``document`` (1-based) and ``line`` locate it."""

    def __init__(self, message: str, document: int | None = None, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.document = document
        self.line = line


class FolderBudget:
    """Nodes composed in all the files of one load (a repository's ``.prbot/``), against
    ``limits.max_repo_nodes``; pass the same one to each ``load_all`` of the load."""

    def __init__(self, limits: Limits = LIMITS):
        self.limit = limits.max_repo_nodes
        self.used = 0

    @property
    def spent(self) -> bool:
        return self.used > self.limit


class _Budget:
    def __init__(self, limits: Limits, folder: FolderBudget | None):
        self.limits = limits
        self.folder = folder
        self.document = 0
        self.document_nodes = 0
        self.file_nodes = 0


class _CountingComposer(Composer):
    """ruamel's composer, counting nodes as they are composed and refusing at a limit."""

    def compose_document(self) -> Any:
        budget: _Budget = self.loader.prbot_budget
        budget.document += 1
        budget.document_nodes = 0
        return super().compose_document()

    def compose_node(self, parent: Any, index: Any) -> Any:
        budget: _Budget = self.loader.prbot_budget
        limits = budget.limits
        budget.document_nodes += 1
        budget.file_nodes += 1
        if budget.document_nodes > limits.max_alias_nodes:
            raise YamlLimitError(
                f"has more than {limits.max_alias_nodes} YAML nodes (max_alias_nodes)",
                budget.document,
                self._line(),
            )
        if budget.file_nodes > limits.max_file_nodes:
            raise YamlLimitError(
                f"has more than {limits.max_file_nodes} YAML nodes in all (max_file_nodes)",
                budget.document,
                self._line(),
            )
        folder = budget.folder
        if folder is not None:
            folder.used += 1
            if folder.used > folder.limit:
                raise YamlLimitError(
                    f"takes the folder's definitions over {folder.limit} YAML nodes in all "
                    "(max_repo_nodes)",
                    budget.document,
                    self._line(),
                )
        if self.depth >= MAX_DEPTH:
            raise YamlLimitError(
                f"nests more than {MAX_DEPTH} levels deep", budget.document, self._line()
            )
        return super().compose_node(parent, index)

    def _line(self) -> int | None:
        event = self.parser.peek_event()
        mark = getattr(event, "start_mark", None)
        return mark.line + 1 if mark is not None else None


def expanded_size(root: Any, cap: int) -> int:
    """The number of nodes of ``root`` with every alias expanded, computed over the node
    graph once per node (memoized), so it costs what the text costs however much the
    aliases multiply. Stops counting past ``cap``. Raises ValueError for an alias to a
    node that contains it (a recursive structure)."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, leaving = stack.pop()
        key = id(node)
        kids = _children(node)
        if leaving:
            open_nodes.discard(key)
            sizes[key] = min(cap + 1, 1 + sum(sizes[id(k)] for k in kids))
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise ValueError("an alias refers to a node that contains it")
        open_nodes.add(key)
        stack.append((node, True))
        for kid in kids:
            if id(kid) in open_nodes:
                raise ValueError("an alias refers to a node that contains it")
            if id(kid) not in sizes:
                stack.append((kid, False))
    return sizes[id(root)]


def _children(node: Any) -> list[Any]:
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def load_all(
    yaml: YAML, text: str, limits: Limits = LIMITS, folder: FolderBudget | None = None
) -> list[Any]:
    """Every document of ``text``, loaded with ``yaml`` (a configured ruamel YAML, pure
    Python). Raises YamlLimitError over a limit, ruamel's YAMLError for invalid YAML.
    ``folder``: the node budget shared by the files of one folder."""
    budget = _Budget(limits, folder)
    yaml.Composer = _CountingComposer
    yaml.prbot_budget = budget  # type: ignore[attr-defined]
    constructor, parser = yaml.get_constructor_parser(text)
    composer = constructor.composer
    documents: list[Any] = []
    try:
        while composer.check_node():
            if budget.document >= limits.max_documents:
                raise YamlLimitError(
                    f"has more than {limits.max_documents} YAML documents (max_documents)",
                    None,
                    composer._line(),
                )
            node = composer.get_node()
            if node is None:
                continue
            try:
                size = expanded_size(node, limits.max_alias_nodes)
            except ValueError as exc:
                raise YamlLimitError(str(exc), budget.document, node.start_mark.line + 1) from None
            if size > limits.max_alias_nodes:
                raise YamlLimitError(
                    f"aliases expand it to more than {limits.max_alias_nodes} YAML nodes "
                    "(max_alias_nodes); refused before expanding",
                    budget.document,
                    node.start_mark.line + 1,
                )
            documents.append(constructor.construct_document(node))
    finally:
        parser.dispose()
        for part in ("reader", "scanner"):
            reset = getattr(getattr(yaml, "_" + part, None), f"reset_{part}", None)
            if reset is not None:
                reset()
    return documents
