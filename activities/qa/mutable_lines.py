"""Which lines of an app's code are logic, and which of them mutmut mutates.

mutmut only mutates undecorated top-level functions and methods of top-level
classes (``mutmut/mutation/file_mutation.py``); the mutation stage asks that
enough of the logic lies there (``min_mutable_fraction``), so a bundle cannot
pass by hiding its logic where no mutant ever tests it.
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
    """Logic lines of one module, and those inside code mutmut mutates.

    A logic line is a line on which a node of a statement starts, for every
    statement except imports, docstrings and other bare constants, ``pass``,
    ``global``/``nonlocal`` and bare annotations; ``def``/``class`` lines,
    decorators and signatures are not logic, but compound statements' headers
    (``if x > 3:``) are. A literal spanning lines (a string, a table of
    constants, an f-string) counts once: data is not logic. A line
    is mutable when it lies in a function mutmut mutates: a top-level
    function or a method of a top-level class, undecorated (or only
    ``@staticmethod``/``@classmethod``), without the names mutmut never
    mutates, minus the bodies of decorated functions nested inside.
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

    def visit(stmts: list[ast.stmt], in_mutable: bool) -> None:
        for stmt in stmts:
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
                # Inside a mutated function mutmut skips decorated nested functions too.
                visit(stmt.body, in_mutable and mutmut_mutates(stmt, enum_class=False))
            elif isinstance(stmt, ast.ClassDef):
                visit(stmt.body, in_mutable)
            else:
                record(_header_lines(stmt), in_mutable)
                for body in _bodies(stmt):
                    visit(body, in_mutable)

    for stmt in tree.body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            visit(stmt.body, mutmut_mutates(stmt, enum_class=False))
        elif isinstance(stmt, ast.ClassDef):
            enum_class = _is_enum(stmt)
            for member in stmt.body:
                if isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef):
                    visit(member.body, mutmut_mutates(member, enum_class=enum_class))
                else:
                    visit([member], False)  # class-level code and nested classes: never
        else:
            visit([stmt], False)  # module-level code, and functions defined inside it
    return LineCounts(logic=len(logic), mutable=len(mutable & logic))


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


def _is_enum(cls: ast.ClassDef) -> bool:
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
