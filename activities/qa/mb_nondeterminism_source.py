"""What a bundle's source says about the sources of nondeterminism that cannot be wrapped
at run time: the clock read through ``datetime`` (``datetime.now()``, ``utcnow()``,
``today()`` and ``date.today()`` are attributes of C types) and functions that consume a
set in iteration order (the order follows ``PYTHONHASHSEED``).

The companion of :mod:`activities.qa.pytest_nondeterminism`, mounted beside it in the QA
sandbox under this same name; it imports nothing but the standard library. Bundle modules
are compiled with notes as they are imported (:func:`finder_with_notes`); test modules and
conftests, which pytest compiles itself, are read (:func:`function_sources`).
"""

from __future__ import annotations

import ast
import functools
import inspect
import opcode
from collections.abc import Mapping
from importlib.machinery import (
    BYTECODE_SUFFIXES,
    EXTENSION_SUFFIXES,
    SOURCE_SUFFIXES,
    ExtensionFileLoader,
    FileFinder,
    SourceFileLoader,
    SourcelessFileLoader,
)
from pathlib import Path
from types import CodeType, FunctionType, MethodType, ModuleType
from typing import Any

CLOCK, SET_ORDER = "clock", "set order"
NOTE, CLOCK_CALL, CLOCK_REF = "__mb_note__", "__mb_clock__", "__mb_clock_ref__"
"""The helpers a module compiled with notes calls (put in its namespace by the loader)."""

_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef)
_CLOCK_ATTRS = frozenset({"now", "utcnow", "today"})
_CLASSES = ("datetime", "date")
_HINTS = frozenset({"set", "frozenset", *_CLOCK_ATTRS})
_BUILD_SET = opcode.opmap["BUILD_SET"]
_SINGLETONS = (ast.expr_context, ast.operator, ast.cmpop, ast.unaryop, ast.boolop)


class Source:
    """A module's functions, each with the nodes of its own body (not those of the
    functions and classes it defines), read in one pass; and its clock reads:
    ``datetime.now``, ``dt.datetime.utcnow``, ``date.today``... (called or not)."""

    def __init__(self, tree: ast.Module) -> None:
        self.tree = tree
        self.owned: dict[ast.AST, list[ast.AST]] = {}
        self.methods: dict[ast.AST, dict[str, ast.AST]] = {}
        clocks: list[tuple[ast.Attribute, ast.AST, ast.AST | None]] = []
        names = set(_CLASSES)
        stack: list[tuple[ast.AST, ast.AST, ast.AST | None]] = [(tree, tree, None)]
        while stack:
            node, parent, owner = stack.pop()
            if owner is not None:
                self.owned[owner].append(node)
            if isinstance(node, ast.Attribute) and node.attr in _CLOCK_ATTRS:
                if isinstance(node.ctx, ast.Load):
                    clocks.append((node, parent, owner))
            elif isinstance(node, ast.Import):
                names.update(a.asname for a in node.names if a.name == "datetime" and a.asname)
            elif isinstance(node, ast.ImportFrom) and node.module == "datetime":
                names.update(a.asname or a.name for a in node.names if a.name in _CLASSES)
            elif isinstance(node, ast.ClassDef):
                methods: dict[str, ast.AST] = {n.name: n for n in node.body if isinstance(n, _DEFS)}
                self.methods.update(dict.fromkeys(methods.values(), methods))
            if isinstance(node, _FUNCTIONS):
                owner = node
                self.owned[node] = []
            elif isinstance(node, ast.ClassDef):
                owner = None
            stack.extend(
                (child, node, owner)
                for child in ast.iter_child_nodes(node)
                if not isinstance(child, _SINGLETONS)
            )
        self.clocks = [c for c in clocks if _last_name(c[0].value) in names]
        self.ordered = {f for f, nodes in self.owned.items() if _order_dependent(nodes)}

    def instrument(self) -> None:
        """``datetime.now()`` becomes ``__mb_clock__(datetime.now)()``, a ``datetime.now``
        passed on is wrapped, and a function consuming a set in order notes it first (after
        its docstring); the new nodes sit where the code they note is (line numbers stay)."""
        for node, parent, _ in self.clocks:
            called = isinstance(parent, ast.Call) and parent.func is node
            call = _call(CLOCK_CALL if called else CLOCK_REF, node, node)
            for field, value in ast.iter_fields(parent):
                if value is node:
                    setattr(parent, field, call)
                elif isinstance(value, list) and any(v is node for v in value):
                    value[[v is node for v in value].index(True)] = call
        for function in self.ordered:
            if isinstance(function, ast.Lambda):
                body = function.body
                values = [_call(NOTE, body, ast.copy_location(ast.Constant(SET_ORDER), body)), body]
                function.body = ast.copy_location(ast.BoolOp(op=ast.Or(), values=values), body)
            elif isinstance(function, _DEFS):
                first = function.body[0]
                at = int(isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant))
                anchor = function.body[min(at, len(function.body) - 1)]
                note = _call(NOTE, anchor, ast.copy_location(ast.Constant(SET_ORDER), anchor))
                function.body.insert(at, ast.copy_location(ast.Expr(note), anchor))

    def table(self) -> dict[int, frozenset[str]]:
        """First line (``co_firstlineno``: the ``def`` or its first decorator) -> the
        sources of each function: its body, the functions it defines, and the module's
        functions it calls (``helper()``, ``self.helper()``), and theirs."""
        top: dict[str, ast.AST] = {n.name: n for n in self.tree.body if isinstance(n, _DEFS)}
        own: dict[ast.AST, set[str]] = {f: set() for f in self.owned}
        for function in self.ordered:
            own[function].add(SET_ORDER)
        for _, _, owner in self.clocks:
            if owner is not None:
                own[owner].add(CLOCK)
        table: dict[int, frozenset[str]] = {}
        for function in self.owned:
            found: set[str] = set()
            seen: set[ast.AST] = set()
            stack = [function]
            while stack:
                node = stack.pop()
                if node not in seen:
                    seen.add(node)
                    found |= own[node]
                    stack += (c for c in self.owned[node] if isinstance(c, _FUNCTIONS))
                    calls = [c.func for c in self.owned[node] if isinstance(c, ast.Call)]
                    stack += (f for f in (self._callee(c, top, node) for c in calls) if f)
            if isinstance(function, _DEFS):
                lines = [function.lineno, *(d.lineno for d in function.decorator_list)]
                table[min(lines)] = frozenset(found)
        return table

    def _callee(self, func: ast.AST, top: dict[str, ast.AST], caller: ast.AST) -> ast.AST | None:
        if isinstance(func, ast.Name):
            return top.get(func.id)
        if isinstance(func, ast.Attribute) and _last_name(func.value) in ("self", "cls"):
            return self.methods.get(caller, {}).get(func.attr)
        return None


