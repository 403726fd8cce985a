"""The template engine personalisation renders with: Jinja2's `ImmutableSandboxedEnvironment`, held
to what plain-text templates need and to a bounded amount of work.

What a template cannot do:
- reach Python objects: the sandbox refuses attributes starting with `_` and Python's internals
  (`{{ ''.__class__ }}`, `{{ cycler.__init__.__globals__ }}`, `self._TemplateReference__context`)
  and changing lists or dicts; a template naming such an attribute is refused before it renders;
- reach files or the network: there is no loader, so `import`, `include`, `extends` and
  `from ... import` are refused before anything renders; the globals are `range`, `cycler`,
  `joiner` and `namespace` only;
- run away: the template is at most `MAX_TEMPLATE_CHARS` long; a render has `MAX_WORK` units of
  work (one per loop pass and per output in its body, ten per call, one per number a `range`
  gives, one per character a filter, a call or an operator makes) and produces at most
  `MAX_OUTPUT_CHARS` (the whole content, and each captured block or macro output); `range` gives
  at most 100,000 numbers; repeating or adding text or lists (`'x' * 10**9`) may not pass
  `MAX_OUTPUT_CHARS`, nor may a list, a dict or a call's arguments turned into text (by `{{ }}`,
  `~`, a filter or a test); whole numbers may not pass `MAX_INT_BITS` bits (`2 ** 100000`); text
  is not formatted with `%` or `str.format`, and the string methods that pad or rebuild text
  (`center`, `ljust`, `zfill`, `replace`, `join`, ...) are not available (the `replace` and
  `join` filters are, bounded); the filters are the safe built-ins listed in `_BUILTIN_FILTERS`
  plus `join`, `replace`, `money`, `number` and `date`.

Errors: `TemplateTooLarge` (413 `template_too_large`), `TemplateInvalid` (422 `template_invalid`:
a syntax error with its line, a filter that does not exist, a render that failed on the values),
`TemplateUnsafe` (400 `template_unsafe`: refused access or a limit reached), `MissingVariables`
(422 `missing_variables`).

Text is plain: no HTML escaping. Values are shown as `tidings.crm.formats` says (the environment's
`finalize`); a variable written on its own is formatted by its name, which is decided when the
template compiles. A compiled template is kept in a small LRU cache keyed by its text and style.
"""

from __future__ import annotations

import math
import re
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache, wraps
from typing import Any, cast

from jinja2 import StrictUndefined, Template, Undefined, nodes, pass_eval_context
from jinja2.exceptions import SecurityError, TemplateRuntimeError, TemplateSyntaxError, UndefinedError
from jinja2.filters import FILTERS, do_replace, make_attrgetter
from jinja2.meta import find_undeclared_variables
from jinja2.nodes import EvalContext
from jinja2.runtime import Context
from jinja2.sandbox import MAX_RANGE, ImmutableSandboxedEnvironment
from jinja2.utils import Cycler, Joiner, Namespace
from jinja2.visitor import NodeTransformer

from tidings.core.errors import PayloadTooLarge, TidingsError, ValidationFailed
from tidings.crm.formats import by_name, date_text, format_value, kind_of, money, number
from tidings.crm.style import restyle

MAX_TEMPLATE_CHARS = 20_000
MAX_OUTPUT_CHARS = 100_000
MAX_WORK = 1_000_000
MAX_INT_BITS = 4096
_CALL_COST = 10  # a call (a macro, a method) costs more than a loop pass
_CACHE_SIZE = 256

_BUILTIN_FILTERS = (
    "abs",
    "capitalize",
    "count",
    "d",
    "default",
    "dictsort",
    "first",
    "float",
    "groupby",
    "int",
    "items",
    "last",
    "length",
    "list",
    "lower",
    "map",
    "max",
    "min",
    "reject",
    "rejectattr",
    "reverse",
    "round",
    "select",
    "selectattr",
    "sort",
    "string",
    "sum",
    "title",
    "trim",
    "truncate",
    "unique",
    "upper",
    "urlencode",
    "wordcount",
)
# Filters that turn their input into text: a list or dict going in must not be larger than the output.
_TEXT_FILTERS = frozenset(
    {"capitalize", "lower", "upper", "title", "trim", "truncate", "wordcount", "string", "urlencode"}
)
_STR_METHODS_REFUSED = frozenset(
    {
        "center",
        "ljust",
        "rjust",
        "zfill",
        "expandtabs",
        "format",
        "format_map",
        "encode",
        "translate",
        "maketrans",
        "replace",
        "join",
    }
)
_LOAD_STATEMENTS = (nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)
_OPTIONAL_FILTERS = frozenset({"default", "d"})
_OPTIONAL_TESTS = frozenset({"defined", "undefined"})
_LOOP = "guard loop"  # internal filter names: a space keeps them out of a template's reach
_CONCAT = "guard concat"
_DIGITS = "guard digits"


