"""Jinja2 rendering in a sandbox, with the filters GitOps templates need.

Templates come from repositories, so they are untrusted: the sandbox blocks attribute
escapes (``__class__``, ``__globals__``, ...), and every operation that can grow a string,
a list or a number is bounded by the ``Limits`` it renders with: ``~``, ``+``, ``*``, ``%``,
``**``, ``str.format`` widths, block captures, ``join``, ``range``, the padding and
repeating filters and string methods. Where it is cheap the size is checked before the
result is built (a format width, a repetition count), so ``{% set a = a ~ a %}`` in a loop
fails at 1 MiB instead of building 64 MB. Regular expressions run on RE2. One root
variable, ``context``.
"""

from __future__ import annotations

import base64
import functools
import itertools
import json
import re
import shlex
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import jinja2
from jinja2 import StrictUndefined, TemplateError, nodes
from jinja2 import filters as jinja_filters
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.runtime import markup_join, str_join
from jinja2.sandbox import (
    ImmutableSandboxedEnvironment,
    SandboxedEscapeFormatter,
    SandboxedFormatter,
    SecurityError,
)
from jinja2.utils import _PassArg, generate_lorem_ipsum, pass_environment, pass_eval_context
from markupsafe import Markup
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from prbot.automation import regex
from prbot.automation.errors import RenderError
from prbot.automation.limits import LIMITS, LimitExceeded, Limits, size_text, text_size

