"""Decorated functions made mutable: on the staged copy, each body moves into a plain function.

mutmut 3 never mutates a decorated function (a route handler, a ``Depends``
dependency, a pydantic validator, a property): copying one for its trampolines
would run its decorators again. So, on the copy staged for mutmut only (never the
bundle the other stages test or the platform deploys), this module rewrites each
decorated top-level function and each decorated method of a top-level class::

    @app.get("/notes/{note_id}")
    def get_note(note_id: int, db: Db) -> Note:
        \"\"\"One note.\"\"\"
        <body>

into a plain function holding the body, then the decorated function as written,
calling it::



    def get_note__mb_body(note_id, db):
        <body, on the same lines as before>
    @app.get("/notes/{note_id}")
    def get_note(note_id: int, db: Db) -> Note:
        \"\"\"One note.\"\"\"
        return get_note__mb_body(note_id, db)

What the decorators, FastAPI and pydantic see is unchanged, character for
character: the decorators (applied to the same function, at the same point of the
module), the name, the signature with its defaults and annotations (FastAPI reads
them for ``Depends``/``Query``/``Body``), async-ness and the docstring. The body
runs as before: every argument is passed through (positional-only and plain ones
by position, then ``*args``, keyword-only ones by keyword, ``**kwargs``); a
coroutine awaits the plain coroutine, a generator ``yield from`` the plain
generator (so ``send``, ``throw``, ``close`` and its return value pass through);
a method's body becomes a plain method of the same class, called through
``__class__`` (so ``super()``, ``__class__`` and private-name mangling still work,
and a ``@staticmethod``/``@classmethod`` underneath another decorator keeps its
first argument). The plain function has no defaults or annotations (nothing calls
it without every argument, and nothing is evaluated twice), so mutmut mutates its
body only. Blank lines stand where its decorators and signature were, so the body
keeps its lines; the decorated function comes right after it.

Not moved, so their lines stay not mutable (:func:`why_body_stays`): async
generators, the functions mutmut never mutates, decorated functions nested in
others (closures) and methods of nested classes; bodies with nothing to mutate are
left as they are.

Each function mutmut will mutate, moved or not, is described by a
:class:`MutatedFunction`: its name as mutmut names it, its name and lines in the
user's file, so mutants and survivors are reported against the user's own lines.
"""

from __future__ import annotations

import ast
import io
import tokenize
from dataclasses import dataclass, field

from activities.python_ast import parse as parse_python
from activities.qa.mutable_lines import (
    contains_yield,
    is_enum,
    is_mutated,
    mutmut_mutates,
    why_body_stays,
)

BODY_SUFFIX = "__mb_body"
"""The plain function holding a decorated function's body is named ``<name>__mb_body``."""

CLASS_SEPARATOR = "\u01c1"  # mutmut's separator in method keys: xǁClassǁmethod


@dataclass(frozen=True)
class MutatedFunction:
    """A function of the staged copy that mutmut mutates, and where it is in the user's code."""

    key: str
    """mutmut's name for it: ``x_name`` or ``xǁClassǁname`` (the staged function's)."""
    name: str
    """Its name in the user's code: ``name`` or ``Class.name``."""
    moved: bool
    """Whether it holds the body of a decorated function."""
    user_def_line: int
    """The user's ``def`` line (1-based)."""
    user_body_line: int
    """The user's first line of the body (its first statement's)."""
    user_end_line: int
    """The user's last line of the function."""
    staged_def_line: int
    """The staged function's ``def`` line (for a moved body: the signature's last line)."""
    line_shift: int
    """Staged line minus the user's line, for every line of the function's body."""

    def user_line(self, staged_line: int) -> int:
        """The user's line of a line of the staged function (its ``def`` line for the
        signature of a moved body, which the user wrote differently)."""
        if self.moved and staged_line <= self.staged_def_line:
            return self.user_def_line
        return staged_line - self.line_shift


@dataclass
class Transformed:
    """One module of the staged copy: its new source and what mutmut will mutate in it."""

    source: str
    functions: list[MutatedFunction] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)
    """Decorated functions whose bodies were moved (user names)."""
    kept: dict[str, str] = field(default_factory=dict)
    """Decorated functions whose bodies stay, and why (user names)."""


@dataclass(frozen=True)
class _Move:
    func: ast.FunctionDef | ast.AsyncFunctionDef
    class_name: str | None
    body_name: str