class TemplateInvalid(ValidationFailed):
    code = "template_invalid"


class TemplateUnsafe(TidingsError):
    status = 400
    code = "template_unsafe"


class TemplateTooLarge(PayloadTooLarge):
    code = "template_too_large"


class MissingVariables(ValidationFailed):
    code = "missing_variables"


# -- the work a render may do


class _Budget:
    __slots__ = ("left",)

    def __init__(self, units: int) -> None:
        self.left = units


_BUDGET: ContextVar[_Budget | None] = ContextVar("tidings_template_budget", default=None)


def _spend(units: int) -> None:
    budget = _BUDGET.get()
    if budget is None:  # constant folding while compiling: no render under way
        return
    budget.left -= units
    if budget.left < 0:
        raise TemplateUnsafe(
            f"the template does too much work (more than {MAX_WORK:,} steps): loops or calls run away",
            {"limit": "work", "max": MAX_WORK},
        )


def _size(value: Any, limit: int = MAX_OUTPUT_CHARS) -> int:
    """About how many characters `value` shows as: text by its length, lists and dicts by their
    items (each at least 1); counting stops past `limit`."""
    if isinstance(value, str | bytes):
        return len(value)
    if not isinstance(value, list | tuple | dict | set | frozenset):
        return 1
    total, stack = 0, [cast(Any, value)]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, str | bytes):
            total += max(1, len(item))
        elif isinstance(item, dict):
            total += 1
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            total += 1
            stack.extend(item)
        else:
            total += 1
    return total


def _too_large(what: str) -> TemplateUnsafe:
    return TemplateUnsafe(
        f"{what} would be longer than {MAX_OUTPUT_CHARS:,} characters",
        {"limit": "output", "max": MAX_OUTPUT_CHARS},
    )


def _bounded(value: Any, what: str) -> Any:
    """`value`, charged to the budget by its size; TemplateUnsafe when it is too large."""
    size = _size(value)
    if size > MAX_OUTPUT_CHARS:
        raise _too_large(what)
    _spend(size)
    return value


def _bounded_concat(chunks: Iterable[str]) -> str:
    """The environment's `concat`: joins the content and every captured block or macro output,
    refusing more than MAX_OUTPUT_CHARS."""
    parts: list[str] = []
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > MAX_OUTPUT_CHARS:
            raise _too_large("the content")
        parts.append(chunk)
    _spend(len(parts))
    return "".join(parts)


_DATA = (str, int, float, complex, type(None), list, tuple, dict, range, types.GeneratorType)


def _shown(value: Any, what: str) -> Any:
    """`value` when a template may show it as text; a generator or range as a list."""
    if isinstance(value, Undefined):
        str(value)  # StrictUndefined: raises UndefinedError naming what is missing
    if not isinstance(value, _DATA):
        shown = type(value).__name__
        raise TemplateInvalid(f"{what} cannot show a {shown}: show one of its values", {"type": shown})
    if isinstance(value, range | types.GeneratorType):
        items: list[Any] = []
        for item in value:
            items.append(item)
            _spend(1)
            if len(items) > MAX_OUTPUT_CHARS:
                raise _too_large(what)
        value = items
    return _bounded(value, what)


def _finalize(value: Any) -> str:
    return format_value(_shown(value, "{{ ... }}"))


# -- filters


def _text_input(value: Any, what: str) -> Any:
    """A value about to be made text by a filter or a test: a list, a dict, a range is bounded; an
    object that is no value is refused."""
    return value if isinstance(value, str | int | float) else _shown(value, what)