def code_with_notes(source: bytes, path: str) -> CodeType:
    """A bundle module's code, compiled with a note at each clock read and at the start of
    each function that consumes a set in order."""
    tree = ast.parse(source, filename=path)
    try:
        Source(tree).instrument()
    except RecursionError:
        return compile(source, path, "exec", dont_inherit=True)
    return compile(tree, path, "exec", dont_inherit=True)


class NotingLoader(SourceFileLoader):
    """Loads a bundle module compiled with notes, never from or into the bytecode cache,
    with the ``helpers`` the notes call in its namespace; adds its path to ``loaded``."""

    def __init__(
        self, fullname: str, path: str, *, helpers: Mapping[str, object], loaded: set[str]
    ) -> None:
        super().__init__(fullname, path)
        self.helpers = helpers
        self.loaded = loaded

    def get_code(self, fullname: str) -> CodeType:
        path = self.get_filename(fullname)
        code = code_with_notes(self.get_data(path), path)
        self.loaded.add(path)
        return code

    def exec_module(self, module: ModuleType) -> None:
        vars(module).update(self.helpers)
        super().exec_module(module)


def finder_with_notes(entry: str, helpers: Mapping[str, object], loaded: set[str]) -> FileFinder:
    """The finder of a ``sys.path`` directory whose ``.py`` modules load with notes (a
    ``SourceFileLoader`` still: pytest's import hook, ahead on ``sys.meta_path``, keeps
    taking the modules it rewrites)."""
    loader = functools.partial(NotingLoader, helpers=helpers, loaded=loaded)
    return FileFinder(
        entry,
        (ExtensionFileLoader, EXTENSION_SUFFIXES),
        (loader, SOURCE_SUFFIXES),  # type: ignore[arg-type]
        (SourcelessFileLoader, BYTECODE_SUFFIXES),
    )


def function_sources(
    function: FunctionType, tables: dict[str, dict[int, frozenset[str]]]
) -> frozenset[str]:
    """What the source of ``function`` (of a test module or conftest) contains, with the
    functions it defines and the module's functions it calls. The file is read (once,
    kept in ``tables``) only when the bytecode hints at a set or a clock read."""
    code = function.__code__
    table = tables.get(code.co_filename)
    if table is None:
        if not _hinted(code, function.__globals__, set()):
            return frozenset()
        table = tables[code.co_filename] = {}
        try:
            table.update(Source(ast.parse(Path(code.co_filename).read_bytes())).table())
        except (OSError, SyntaxError, ValueError, RecursionError):
            pass
    return table.get(code.co_firstlineno, frozenset())