def transform(source: str) -> Transformed:
    """Move the bodies of ``source``'s decorated functions into plain functions.

    Raises SyntaxError (and ValueError, RecursionError) for unparsable code, like
    :func:`activities.qa.mutable_lines.count_lines`.
    """
    tree = parse_python(source)
    result = Transformed(source=source)
    moves: list[_Move] = []
    taken = _defined_names(tree)

    def consider(
        func: ast.FunctionDef | ast.AsyncFunctionDef, class_name: str | None, enum_class: bool
    ) -> None:
        user_name = f"{class_name}.{func.name}" if class_name else func.name
        if mutmut_mutates(func, enum_class=enum_class):
            return
        if not func.decorator_list:
            return  # a name mutmut never mutates
        why = why_body_stays(func, enum_class=enum_class)
        if why is None and _colon(source, func) is None:
            why = "its signature could not be read"
        if why is not None:
            if not why.startswith("nothing to mutate"):
                result.kept[user_name] = why
            return
        scope = taken.setdefault(class_name or "", set())
        parameters = {a.arg for a in _all_args(func.args)}
        body_name, n = f"{func.name}{BODY_SUFFIX}", 1
        while body_name in scope or body_name in parameters:
            n += 1
            body_name = f"{func.name}{BODY_SUFFIX}{n}"
        scope.add(body_name)
        moves.append(_Move(func, class_name, body_name))
        result.moved.append(user_name)

    for stmt in tree.body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            consider(stmt, None, False)
        elif isinstance(stmt, ast.ClassDef):
            enum_class = is_enum(stmt)
            for member in stmt.body:
                if isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef):
                    consider(member, stmt.name, enum_class)
                elif isinstance(member, ast.ClassDef):
                    for inner in member.body:
                        if isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef) and (
                            inner.decorator_list
                        ):
                            result.kept[f"{stmt.name}.{member.name}.{inner.name}"] = (
                                "a method of a nested class"
                            )
                if isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef):
                    _note_nested(member, f"{stmt.name}.{member.name}", result)
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            _note_nested(stmt, stmt.name, result)

    lines = source.splitlines(keepends=True)
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += "\n"
    out: list[str] = []
    shift = 0
    shifts: list[tuple[int, int]] = []  # (first user line after which `shift` applies, shift)
    cursor = 1
    moved_by_func = {id(m.func): m for m in moves}
    for move in moves:
        func = move.func
        first = func.decorator_list[0].lineno
        out.extend(lines[cursor - 1 : first - 1])
        body_lines, wrapper = _rewrite(source, lines, move)
        out.extend(body_lines)
        out.extend(wrapper)
        cursor = _end_line(func) + 1
        shift += len(wrapper)
        shifts.append((cursor, shift))
    out.extend(lines[cursor - 1 :])
    result.source = "".join(out)

    def staged(line: int) -> int:
        applied = 0
        for after, total in shifts:
            if line >= after:
                applied = total
        return line + applied

    for stmt in tree.body:
        members: list[tuple[ast.stmt, str | None, bool]] = []
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            members.append((stmt, None, False))
        elif isinstance(stmt, ast.ClassDef):
            members += [(m, stmt.name, is_enum(stmt)) for m in stmt.body]
        for member, class_name, enum_class in members:
            if not isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            moved = moved_by_func.get(id(member))
            if moved is None and not is_mutated(member, enum_class=enum_class):
                continue
            staged_name = moved.body_name if moved else member.name
            key = (
                f"x{CLASS_SEPARATOR}{class_name}{CLASS_SEPARATOR}{staged_name}"
                if class_name
                else f"x_{staged_name}"
            )
            def_line = member.lineno
            if moved is not None:
                colon = _colon(source, member)
                def_line = colon[0] if colon else def_line
            result.functions.append(
                MutatedFunction(
                    key=key,
                    name=f"{class_name}.{member.name}" if class_name else member.name,
                    moved=moved is not None,
                    user_def_line=member.lineno,
                    user_body_line=member.body[0].lineno,
                    user_end_line=_end_line(member),
                    staged_def_line=staged(def_line),
                    line_shift=staged(member.lineno) - member.lineno,
                )
            )
    return result