def _guarded(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """A built-in filter whose result (and, for a filter that makes text, its input) is bounded."""
    start = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0
    makes_text = name in _TEXT_FILTERS
    what = f"the {name} filter"

    @wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if makes_text:
            args = (*args[:start], *(_text_input(arg, what) for arg in args[start:]))
            kwargs = {key: _text_input(arg, what) for key, arg in kwargs.items()}
        return _bounded(func(*args, **kwargs), what)

    return guarded


def _case_test(name: str) -> Callable[[Any], bool]:
    """The `lower` and `upper` tests, on a bounded value."""

    def test(value: Any) -> bool:
        text = str(_text_input(value, f"the {name} test"))
        return text.islower() if name == "lower" else text.isupper()

    return test


@pass_eval_context
def _join(
    eval_ctx: EvalContext, value: Iterable[Any], d: Any = "", attribute: str | int | None = None
) -> str:
    """Jinja's `join`, each item and the result bounded."""
    items = value if attribute is None else map(make_attrgetter(eval_ctx.environment, attribute), value)
    separator = str(_text_input(d, "the join filter"))
    texts: list[str] = []
    total = 0
    for item in items:
        text = str(_text_input(item, "the join filter"))
        total += len(text) + (len(separator) if texts else 0)
        if total > MAX_OUTPUT_CHARS:
            raise _too_large("the join filter")
        texts.append(text)
    _spend(total)
    return separator.join(texts)


@pass_eval_context
def _replace(eval_ctx: EvalContext, s: Any, old: Any, new: Any, count: int | None = None) -> str:
    text = str(_text_input(s, "the replace filter"))
    old_text = str(_text_input(old, "the replace filter"))
    new_text = str(_text_input(new, "the replace filter"))
    found = text.count(old_text)
    if count is not None and count >= 0:
        found = min(found, count)
    if len(text) + found * (len(new_text) - len(old_text)) > MAX_OUTPUT_CHARS:
        raise _too_large("the replace filter")
    return str(_bounded(do_replace(eval_ctx, text, old_text, new_text, count), "the replace filter"))


def _date(value: Any, style: str = "long") -> Any:
    try:
        return date_text(value, style)
    except ValueError as exc:
        raise TemplateInvalid(f"the date filter: {exc}", {"filter": "date"}) from None


def _digits(value: Any) -> Any:
    """A whole number as plain digits (years, zip codes, ids); other values unchanged."""
    return by_name("id", value)


def _loop(iterable: Iterable[Any], cost: int) -> Iterator[Any]:
    """A for loop's items, each pass charged `cost` (1 and the outputs in its body)."""
    for item in iterable:
        _spend(cost)
        yield item


def _concat(operands: list[Any]) -> str:
    """`a ~ b`: each operand as text (as Jinja joins them), the result bounded."""
    texts = [str(_shown(operand, "~")) for operand in operands]
    if sum(map(len, texts)) > MAX_OUTPUT_CHARS:
        raise _too_large("~")
    return str(_bounded("".join(texts), "~"))


def _range(*args: int) -> range:
    try:
        numbers = range(*args)
        count = len(numbers)
    except OverflowError:
        count = MAX_RANGE + 1
    if count > MAX_RANGE:
        raise TemplateUnsafe(f"range() may give at most {MAX_RANGE:,} numbers", {"limit": "range"})
    _spend(count)
    return numbers


def _check_binop(operator: str, left: Any, right: Any) -> None:
    if operator == "%" and isinstance(left, str):
        raise TemplateUnsafe("text cannot be formatted with %: join text with ~", {"operator": "%"})
    ints = isinstance(left, int) and isinstance(right, int)
    if operator == "**" and ints and right > 0 and abs(left) > 1:
        if right * math.log2(abs(left)) > MAX_INT_BITS:
            raise TemplateUnsafe(f"{left} ** {right} is too large a number", {"operator": "**"})
    elif operator == "*" and ints:
        if abs(left).bit_length() + abs(right).bit_length() > MAX_INT_BITS:
            raise TemplateUnsafe("the product is too large a number", {"operator": "*"})
    elif operator == "*":
        seq, times = (left, right) if isinstance(right, int) else (right, left)
        repeats = isinstance(seq, str | list | tuple) and isinstance(times, int) and times > 0
        if repeats and _size(seq) * times > MAX_OUTPUT_CHARS:
            raise _too_large("the repeated text or list")
    elif operator == "+":
        sequences = isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple)
        if sequences and _size(left) + _size(right) > MAX_OUTPUT_CHARS:
            raise _too_large("the sum")


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"+", "*", "**", "%"})
    concat = staticmethod(_bounded_concat)

    def __init__(self) -> None:
        super().__init__(
            loader=None,
            autoescape=False,
            undefined=StrictUndefined,
            finalize=_finalize,
            keep_trailing_newline=True,
            cache_size=0,
            auto_reload=False,
        )
        self.globals.clear()
        self.globals.update({"range": _range, "cycler": Cycler, "joiner": Joiner, "namespace": Namespace})
        self.filters = {name: _guarded(name, FILTERS[name]) for name in _BUILTIN_FILTERS}
        self.tests.update({"lower": _case_test("lower"), "upper": _case_test("upper")})
        self.filters.update(
            {
                "join": _join,
                "replace": _replace,
                "money": money,
                "number": number,
                "date": _date,
                _LOOP: _loop,
                _CONCAT: _concat,
                _DIGITS: _digits,
            }
        )

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, str | bytes) and attr in _STR_METHODS_REFUSED:
            return False
        return super().is_safe_attribute(obj, attr, value)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _check_binop(operator, left, right)
        return _bounded(super().call_binop(context, operator, left, right), f"the {operator} operator")

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _spend(_CALL_COST)
        return _bounded(super().call(__context, __obj, *args, **kwargs), "the call")


