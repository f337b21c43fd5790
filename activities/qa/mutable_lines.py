"""Which lines of an app's code are logic, and which of them are mutated.

mutmut only mutates undecorated top-level functions and methods of top-level
classes (``mutmut/mutation/file_mutation.py``). The staged copy moves the body of
each decorated one (a route handler, a dependency, a validator) into a plain
function mutmut mutates (:mod:`activities.qa.mutation_transform`), except where
that cannot be done safely (:func:`why_body_stays`). The mutation stage asks that
enough of the logic, counted over the code as written, lies in mutated code
(``min_mutable_fraction``), so a bundle cannot pass by hiding its logic where no
mutant ever tests it: module-level code, class bodies, lambdas in decorators or
defaults, nested classes, and the functions whose bodies stay where they are.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from activities.python_ast import parse as parse_python

# What mutmut never mutates (mutmut/mutation/file_mutation.py).
NEVER_MUTATE_FUNCTION_NAMES = frozenset({"__getattribute__", "__setattr__", "__new__"})
NEVER_MUTATE_ENUM_FUNCTION_NAMES = frozenset({"__init__", "_generate_next_value_"})
ENUM_BASE_NAMES = frozenset({"Enum", "IntEnum", "StrEnum", "Flag", "IntFlag"})
ALLOWED_DECORATORS = frozenset({"staticmethod", "classmethod"})


@dataclass(frozen=True)
class LineCounts:
    """Logic lines of the app's code, and those mutmut can mutate."""

    logic: int = 0
    mutable: int = 0

    def __add__(self, other: LineCounts) -> LineCounts:
        return LineCounts(self.logic + other.logic, self.mutable + other.mutable)


def count_lines(source: str) -> LineCounts:
    """Logic lines of one module, and those inside code that is mutated.

    A logic line is a line on which a node of a statement starts, for every
    statement except imports, docstrings and other bare constants, ``pass``,
    ``global``/``nonlocal`` and bare annotations; ``def``/``class`` lines,
    decorators and signatures are not logic, but compound statements' headers
    (``if x > 3:``) are, and so is every line of a lambda in a decorator or a
    default value (logic nothing mutates). A literal spanning lines (a string, a
    table of constants, an f-string) counts once: data is not logic. A line is
    mutable when it lies in a function that is mutated: a top-level function or a
    method of a top-level class that mutmut mutates as it is (undecorated, or only
    ``@staticmethod``/``@classmethod``, without the names mutmut never mutates) or
    whose body the staged copy moves into one (:func:`why_body_stays` is None),
    minus the bodies of decorated functions nested inside.
    Raises SyntaxError (and ValueError, RecursionError) for unparsable code.
    """
    tree = parse_python(source)
    logic: set[int] = set()
    mutable: set[int] = set()

    def record(lines: Iterable[int], in_mutable: bool) -> None:
        for line in lines:
            logic.add(line)
            if in_mutable:
                mutable.add(line)

    def visit_function(func: ast.FunctionDef | ast.AsyncFunctionDef, in_mutable: bool) -> None:
        record(_signature_lambda_lines(func), False)
        visit(func.body, in_mutable)

    def visit(stmts: list[ast.stmt], in_mutable: bool) -> None:
        for stmt in stmts:
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
                # Inside a mutated function mutmut skips decorated nested functions too.
                visit_function(stmt, in_mutable and mutmut_mutates(stmt, enum_class=False))
            elif isinstance(stmt, ast.ClassDef):
                record(_decorator_lambda_lines(stmt.decorator_list), False)
                visit(stmt.body, in_mutable)
            else:
                record(_header_lines(stmt), in_mutable)
                for body in _bodies(stmt):
                    visit(body, in_mutable)

    for stmt in tree.body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            visit_function(stmt, is_mutated(stmt, enum_class=False))
        elif isinstance(stmt, ast.ClassDef):
            record(_decorator_lambda_lines(stmt.decorator_list), False)
            enum_class = is_enum(stmt)
            for member in stmt.body:
                if isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef):
                    visit_function(member, is_mutated(member, enum_class=enum_class))
                else:
                    visit([member], False)  # class-level code and nested classes: never
        else:
            visit([stmt], False)  # module-level code, and functions defined inside it
    return LineCounts(logic=len(logic), mutable=len(mutable & logic))


def is_mutated(func: ast.FunctionDef | ast.AsyncFunctionDef, *, enum_class: bool) -> bool:
    """Whether this top-level function or method is mutated: by mutmut as it is, or once
    the staged copy has moved its body into a plain function."""
    if mutmut_mutates(func, enum_class=enum_class):
        return True
    return bool(func.decorator_list) and why_body_stays(func, enum_class=enum_class) is None


def mutmut_mutates(func: ast.FunctionDef | ast.AsyncFunctionDef, *, enum_class: bool) -> bool:
    """Whether mutmut mutates this function's body (given it is top-level or a method)."""
    if func.name in NEVER_MUTATE_FUNCTION_NAMES:
        return False
    if enum_class and func.name in NEVER_MUTATE_ENUM_FUNCTION_NAMES:
        return False
    if not func.decorator_list:
        return True
    (only, *rest) = func.decorator_list
    return not rest and isinstance(only, ast.Name) and only.id in ALLOWED_DECORATORS