def _rewrite(source: str, lines: list[str], move: _Move) -> tuple[list[str], list[str]]:
    """The plain function (on the decorated function's lines) and the decorated one after it."""
    func = move.func
    first = func.decorator_list[0].lineno
    colon = _colon(source, func)
    assert colon is not None  # checked by the caller
    colon_line, colon_col = colon
    def_text = lines[func.lineno - 1]
    indent = def_text[: len(def_text) - len(def_text.lstrip())]
    keyword = "async def" if isinstance(func, ast.AsyncFunctionDef) else "def"
    colon_text = lines[colon_line - 1]
    rest = colon_text[colon_col + 1 :]
    docstring = _docstring_lines(func)

    # The plain function: blank lines where the decorators and the signature were (the
    # def on the signature's last line), then the body, without its docstring.
    plain = [f"{indent}{keyword} {move.body_name}({_plain_parameters(func.args)}):{rest}"]
    body_lines = ["\n"] * (colon_line - first) + plain
    end = _end_line(func)
    own = lines[colon_line:end]
    if docstring is not None:
        start, stop = docstring
        for line in range(start, stop + 1):
            if line > colon_line:
                own[line - colon_line - 1] = "\n"
    body_lines += own

    # The decorated function: its decorators and signature as written, its docstring, then
    # the call.
    body_indent = _body_indent(lines, func, indent, colon_line)
    wrapper = [*lines[first - 1 : colon_line - 1], colon_text[: colon_col + 1] + "\n"]
    if docstring is not None and docstring[0] > colon_line:
        wrapper += lines[docstring[0] - 1 : docstring[1]]
    wrapper.append(f"{body_indent}{_call(move)}\n")
    return body_lines, wrapper


def _call(move: _Move) -> str:
    func = move.func
    target = f"__class__.{move.body_name}" if move.class_name else move.body_name
    args = func.args
    parts = [a.arg for a in (*args.posonlyargs, *args.args)]
    if args.vararg is not None:
        parts.append(f"*{args.vararg.arg}")
    parts += [f"{a.arg}={a.arg}" for a in args.kwonlyargs]
    if args.kwarg is not None:
        parts.append(f"**{args.kwarg.arg}")
    call = f"{target}({', '.join(parts)})"
    if isinstance(func, ast.AsyncFunctionDef):
        return f"return await {call}"
    if contains_yield(func):
        return f"return (yield from {call})"
    return f"return {call}"


def _plain_parameters(args: ast.arguments) -> str:
    """The parameters without defaults or annotations, in the same kinds and order."""
    parts = [a.arg for a in args.posonlyargs]
    if args.posonlyargs:
        parts.append("/")
    parts += [a.arg for a in args.args]
    if args.vararg is not None:
        parts.append(f"*{args.vararg.arg}")
    elif args.kwonlyargs:
        parts.append("*")
    parts += [a.arg for a in args.kwonlyargs]
    if args.kwarg is not None:
        parts.append(f"**{args.kwarg.arg}")
    return ", ".join(parts)


def _all_args(args: ast.arguments) -> list[ast.arg]:
    found = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    if args.vararg is not None:
        found.append(args.vararg)
    if args.kwarg is not None:
        found.append(args.kwarg)
    return found


def _colon(source: str, func: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[int, int] | None:
    """Line and column of the ``:`` that ends the function's signature."""
    lines = source.splitlines(keepends=True)
    start = func.lineno
    text = "".join(lines[start - 1 :])
    depth = 0
    seen_def = False
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.NAME and tok.string == "def" and depth == 0:
                seen_def = True
            elif tok.type == tokenize.OP and tok.string in "([{":
                depth += 1
            elif tok.type == tokenize.OP and tok.string in ")]}":
                depth -= 1
            elif seen_def and depth == 0 and tok.type == tokenize.OP and tok.string == ":":
                line, col = tok.start
                return start + line - 1, col
            if tok.start[0] + start - 1 > func.body[0].lineno:
                return None
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return None
    return None


def _docstring_lines(func: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[int, int] | None:
    first = func.body[0]
    if (
        len(func.body) > 1
        and isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
        and first.end_lineno is not None
        and first.end_lineno < func.body[1].lineno
    ):
        return first.lineno, first.end_lineno
    return None


def _body_indent(
    lines: list[str], func: ast.FunctionDef | ast.AsyncFunctionDef, indent: str, colon_line: int
) -> str:
    first = func.body[0]
    if first.lineno > colon_line:
        text = lines[first.lineno - 1]
        return text[: len(text) - len(text.lstrip())]
    return indent + ("\t" if "\t" in indent else "    ")


def _end_line(func: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    return func.end_lineno if func.end_lineno is not None else func.body[-1].lineno


def _defined_names(tree: ast.Module) -> dict[str, set[str]]:
    """Names bound at module level ("") and in each top-level class's body."""
    names: dict[str, set[str]] = {"": set()}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names[""].add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names[""].add(node.name)
        elif isinstance(node, ast.alias):
            names[""].add((node.asname or node.name).partition(".")[0])
    for stmt in tree.body:
        if isinstance(stmt, ast.ClassDef):
            names[stmt.name] = set(names[""])
    return names


def _note_nested(
    func: ast.FunctionDef | ast.AsyncFunctionDef, owner: str, result: Transformed
) -> None:
    """Decorated functions nested in a function stay where they are (closures)."""
    for child in ast.walk(func):
        if child is not func and isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
            if child.decorator_list:
                result.kept.setdefault(f"{owner}.<locals>.{child.name}", "nested in a function")