_ENV = _Sandbox()


# -- compiling


def _refused(node: nodes.Node, reason: str) -> TemplateUnsafe:
    return TemplateUnsafe(f"line {node.lineno}: {reason}", {"line": node.lineno, "reason": reason})


def _check_static(ast: nodes.Template) -> None:
    """Refuse what a template may never do, wherever it is (even in a branch not taken)."""
    for load in ast.find_all(_LOAD_STATEMENTS):
        raise _refused(load, "templates cannot import, include or extend other templates")
    for access in ast.find_all((nodes.Getattr, nodes.Getitem)):
        name: Any
        if isinstance(access, nodes.Getattr):
            name = access.attr
        else:
            key = cast(nodes.Getitem, access).arg
            name = key.value if isinstance(key, nodes.Const) else None
        if isinstance(name, str) and name.startswith("_"):
            raise _refused(access, f"the attribute {name!r} is not accessible")
    for call in ast.find_all(nodes.Call):
        target = call.node
        if isinstance(target, nodes.Getattr) and target.attr in _STR_METHODS_REFUSED:
            raise _refused(call, f"the method {target.attr!r} is not available (use the filters)")


def _used_names(ast: nodes.Template) -> tuple[frozenset[str], frozenset[str]]:
    """The variables the template reads from outside, and those it needs: a variable whose every
    use is `x|default(...)` or `x is defined`/`x is undefined` is optional."""
    names = frozenset(find_undeclared_variables(ast))
    needed: set[str] = set()

    def walk(node: nodes.Node, parent: nodes.Node | None) -> None:
        if isinstance(node, nodes.Name) and node.ctx == "load" and node.name in names:
            optional = (isinstance(parent, nodes.Filter) and parent.name in _OPTIONAL_FILTERS) or (
                isinstance(parent, nodes.Test) and parent.name in _OPTIONAL_TESTS
            )
            if not (optional and getattr(parent, "node", None) is node):
                needed.add(node.name)
        for child in node.iter_child_nodes():
            walk(child, node)

    walk(ast, None)
    return names, frozenset(needed)


def _filter(node: nodes.Expr, name: str, *args: nodes.Expr) -> nodes.Filter:
    return nodes.Filter(node, name, list(args), [], None, None, lineno=node.lineno)