def why_body_stays(func: ast.FunctionDef | ast.AsyncFunctionDef, *, enum_class: bool) -> str | None:
    """Why the staged copy cannot move this decorated top-level function's (or top-level
    class's method's) body into a plain function; None when it moves it.

    Kept where they are: the functions mutmut never mutates, async generators (a plain
    delegate cannot forward their protocol without reimplementing it), and bodies with
    nothing but a docstring, ``pass`` or ``...`` (nothing to mutate).
    """
    if func.name in NEVER_MUTATE_FUNCTION_NAMES or (
        enum_class and func.name in NEVER_MUTATE_ENUM_FUNCTION_NAMES
    ):
        return f"mutmut never mutates {func.name}"
    if isinstance(func, ast.AsyncFunctionDef) and contains_yield(func):
        return "an async generator"
    if all(_is_inert(stmt) for stmt in func.body):
        return "nothing to mutate in its body"
    return None


def contains_yield(func: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Whether ``func`` itself yields (a generator), not a function or lambda inside it."""
    stack: list[ast.AST] = list(func.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Yield | ast.YieldFrom):
            return True
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            continue
        stack.extend(ast.iter_child_nodes(node))
    return False


def _is_inert(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Pass) or (
        isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
    )


def _decorator_lambda_lines(decorators: list[ast.expr]) -> set[int]:
    lines: set[int] = set()
    for decorator in decorators:
        for node in ast.walk(decorator):
            if isinstance(node, ast.Lambda):
                lines |= _node_lines(node)
    return lines


def _signature_lambda_lines(func: ast.FunctionDef | ast.AsyncFunctionDef) -> set[int]:
    """Lines of the lambdas in a function's decorators and default values: code that runs
    (the defaults when called, the decorators at import) and that nothing mutates."""
    defaults: list[ast.expr] = [*func.args.defaults]
    defaults += [d for d in func.args.kw_defaults if d is not None]
    lines = _decorator_lambda_lines(func.decorator_list)
    for default in defaults:
        for node in ast.walk(default):
            if isinstance(node, ast.Lambda):
                lines |= _node_lines(node)
    return lines


def is_enum(cls: ast.ClassDef) -> bool:
    """Whether a class derives from one of the enum bases mutmut knows."""
    for base in cls.bases:
        name = base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", None)
        if name in ENUM_BASE_NAMES:
            return True
    return False


def _header_lines(stmt: ast.stmt) -> set[int]:
    """Lines of ``stmt`` itself: all of a simple statement, the header of a compound one."""
    if isinstance(stmt, ast.Import | ast.ImportFrom | ast.Pass | ast.Global | ast.Nonlocal):
        return set()
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
        return set()  # docstrings, bare strings, `...`
    if isinstance(stmt, ast.AnnAssign) and stmt.value is None:
        return set()  # a declaration: `name: str`
    parts: list[ast.AST]
    if isinstance(stmt, ast.If | ast.While):
        parts = [stmt.test]
    elif isinstance(stmt, ast.For | ast.AsyncFor):
        parts = [stmt.target, stmt.iter]
    elif isinstance(stmt, ast.With | ast.AsyncWith):
        parts = list(stmt.items)
    elif isinstance(stmt, ast.Try | ast.TryStar):
        parts = [h.type for h in stmt.handlers if h.type is not None]
    elif isinstance(stmt, ast.Match):
        parts = [stmt.subject]
        for case in stmt.cases:
            parts.append(case.pattern)
            if case.guard is not None:
                parts.append(case.guard)
    else:
        return _node_lines(stmt)
    lines: set[int] = set()
    for part in parts:
        lines |= _node_lines(part)
    return lines


def _node_lines(node: ast.AST) -> set[int]:
    lines: set[int] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        line = getattr(current, "lineno", None)
        if isinstance(line, int):
            lines.add(line)
        # Data is not logic: a literal (a table of constants, an f-string) counts once,
        # on its first line, however many lines it spans.
        if not isinstance(current, ast.JoinedStr) and not _is_literal(current):
            stack.extend(ast.iter_child_nodes(current))
    return lines


def _is_literal(node: ast.AST) -> bool:
    """A constant, or a list/tuple/set/dict of nothing but literals."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.UnaryOp):
        return isinstance(node.operand, ast.Constant)
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        return all(_is_literal(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(k is None or _is_literal(k) for k in node.keys) and all(
            _is_literal(v) for v in node.values
        )
    return False


def _bodies(stmt: ast.stmt) -> Iterator[list[ast.stmt]]:
    for name in ("body", "orelse", "finalbody"):
        body = getattr(stmt, name, None)
        if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
            yield body
    for handler in getattr(stmt, "handlers", []):
        yield handler.body
    for case in getattr(stmt, "cases", []):
        yield case.body