MAX_INT_BITS = 16_384  # about 4900 decimal digits (Python prints at most 4300)
_SINGLE_EXPRESSION = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\}\}|\{\{|\{%|\{#).)*)\}\}\s*$", re.S)
_PERCENT = re.compile(r"%(?:\(([^)]*)\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?([a-zA-Z%])")
_DIGITS = re.compile(r"\d+")
# filters that do not turn their value into text (the others are checked before they do)
_KEEPS_VALUE = frozenset(
    {
        "abs", "attr", "batch", "count", "d", "default", "dictsort", "first", "float",
        "groupby", "int", "items", "last", "length", "list", "map", "max", "min", "random",
        "reject", "rejectattr", "reverse", "round", "select", "selectattr", "slice", "sort",
        "sum", "unique", "join", "filesizeformat",
        "to_yaml", "toyaml", "to_json", "tojson", "pprint",  # checked with their indent
    }
)  # fmt: skip


def _to_yaml(value: Any, indent: int = 2) -> str:
    from io import StringIO

    y = YAML(typ="safe", pure=True)
    y.default_flow_style = False
    y.indent(mapping=indent, sequence=indent + 2, offset=indent)
    y.width = 4096
    out = StringIO()
    y.dump(value, out)
    text = out.getvalue()
    return text[:-5] if text.endswith("\n...\n") else text.rstrip("\n")


def _to_json(value: Any, indent: int | None = None) -> str:
    return json.dumps(value, indent=indent, sort_keys=False, ensure_ascii=False)


def _b64encode(value: Any) -> str:
    data = value if isinstance(value, bytes) else str(value).encode()
    return base64.b64encode(data).decode()


def _b64decode(value: str) -> str:
    return base64.b64decode(value).decode()


def _quote(value: Any) -> str:
    """A double-quoted YAML/JSON string: safe for any value inside a YAML template."""
    return json.dumps(str(value), ensure_ascii=False)


def _squote(value: Any) -> str:
    return shlex.quote(str(value))


def _default(value: Any, default_value: Any = "", boolean: bool = False) -> Any:
    # StrictUndefined raises on any use, so jinja's own default filter sees it fine; this
    # version also treats None (an unset optional input) as missing.
    if isinstance(value, jinja2.Undefined) or value is None:
        return default_value
    if boolean and not value:
        return default_value
    return value


def _regex_problem(kind: str, pattern: Any) -> regex.RegexError | None:
    if not isinstance(pattern, str):
        return regex.RegexError(f"{kind} pattern must be a string")
    problem = regex.check(pattern)
    return regex.RegexError(f"{kind} pattern {pattern!r} {problem}") if problem else None


class _LimitedCodeGenerator(CodeGenerator):
    """Jinja's code generator, with ``~`` routed through the environment's size check."""

    @optimizeconst
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        if frame.eval_ctx.volatile:
            escaping = "context.eval_ctx.autoescape"
        else:
            escaping = "True" if frame.eval_ctx.autoescape else "False"
        self.write(f"environment.concat_values({escaping}, (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class _LimitedFormatter(SandboxedFormatter):
    """``str.format`` with widths and the result's size checked as each field is built."""

    def __init__(self, env: TemplateSandbox, **kwargs: Any):
        super().__init__(env, **kwargs)
        self._sandbox = env
        self._total = 0

    def vformat(self, format_string: str, args: Any, kwargs: Any) -> str:
        self._total = len(format_string)
        return super().vformat(format_string, args, kwargs)

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        if conversion is not None:
            self._sandbox.check_text(value, "str.format()")
        return super().convert_field(value, conversion)

    def format_field(self, value: Any, format_spec: str) -> Any:
        sandbox = self._sandbox
        for number in _DIGITS.findall(format_spec):
            sandbox.check_width(number, "str.format()")
        sandbox.check_text(value, "str.format()")
        result = super().format_field(value, format_spec)
        self._total += len(result)
        if self._total > sandbox.limits.max_string:
            raise sandbox.too_long("str.format()")
        return result


class _LimitedEscapeFormatter(_LimitedFormatter, SandboxedEscapeFormatter):
    pass


class TemplateSandbox(ImmutableSandboxedEnvironment):
    """The sandbox with resource limits on the operations that can blow up.

    Immutable: a template cannot change the context another template sees. Data first:
    ``context.items`` is the input named ``items``, not ``dict.items``.
    """

    intercepted_binops = frozenset({"*", "**", "+", "%"})
    code_generator_class = _LimitedCodeGenerator

    def __init__(self, *args: Any, limits: Limits = LIMITS, **kwargs: Any):
        self.limits = limits
        super().__init__(*args, **kwargs)
        inner = self.finalize

        def finalize(value: Any) -> Any:
            self.check_text(value, "output")
            return inner(value) if inner is not None else value

        self.finalize = finalize
        # block captures ({% set %}...{% endset %}), macros, call and filter blocks
        self.concat = self._concat  # type: ignore[method-assign]
        self.globals["range"] = self._range
        self.globals["lipsum"] = self._lipsum

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, dict) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)

    # -- the limits, as errors

    def too_long(self, operation: str) -> LimitExceeded:
        return LimitExceeded(
            f"template string exceeds {size_text(self.limits.max_string)} (max_string) "
            f"in {operation}"
        )

    def too_many(self, operation: str) -> LimitExceeded:
        return LimitExceeded(
            f"template list exceeds {self.limits.max_list} items (max_list) in {operation}"
        )

    def too_big(self, operation: str) -> LimitExceeded:
        return LimitExceeded(f"template number exceeds {MAX_INT_BITS} bits in {operation}")

    def check_text(self, value: Any, operation: str, *, indent: int = 0) -> Any:
        """Refuse a value whose text form would be too long, before it is built (a list
        can hold the same big string many times over)."""
        limit = self.limits.max_string
        size = len(value) if isinstance(value, str) else text_size(value, limit, indent=indent)
        if size > limit:
            raise self.too_long(operation)
        return value

    def check_width(self, number: Any, operation: str) -> None:
        """A width, padding or precision: at most the longest string a template may build."""
        if isinstance(number, str):
            if len(number) > 9 or int(number) > self.limits.max_string:
                raise self.too_long(operation)
        elif isinstance(number, int) and number > self.limits.max_string:
            raise self.too_long(operation)

    def checked(self, result: Any, operation: str) -> Any:
        """The result of an operation, refused if it is too big (the size is known)."""
        if isinstance(result, str | bytes | bytearray):
            if len(result) > self.limits.max_string:
                raise self.too_long(operation)
        elif isinstance(result, list | tuple | dict | set | frozenset) and (
            len(result) > self.limits.max_list
        ):
            raise self.too_many(operation)
        return result

    def _bounded_items(self, value: Iterable[Any], operation: str) -> list[Any]:
        items = list(itertools.islice(iter(value), self.limits.max_list + 1))
        if len(items) > self.limits.max_list:
            raise self.too_many(operation)
        return items

    def _text_total(self, items: Iterable[Any], operation: str, extra: int = 0) -> None:
        limit = self.limits.max_string
        total = extra
        for item in items:
            if total > limit:
                break
            total += len(item) if isinstance(item, str) else text_size(item, limit - total)
        if total > limit:
            raise self.too_long(operation)

    # -- operators

    def concat_values(self, escaping: bool, values: tuple[Any, ...]) -> str:
        self._text_total(values, "'~'")
        return markup_join(values) if escaping else str_join(values)

    def _concat(self, chunks: Iterable[str]) -> str:
        """``environment.concat``: what a block capture, macro or call block produces is
        a template string like any other. (Rendering goes through ``render_string``, which
        bounds a whole file by ``max_output_file_bytes``; ``Template.render()`` would be
        bounded by this too.)"""
        limit = self.limits.max_string
        out: list[str] = []
        total = 0
        for chunk in chunks:
            total += len(chunk)
            if total > limit:
                raise self.too_long("a block")
            out.append(chunk)
        return "".join(out)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        op = f"'{operator}'"
        if operator == "*":
            self._check_repeat(left, right, op)
        elif operator == "+":
            self._check_add(left, right, op)
        elif operator == "**" and _is_int(left) and _is_int(right) and right > 0:
            if max(left.bit_length(), 1) * right > MAX_INT_BITS:
                raise self.too_big(op)
        elif operator == "%" and isinstance(left, str):
            self._check_percent(left, right, op)
        return self.checked(super().call_binop(context, operator, left, right), op)

    def _check_add(self, left: Any, right: Any, op: str) -> None:
        strings = isinstance(left, str | bytes) and isinstance(right, str | bytes)
        if strings and len(left) + len(right) > self.limits.max_string:
            raise self.too_long(op)
        lists = isinstance(left, list | tuple) and isinstance(right, list | tuple)
        if lists and len(left) + len(right) > self.limits.max_list:
            raise self.too_many(op)

    def _check_repeat(self, left: Any, right: Any, op: str) -> None:
        for seq, n in ((left, right), (right, left)):
            if not _is_int(n):
                continue
            if isinstance(seq, str | bytes) and len(seq) * max(n, 0) > self.limits.max_string:
                raise self.too_long(op)
            if isinstance(seq, list | tuple) and len(seq) * max(n, 0) > self.limits.max_list:
                raise self.too_many(op)
        ints = _is_int(left) and _is_int(right)
        if ints and left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise self.too_big(op)

    def _check_percent(self, fmt: str, args: Any, op: str) -> None:
        """``'%*s' % (n, x)``, ``'%(a)s%(a)s' % {...}``, ``'%.99999999f'``: the result's
        size, estimated from the widths and the arguments, before it is built."""
        total = len(fmt)
        star = False
        named: list[str] = []
        for m in _PERCENT.finditer(fmt):
            key, width, precision, kind = m.groups()
            if kind == "%":
                continue
            for number in (width, precision):
                if number == "*":
                    star = True
                elif number:
                    self.check_width(number, op)
                    total += int(number)
            if key is not None:
                named.append(key)
        if isinstance(args, Mapping):
            values: list[Any] = [args.get(k) for k in named] if named else [args]
        elif isinstance(args, tuple):
            values = list(args)
        else:
            values = [args]
        if star:
            for v in values:
                if _is_int(v):
                    self.check_width(v, op)
        self._text_total(values, op, total)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """Calls from templates; string methods that pad or repeat are checked first."""
        owner = getattr(__obj, "__self__", None)
        name = getattr(__obj, "__name__", "")
        operation = f"{name}()" if name else "a call"
        if isinstance(owner, str | bytes):
            operation = f"{type(owner).__name__}.{name}()"
            args = __self._check_method(owner, name, args, kwargs, operation)
        result = super().call(__context, __obj, *args, **kwargs)
        return __self.checked(result, operation)

    def _check_method(
        self, s: str | bytes, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], op: str
    ) -> tuple[Any, ...]:
        limit = self.limits.max_string
        if name in ("center", "ljust", "rjust", "zfill") and args:
            self.check_width(args[0], op)
        elif name == "expandtabs":
            size = args[0] if args else kwargs.get("tabsize", 8)
            if (
                _is_int(size)
                and len(s) + s.count("\t" if isinstance(s, str) else b"\t") * max(size, 0) > limit
            ):
                raise self.too_long(op)
        elif name == "replace" and len(args) >= 2:
            self._check_replace(s, args[0], args[1], args[2] if len(args) > 2 else -1, op)
        elif name == "join" and args:
            items = self._bounded_items(args[0], op)
            self._text_total(items, op, len(s) * max(len(items) - 1, 0))
            args = (items, *args[1:])
        elif name == "translate" and args and isinstance(args[0], Mapping):
            longest = max(
                (len(v) for v in args[0].values() if isinstance(v, str | bytes)), default=1
            )
            if len(s) * longest > limit:
                raise self.too_long(op)
        return args

    def _check_replace(self, s: Any, old: Any, new: Any, count: Any, op: str) -> None:
        if not isinstance(s, str | bytes) or not isinstance(old, str | bytes):
            return
        if not isinstance(new, str | bytes) or type(old) is not type(s):
            return
        times = s.count(old) if old else len(s) + 1  # type: ignore[arg-type]
        if _is_int(count) and count >= 0:
            times = min(times, count)
        if len(s) + times * (len(new) - len(old)) > self.limits.max_string:
            raise self.too_long(op)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """``str.format`` / ``format_map`` through a formatter that checks widths and size."""
        if not isinstance(value, types.MethodType | types.BuiltinMethodType) or (
            value.__name__ not in ("format", "format_map")
        ):
            return None
        f_self = value.__self__
        if not isinstance(f_self, str):
            return None
        is_format_map = value.__name__ == "format_map"
        formatter: _LimitedFormatter = (
            _LimitedEscapeFormatter(self, escape=f_self.escape)  # type: ignore[attr-defined]
            if isinstance(f_self, Markup)
            else _LimitedFormatter(self)
        )

        def limited_format(*args: Any, **kwargs: Any) -> str:
            if is_format_map:
                if kwargs:
                    raise TypeError("format_map() takes no keyword arguments")
                if len(args) != 1:
                    raise TypeError(f"format_map() takes exactly one argument ({len(args)} given)")
                kwargs, args = args[0], ()
            return type(f_self)(formatter.vformat(f_self, args, kwargs))

        return functools.update_wrapper(limited_format, value)

    # -- globals

    def _range(self, *args: int) -> range:
        rng = range(*args)
        if len(rng) > self.limits.max_list:
            raise self.too_many("range()")
        return rng

    def _lipsum(self, n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
        if not (_is_int(n) and _is_int(max)) or n * max * 12 > self.limits.max_string:
            raise self.too_long("lipsum()")
        return generate_lorem_ipsum(n, html, min, max)

    # -- filters and tests

    def install_filters(self) -> None:
        """Replace the padding, repeating and collecting filters by checked versions, add
        ours, and guard every filter: its value's text size before, its result after."""
        self.filters.update(self._own_filters())
        for name, func in list(self.filters.items()):
            self.filters[name] = self._guard(name, func)
        self.tests["match"] = self._match

    def _guard(self, name: str, func: Callable[..., Any]) -> Callable[..., Any]:
        value_at = 0 if _PassArg.from_obj(func) is None else 1
        check_text = name not in _KEEPS_VALUE
        operation = f"filter {name}"

        @functools.wraps(func)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if check_text and len(args) > value_at:
                self.check_text(args[value_at], operation)
            return self.checked(func(*args, **kwargs), operation)

        return guarded

    def _own_filters(self) -> dict[str, Callable[..., Any]]:
        env = self
        limits = self.limits

        def center(value: Any, width: int = 80) -> str:
            env.check_width(width, "filter center")
            return jinja_filters.do_center(value, width)

        def indent(s: Any, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
            env.check_width(width, "filter indent")
            text = str(s)
            pad = len(width) if isinstance(width, str) else width if _is_int(width) else 0
            if len(text) + (text.count("\n") + 1) * pad > limits.max_string:
                raise env.too_long("filter indent")
            return jinja_filters.do_indent(text, width, first, blank)

        @pass_environment
        def wordwrap(
            environment: Any,
            s: Any,
            width: int = 79,
            break_long_words: bool = True,
            wrapstring: str | None = None,
            break_on_hyphens: bool = True,
        ) -> str:
            text = str(s)
            extra = max(len(wrapstring) - 1, 0) if isinstance(wrapstring, str) else 0
            if 2 * len(text) + (len(text) + 1) * extra > limits.max_string:
                raise env.too_long("filter wordwrap")
            return jinja_filters.do_wordwrap(
                environment, text, width, break_long_words, wrapstring, break_on_hyphens
            )

        @pass_eval_context
        def replace(eval_ctx: Any, s: Any, old: Any, new: Any, count: int | None = None) -> str:
            env._check_replace(str(s), old, new, -1 if count is None else count, "filter replace")
            return jinja_filters.do_replace(eval_ctx, s, old, new, count)

        def format_(value: Any, *args: Any, **kwargs: Any) -> str:  # value is text-checked
            env._check_percent(str(value), kwargs or args, "filter format")
            return jinja_filters.do_format(value, *args, **kwargs)

        @pass_eval_context
        def join(eval_ctx: Any, value: Any, d: str = "", attribute: Any = None) -> str:
            items = env._bounded_items(value, "filter join")
            shown = items
            if attribute is not None:
                shown = list(map(jinja_filters.make_attrgetter(env, attribute), items))
            env._text_total(shown, "filter join", len(str(d)) * max(len(items) - 1, 0))
            return jinja_filters.sync_do_join(eval_ctx, items, d, attribute)

        def list_(value: Any) -> list[Any]:
            return env._bounded_items(value, "filter list")

        def batch(value: Any, linecount: int, fill_with: Any = None) -> Iterator[list[Any]]:
            if _is_int(linecount) and linecount > limits.max_list:
                raise env.too_many("filter batch")
            return jinja_filters.do_batch(value, linecount, fill_with)

        @pass_eval_context
        def slice_(eval_ctx: Any, value: Any, slices: int, fill_with: Any = None) -> Any:
            if _is_int(slices) and slices > limits.max_list:
                raise env.too_many("filter slice")
            return jinja_filters.sync_do_slice(value, slices, fill_with)

        @pass_environment
        def sum_(environment: Any, iterable: Any, attribute: Any = None, start: Any = 0) -> Any:
            items = env._bounded_items(iterable, "filter sum")
            if attribute is not None:
                items = list(map(jinja_filters.make_attrgetter(environment, attribute), items))
            if isinstance(start, list | tuple) and all(type(i) is type(start) for i in items):
                if len(start) + sum(len(i) for i in items) > limits.max_list:
                    raise env.too_many("filter sum")
                return type(start)(itertools.chain(start, *items))  # linear, unlike sum()
            return sum(items, start)

        def indented(func: Callable[..., str], name: str, default: int) -> Callable[..., str]:
            """to_yaml / to_json: each item on its own line, indented per level."""

            def checked(value: Any, indent: Any = None, *args: Any, **kwargs: Any) -> str:
                step = indent if _is_int(indent) else default
                if step > 64:
                    raise env.too_long(f"filter {name} (indent {step})")
                env.check_text(value, f"filter {name}", indent=max(step, 0) + 2)
                if indent is None:
                    return func(value, *args, **kwargs)
                return func(value, indent, *args, **kwargs)

            return checked

        @pass_eval_context
        def tojson(eval_ctx: Any, value: Any, indent: int | None = None) -> Markup:
            step = indent if _is_int(indent) else 0
            if step > 64:
                raise env.too_long(f"filter tojson (indent {step})")
            env.check_text(value, "filter tojson", indent=step)
            return jinja_filters.do_tojson(eval_ctx, value, indent)

        def pprint(value: Any) -> str:
            env.check_text(value, "filter pprint", indent=1)
            return jinja_filters.do_pprint(value)

        def regex_replace(value: Any, pattern: str, replacement: str, count: int = 0) -> str:
            problem = _regex_problem("regex_replace", pattern)
            if problem:
                raise problem
            text = str(env.check_text(value, "filter regex_replace"))
            try:
                result, _ = regex.substitute(
                    regex.compile_regex(pattern),
                    str(replacement),
                    text,
                    count=count,
                    limit=limits.max_string,
                    what="the result",
                )
            except LimitExceeded:
                raise env.too_long("filter regex_replace") from None
            return result

        to_yaml = indented(_to_yaml, "to_yaml", 2)
        to_json = indented(_to_json, "to_json", 0)
        return {
            "center": center,
            "indent": indent,
            "wordwrap": wordwrap,
            "replace": replace,
            "format": format_,
            "join": join,
            "list": list_,
            "batch": batch,
            "slice": slice_,
            "sum": sum_,
            "tojson": tojson,
            "pprint": pprint,
            "to_yaml": to_yaml,
            "toyaml": to_yaml,
            "to_json": to_json,
            "b64encode": _b64encode,
            "b64decode": _b64decode,
            "quote": _quote,
            "shell_quote": _squote,
            "regex_replace": regex_replace,
            "default": _default,
            "d": _default,
        }

    def _match(self, value: Any, pattern: str) -> bool:
        problem = _regex_problem("match", pattern)
        if problem:
            raise problem
        return regex.search(pattern, str(self.check_text(value, "test match")))


def _is_int(value: Any) -> bool:
    return isinstance(value, int)


def escape_glob(value: Any) -> Any:
    """Make an interpolated value literal inside a glob: an input of ``*`` must not turn
    ``old/{{ context.name }}.yaml`` into a pattern that matches every file."""
    if isinstance(value, str | int | float):
        return re.sub(r"([*?\[])", r"[\1]", str(value))
    return value


def make_environment(finalize: Any = None, limits: Limits = LIMITS) -> TemplateSandbox:
    env = TemplateSandbox(
        finalize=finalize,
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=False,
        lstrip_blocks=False,
        limits=limits,
    )
    env.install_filters()
    return env


@functools.lru_cache(maxsize=16)
def sandbox_for(glob: bool = False, limits: Limits = LIMITS) -> TemplateSandbox:
    """The sandbox for ``limits`` (``glob``: interpolated values are made literal)."""
    return make_environment(finalize=escape_glob if glob else None, limits=limits)


ENVIRONMENT = sandbox_for()
GLOB_ENVIRONMENT = sandbox_for(glob=True)


def _template_line(exc: BaseException, name: str) -> int | None:
    """The template line an error was raised on, from jinja's rewritten traceback."""
    lineno = getattr(exc, "lineno", None)
    if lineno:
        return lineno
    tb = exc.__traceback__
    found = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == name:
            found = tb.tb_lineno
        tb = tb.tb_next
    return found


def _describe(exc: BaseException) -> str:
    if isinstance(exc, LimitExceeded | regex.RegexError):
        return str(exc)
    if isinstance(exc, SecurityError):
        return f"not allowed in a template: {exc}"
    if isinstance(exc, jinja2.UndefinedError):
        return f"undefined: {exc.message}"
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return f"syntax error: {exc.message}"
    message = getattr(exc, "message", None) or str(exc)
    return f"{type(exc).__name__}: {message}"


def template_error(exc: BaseException, name: str) -> RenderError:
    line = _template_line(exc, name)
    where = f"{name}:{line}" if line else name
    return RenderError(f"{where}: {_describe(exc)}")


def _limited(chunks: Iterator[str], name: str, limits: Limits) -> str:
    out: list[str] = []
    size = 0
    limit = limits.max_output_file_bytes
    for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise output_too_large(name, limits)
        out.append(chunk)
    return "".join(out)


def output_too_large(name: str, limits: Limits) -> RenderError:
    return RenderError(
        f"{name}: rendered output exceeds {size_text(limits.max_output_file_bytes)} "
        "(max_output_file_bytes)"
    )


@functools.lru_cache(maxsize=512)
def _compile(
    source: str, name: str, glob: bool = False, limits: Limits = LIMITS
) -> jinja2.Template:
    # compiled with the template's name as filename, so tracebacks carry its lines
    env = sandbox_for(glob, limits)
    code = env.compile(source, name=name, filename=name)
    return env.template_class.from_code(env, code, env.make_globals(None), None)


@functools.lru_cache(maxsize=512)
def _compile_expression(expr: str, limits: Limits = LIMITS) -> Any:
    return sandbox_for(False, limits).compile_expression(expr, undefined_to_none=False)


_RENDER_ERRORS = (
    TemplateError,
    SecurityError,
    ArithmeticError,
    TypeError,
    ValueError,
    LookupError,
    AttributeError,  # a filter given an argument of the wrong type
    YAMLError,  # to_yaml of a value YAML cannot represent
)


def render_string(
    source: str,
    context: Mapping[str, Any],
    name: str,
    *,
    glob: bool = False,
    limits: Limits = LIMITS,
) -> str:
    """Render one template string; errors name the template (``name``) and line.

    ``glob``: the result is a file pattern, so interpolated values are made literal.
    """
    if "{" not in source:  # nothing to render: keep it fast and exact
        return source
    try:
        return _limited(_compile(source, name, glob, limits).generate(context), name, limits)
    except RenderError:
        raise
    except _RENDER_ERRORS as exc:
        raise template_error(exc, name) from None
    except (RecursionError, MemoryError) as exc:
        raise RenderError(
            f"{name}: template too expensive to render ({type(exc).__name__})"
        ) from None


def render_value(
    source: str, context: Mapping[str, Any], name: str, *, limits: Limits = LIMITS
) -> Any:
    """Render a templated value: a lone ``{{ expr }}`` keeps its native type (int, bool,
    list), anything else renders to a string. Used for yamlEdits values."""
    m = _SINGLE_EXPRESSION.match(source)
    if not m:
        return render_string(source, context, name, limits=limits)
    try:
        expr = _compile_expression(m.group("expr").strip(), limits)
        value = expr(**context)
    except _RENDER_ERRORS as exc:
        raise template_error(exc, name) from None
    except (RecursionError, MemoryError) as exc:
        raise RenderError(
            f"{name}: template too expensive to render ({type(exc).__name__})"
        ) from None
    if isinstance(value, jinja2.Undefined):
        try:
            str(value)
        except TemplateError as exc:
            raise template_error(exc, name) from None
    limit = limits.max_output_file_bytes
    if text_size(value, limit) > limit:
        raise output_too_large(name, limits)
    return value


def evaluate_condition(
    expression: str, context: Mapping[str, Any], name: str, *, limits: Limits = LIMITS
) -> bool:
    """A Jinja expression over ``context`` (``context.cloud == 'aws'``); empty is true."""
    if not expression.strip():
        return True
    text = expression.strip()
    m = _SINGLE_EXPRESSION.match(text)
    if m:  # tolerate "{{ ... }}" around the expression
        text = m.group("expr").strip()
    try:
        return bool(_compile_expression(text, limits)(**context))
    except _RENDER_ERRORS as exc:
        raise template_error(exc, name) from None
    except (RecursionError, MemoryError) as exc:
        raise RenderError(
            f"{name}: template too expensive to render ({type(exc).__name__})"
        ) from None


def as_template(source: str, expression: bool) -> str | None:
    """The text to parse: an expression (a condition) wrapped in ``{{ }}``; a string with
    no ``{`` is no template (None)."""
    if expression:
        m = _SINGLE_EXPRESSION.match(source)
        return "{{ " + (m.group("expr") if m else source) + " }}"
    return source if "{" in source else None


def syntax_error(source: str, *, expression: bool = False) -> tuple[int, str] | None:
    """(line, message) of a template's syntax error, or None: for ``prbot validate``."""
    text = as_template(source, expression)
    if text is None:
        return None
    try:
        ENVIRONMENT.parse(text)
    except jinja2.TemplateSyntaxError as exc:
        return exc.lineno, exc.message or "syntax error"
    return None


def regex_problems(source: str, *, expression: bool = False) -> list[tuple[int, str]]:
    """(line, message) for each literal pattern of a ``regex_replace`` filter or a
    ``match`` test that RE2 cannot run, found at load time (a pattern built at render
    time is checked then, with the same message)."""
    text = as_template(source, expression)
    if text is None:
        return []
    try:
        tree = ENVIRONMENT.parse(text)
    except jinja2.TemplateSyntaxError:
        return []
    found: list[tuple[int, str]] = []
    for node in tree.find_all((nodes.Filter, nodes.Test)):
        kind = "regex_replace" if isinstance(node, nodes.Filter) else "match"
        if node.name != kind:
            continue
        given = node.args[0] if node.args else None
        given = given or next((kw.value for kw in node.kwargs if kw.key == "pattern"), None)
        if isinstance(given, nodes.Const) and isinstance(given.value, str):
            problem = _regex_problem(kind, given.value)
            if problem:
                found.append((node.lineno, str(problem)))
    return found