class _Rewrite(NodeTransformer):
    """Formats by name for a variable shown on its own, the style on the template's own text, and
    the guards on loops and `~`."""

    def __init__(self, style: str | None, first: nodes.Node | None) -> None:
        self.style = style
        self.first = first

    def visit_Output(self, node: nodes.Output) -> nodes.Node:
        self.generic_visit(node)
        node.nodes = [self._by_name(child) for child in node.nodes]
        return node

    @staticmethod
    def _by_name(child: nodes.Expr) -> nodes.Expr:
        if isinstance(child, nodes.Name) and child.ctx == "load":
            kind = kind_of(child.name)
            if kind == "money":
                return _filter(child, "money")
            if kind == "identifier":
                return _filter(child, _DIGITS)
        return child

    def visit_TemplateData(self, node: nodes.TemplateData) -> nodes.Node:
        node.data = restyle(node.data, self.style, at_sentence_start=node is self.first)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _filter(nodes.List(node.nodes, lineno=node.lineno), _CONCAT)

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        outputs = sum(len(output.nodes) for output in node.find_all(nodes.Output))
        node.iter = _filter(cast(nodes.Expr, node.iter), _LOOP, nodes.Const(1 + outputs, lineno=node.lineno))
        return node


@dataclass(frozen=True)
class Compiled:
    template: Template
    names: frozenset[str]  # every variable the template reads from outside
    required: frozenset[str]  # those it cannot render without

    def render(self, values: Mapping[str, Any]) -> str:
        """The content for `values`; TemplateUnsafe, TemplateInvalid or MissingVariables when it
        cannot be rendered."""
        token = _BUDGET.set(_Budget(MAX_WORK))
        try:
            return self.template.render(values)
        except TidingsError:
            raise
        except SecurityError as exc:
            raise TemplateUnsafe(f"refused: {exc}", {"reason": str(exc)}) from None
        except UndefinedError as exc:
            raise _missing(str(exc)) from None
        except RecursionError:
            raise TemplateUnsafe("the template nests calls too deeply", {"limit": "depth"}) from None
        except MemoryError:
            raise _too_large("the content") from None
        except TemplateRuntimeError as exc:
            raise TemplateInvalid(f"the template failed: {exc}", {"reason": str(exc)}) from None
        except Exception as exc:  # a value the template cannot work with (1/0, "a" + 1, ...)
            reason = f"{type(exc).__name__}: {exc}"
            raise TemplateInvalid(
                f"the template failed on its values: {reason}", {"reason": reason}
            ) from None
        finally:
            _BUDGET.reset(token)


_UNDEFINED_NAME = re.compile(r"'([^']+)' is undefined|has no attribute '([^']+)'")


def _missing(message: str) -> MissingVariables:
    found = _UNDEFINED_NAME.search(message)
    names = [next(group for group in found.groups() if group)] if found else []
    return MissingVariables(f"a value the template uses is missing: {message}", {"missing": names})


def _syntax_error(exc: TemplateSyntaxError) -> TemplateInvalid:
    return TemplateInvalid(
        f"line {exc.lineno}: {exc.message}", {"line": exc.lineno, "message": exc.message or str(exc)}
    )


def compile_template(source: str, style: str | None = None) -> Compiled:
    """`source` compiled in `style` ("formal", "casual" or None), from the cache when it was
    compiled before. TemplateTooLarge, TemplateInvalid or TemplateUnsafe when it cannot be."""
    if not isinstance(source, str):
        raise TemplateInvalid("the template must be text", {"field": "template"})
    if len(source) > MAX_TEMPLATE_CHARS:
        raise TemplateTooLarge(
            f"the template is longer than {MAX_TEMPLATE_CHARS:,} characters",
            {"max": MAX_TEMPLATE_CHARS, "length": len(source)},
        )
    return _compile(source, style)


@lru_cache(maxsize=_CACHE_SIZE)
def _compile(source: str, style: str | None) -> Compiled:
    try:
        ast = _ENV.parse(source)
        _check_static(ast)
        names, required = _used_names(ast)
        body = ast.body[0] if ast.body else None
        first = body.nodes[0] if isinstance(body, nodes.Output) and body.nodes else None
        rewritten = _Rewrite(style, first).visit(ast)
        rewritten.set_environment(_ENV)
        template = _ENV.from_string(rewritten)
    except TemplateSyntaxError as exc:  # also TemplateAssertionError: an unknown filter or test
        raise _syntax_error(exc) from None
    except (RecursionError, MemoryError, SyntaxError):
        raise TemplateInvalid("the template nests too deeply", {"reason": "nesting"}) from None
    return Compiled(template=template, names=names, required=required)


def template_names(source: str) -> frozenset[str]:
    """Every variable `source` reads from outside (client fields, the caller's values)."""
    return compile_template(source).names