def function_of(obj: object) -> FunctionType | None:
    """The Python function behind ``obj`` (a method, a decorated function...), if any."""
    if isinstance(obj, MethodType | staticmethod | classmethod):
        obj = obj.__func__
    if isinstance(obj, FunctionType):
        try:
            obj = inspect.unwrap(obj)
        except ValueError:
            pass
    return obj if isinstance(obj, FunctionType) else None


def _hinted(code: CodeType, namespace: Mapping[str, Any], seen: set[CodeType]) -> bool:
    """Whether ``code``, or a function of its file it names (a helper, a method of its
    class), might build a set or read the ``datetime`` clock: a look at the bytecode
    (names, ``BUILD_SET``, constant sets), cheaper than parsing the file."""
    if code in seen:
        return False
    seen.add(code)
    if not _HINTS.isdisjoint(code.co_names) or _BUILD_SET in code.co_code[::2]:
        return True
    owner = namespace.get(code.co_qualname.split(".")[0])
    methods = vars(owner) if isinstance(owner, type) else {}
    for name in code.co_names:
        for found in (namespace.get(name), methods.get(name)):
            callee = function_of(found)
            if callee is not None and callee.__code__.co_filename == code.co_filename:
                if _hinted(callee.__code__, namespace, seen):
                    return True
    return any(
        isinstance(c, frozenset) or (isinstance(c, CodeType) and _hinted(c, namespace, seen))
        for c in code.co_consts
    )


def _last_name(node: ast.AST) -> str | None:
    """``c`` for ``a.b.c`` and for ``c``."""
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else None


def _call(helper: str, at: ast.AST, *args: ast.expr) -> ast.Call:
    """``helper(*args)``, placed (for tracebacks and line tables) where ``at`` is."""
    name = ast.copy_location(ast.Name(id=helper, ctx=ast.Load()), at)
    return ast.copy_location(ast.Call(func=name, args=list(args), keywords=[]), at)


def _iterable_set(node: ast.AST, set_names: set[str]) -> bool:
    """Whether ``node`` is (certainly) a set: a literal, a comprehension, ``set(...)``,
    ``frozenset(...)``, a set operation of those, or a local name bound to one."""
    if isinstance(node, ast.Set | ast.SetComp):
        return True
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.func.id in ("set", "frozenset")
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr | ast.BitAnd | ast.Sub):
        return _iterable_set(node.left, set_names) or _iterable_set(node.right, set_names)
    return isinstance(node, ast.Name) and node.id in set_names


_ORDER_CONSUMERS = frozenset({"list", "tuple", "enumerate", "next", "iter", "zip", "str", "repr"})
_UNORDERED_CONSUMERS = frozenset(
    {"all", "any", "sum", "len", "min", "max", "sorted", "set", "frozenset", "Counter"}
)
_COMPREHENSIONS = (ast.ListComp, ast.GeneratorExp, ast.DictComp)


def _order_dependent(nodes: list[ast.AST]) -> bool:
    """Whether ``nodes`` (a function's) consume a set in iteration order: a ``for`` over
    it, ``list``/``tuple``/``join`` of it, ``pop()``, or a list, dict or generator built
    from it, unless that is fed straight to ``sorted``, ``all``, ``sum``... (set
    comprehensions are unordered too)."""
    set_names: set[str] = set()
    unordered: set[ast.AST] = set()
    for node in nodes:
        if isinstance(node, ast.Assign) and _iterable_set(node.value, set_names):
            set_names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name | ast.Attribute)
            and _last_name(node.func) in _UNORDERED_CONSUMERS
            and node.args
        ):
            unordered.add(node.args[0])
    for node in nodes:
        if isinstance(node, ast.For) and _iterable_set(node.iter, set_names):
            return True
        if isinstance(node, _COMPREHENSIONS) and node not in unordered:
            if any(_iterable_set(g.iter, set_names) for g in node.generators):
                return True
        if isinstance(node, ast.Call):
            func = node.func
            if (
                isinstance(func, ast.Name)
                and func.id in _ORDER_CONSUMERS
                and node.args
                and _iterable_set(node.args[0], set_names)
            ):
                return True
            if isinstance(func, ast.Attribute) and (
                (func.attr == "join" and node.args and _iterable_set(node.args[0], set_names))
                or (func.attr == "pop" and not node.args and _iterable_set(func.value, set_names))
            ):
                return True
    return False
