"""Jinja2 rendering in a sandbox, with the filters GitOps templates need.

Templates come from repositories, so they are untrusted: the sandbox blocks attribute
escapes (``__class__``, ``__globals__``, ...), string repetition and ``range`` are capped,
and every rendered string has a size limit. One root variable, ``context``.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import shlex
from collections.abc import Iterator, Mapping
from typing import Any

import jinja2
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from ruamel.yaml import YAML

from prbot.automation.errors import RenderError

MAX_OUTPUT_CHARS = 4 * 1024 * 1024
MAX_OPERAND_CHARS = 1024 * 1024
_SINGLE_EXPRESSION = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\}\}|\{\{|\{%|\{#).)*)\}\}\s*$", re.S)


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


def _regex_replace(value: Any, pattern: str, replacement: str, count: int = 0) -> str:
    if len(pattern) > 1024:
        raise SecurityError("regex_replace pattern is longer than 1024 characters")
    return re.sub(pattern, replacement, str(value), count=count)


def _regex_search(value: Any, pattern: str) -> bool:
    if len(pattern) > 1024:
        raise SecurityError("regex_search pattern is longer than 1024 characters")
    return re.search(pattern, str(value)) is not None


def _default(value: Any, default_value: Any = "", boolean: bool = False) -> Any:
    # StrictUndefined raises on any use, so jinja's own default filter sees it fine; this
    # version also treats None (an unset optional input) as missing.
    if isinstance(value, jinja2.Undefined) or value is None:
        return default_value
    if boolean and not value:
        return default_value
    return value


class TemplateSandbox(ImmutableSandboxedEnvironment):
    """The sandbox with resource limits on the operations that can blow up.

    Immutable: a template cannot change the context another template sees. Data first:
    ``context.items`` is the input named ``items``, not ``dict.items``.
    """

    intercepted_binops = frozenset({"*", "**"})

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, dict) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                sized = isinstance(seq, str | list | tuple) and isinstance(n, int)
                if sized and len(seq) * max(n, 0) > MAX_OPERAND_CHARS:
                    raise SecurityError("the result of * would be too large")
        if operator == "**" and isinstance(right, int) and right > 256:
            raise SecurityError("exponent too large")
        return super().call_binop(context, operator, left, right)


def escape_glob(value: Any) -> Any:
    """Make an interpolated value literal inside a glob: an input of ``*`` must not turn
    ``old/{{ context.name }}.yaml`` into a pattern that matches every file."""
    if isinstance(value, str | int | float):
        return re.sub(r"([*?\[])", r"[\1]", str(value))
    return value


def make_environment(finalize: Any = None) -> TemplateSandbox:
    env = TemplateSandbox(
        finalize=finalize,
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=False,
        lstrip_blocks=False,
    )
    env.filters.update(
        to_yaml=_to_yaml,
        toyaml=_to_yaml,
        to_json=_to_json,
        tojson=_to_json,
        b64encode=_b64encode,
        b64decode=_b64decode,
        quote=_quote,
        shell_quote=_squote,
        regex_replace=_regex_replace,
        default=_default,
        d=_default,
    )
    env.tests["match"] = _regex_search
    return env


ENVIRONMENT = make_environment()
GLOB_ENVIRONMENT = make_environment(finalize=escape_glob)


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


def _limited(chunks: Iterator[str], name: str) -> str:
    out: list[str] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > MAX_OUTPUT_CHARS:
            raise RenderError(f"{name}: output is larger than {MAX_OUTPUT_CHARS} characters")
        out.append(chunk)
    return "".join(out)


@functools.lru_cache(maxsize=512)
def _compile(source: str, name: str, glob: bool = False) -> jinja2.Template:
    # compiled with the template's name as filename, so tracebacks carry its lines
    env = GLOB_ENVIRONMENT if glob else ENVIRONMENT
    code = env.compile(source, name=name, filename=name)
    return env.template_class.from_code(env, code, env.make_globals(None), None)


@functools.lru_cache(maxsize=512)
def _compile_expression(expr: str):
    return ENVIRONMENT.compile_expression(expr, undefined_to_none=False)


def render_string(source: str, context: Mapping[str, Any], name: str, *, glob: bool = False) -> str:
    """Render one template string; errors name the template (``name``) and line.

    ``glob``: the result is a file pattern, so interpolated values are made literal.
    """
    if "{" not in source:  # nothing to render: keep it fast and exact
        return source
    try:
        return _limited(_compile(source, name, glob).generate(context), name)
    except RenderError:
        raise
    except (TemplateError, SecurityError, ArithmeticError, TypeError, ValueError) as exc:
        raise template_error(exc, name) from None
    except (RecursionError, MemoryError, OverflowError) as exc:
        raise RenderError(
            f"{name}: template too expensive to render ({type(exc).__name__})"
        ) from None


def render_value(source: str, context: Mapping[str, Any], name: str) -> Any:
    """Render a templated value: a lone ``{{ expr }}`` keeps its native type (int, bool,
    list), anything else renders to a string. Used for yamlEdits values."""
    m = _SINGLE_EXPRESSION.match(source)
    if not m:
        return render_string(source, context, name)
    try:
        expr = _compile_expression(m.group("expr").strip())
        value = expr(**context)
    except (TemplateError, SecurityError, ArithmeticError, TypeError, ValueError) as exc:
        raise template_error(exc, name) from None
    if isinstance(value, jinja2.Undefined):
        try:
            str(value)
        except TemplateError as exc:
            raise template_error(exc, name) from None
    if isinstance(value, str) and len(value) > MAX_OUTPUT_CHARS:
        raise RenderError(f"{name}: output is larger than {MAX_OUTPUT_CHARS} characters")
    return value


def evaluate_condition(expression: str, context: Mapping[str, Any], name: str) -> bool:
    """A Jinja expression over ``context`` (``context.cloud == 'aws'``); empty is true."""
    if not expression.strip():
        return True
    text = expression.strip()
    m = _SINGLE_EXPRESSION.match(text)
    if m:  # tolerate "{{ ... }}" around the expression
        text = m.group("expr").strip()
    try:
        return bool(_compile_expression(text)(**context))
    except (TemplateError, SecurityError, ArithmeticError, TypeError, ValueError) as exc:
        raise template_error(exc, name) from None


def syntax_error(source: str, *, expression: bool = False) -> tuple[int, str] | None:
    """(line, message) of a template's syntax error, or None: for ``prbot validate``."""
    if expression:
        m = _SINGLE_EXPRESSION.match(source)
        source = "{{ " + (m.group("expr") if m else source) + " }}"
    elif "{" not in source:
        return None
    try:
        ENVIRONMENT.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        return exc.lineno, exc.message or "syntax error"
    return None
