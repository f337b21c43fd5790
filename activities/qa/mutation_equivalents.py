"""Mutants that cannot change what the app does on the platform: equivalent, left out of the score.

A surviving mutant is a test the suite lacks, unless no test could ever kill it:
then it only lowers the score of a well-tested app. Only survivors (and mutants no
test runs) are judged here; a killed mutant is never equivalent. Each rule is narrow,
names one reason a reviewer can check in the mutant's diff, and never covers a
category of change a weak suite could hide behind:

``docstring``
    A change inside a function's docstring (mutmut skips triple-quoted strings but
    mutates a one-line ``"docstring"``). Nothing runs it.
``sql-case``
    Upper- or lower-casing a SQL statement or clause (``"SELECT * FROM todos"``,
    ``" WHERE done = ?"``): SQL keywords and SQLite identifiers ignore case. Not
    equivalent, and kept, when a changed letter is in a quoted literal (``'open'``)
    or identifier, in a named parameter (``:name``), or, when the module can see
    result column names (``dict(row)``, ``row.keys()``, ``cursor.description``,
    ``**row``, another ``row_factory``), in a name a result column takes from the
    query: an ``AS`` alias, an expression in a ``SELECT`` list (``COUNT(*)``), or
    a ``CREATE TABLE``'s column list.
``row-key-case``
    Changing the case of a string key read from a ``sqlite3.Row`` (``row["title"]``
    as ``row["TITLE"]``), when the module sets ``row_factory = sqlite3.Row`` and the
    name is a row: annotated ``sqlite3.Row``, or bound from ``fetchone()``,
    ``fetchall()`` or a cursor. ``sqlite3.Row`` looks keys up ignoring case.
``data-dir-default``
    The default of ``os.environ.get("MICROAPP_DATA_DIR", default)`` (or
    ``os.getenv``) changed or dropped: the platform always sets ``MICROAPP_DATA_DIR``
    (tests, QA and deployed apps alike), so the default is never read. Mutating the
    variable's name is not covered.
``data-dir-parents``
    The ``parents=`` argument of ``mkdir`` on the data directory itself
    (``Path(os.environ.get("MICROAPP_DATA_DIR", ...)).mkdir(parents=True, ...)``):
    its parent always exists.

Everything else a mutant changes stays in the score: message strings, dictionary
keys, numbers, operators, conditions, arguments of other calls.
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass

from activities.python_ast import parse as parse_python

DATA_DIR_VARIABLE = "MICROAPP_DATA_DIR"

_STATEMENT = re.compile(
    r"""^\s*\(?\s*(?:
        SELECT\b.*\bFROM\b | SELECT\s+(?:COUNT|MAX|MIN|SUM|AVG|TOTAL|DISTINCT)\b |
        INSERT\s+(?:OR\s+\w+\s+)?INTO\b | UPDATE\s+\w+\s+SET\b | DELETE\s+FROM\b |
        REPLACE\s+INTO\b |
        CREATE\s+(?:TEMP(?:ORARY)?\s+)?(?:TABLE|(?:UNIQUE\s+)?INDEX|VIEW|TRIGGER)\b |
        DROP\s+(?:TABLE|INDEX|VIEW|TRIGGER)\b | ALTER\s+TABLE\b | PRAGMA\s+\w+ |
        WITH\s+(?:RECURSIVE\s+)?\w+\s+AS\b
    )""",
    re.IGNORECASE | re.DOTALL | re.VERBOSE,
)
# A clause appended to a statement built in pieces: upper-case keywords only, as SQL
# fragments are written (prose rarely starts with "WHERE " or "ORDER BY ").
_CLAUSE = re.compile(
    r"^\s*(?:WHERE|AND|OR|ORDER\s+BY|GROUP\s+BY|HAVING|LIMIT|OFFSET|(?:LEFT\s+|INNER\s+|CROSS\s+)?JOIN"
    r"|ON|SET|VALUES|FROM|RETURNING)\b"
)
_SENSITIVE_STATEMENT = re.compile(r"^\s*\(?\s*(?:CREATE|WITH)\b", re.IGNORECASE)
_PLAIN_COLUMN = re.compile(r"^\s*(?:DISTINCT\s+|ALL\s+)?(?:\*|\w+\.\*|\w+(?:\.\w+)?)\s*$", re.I)
_ALIAS = re.compile(r"\bAS\s+(\w+)\s*$", re.IGNORECASE)
_ROW_SOURCES = ("fetchone", "fetchall", "fetchmany", "execute", "executemany")


@dataclass(frozen=True)
class ModuleFacts:
    """What a module does with SQLite rows, for the rules above."""

    row_factory_is_row: bool = False
    """It sets ``row_factory = sqlite3.Row`` (and to nothing else)."""
    column_names_seen: bool = True
    """It may read result column names (``dict(...)``, ``.keys()``, ``.description``,
    ``**x``, another row factory): assumed unless shown otherwise."""


def module_facts(source: str) -> ModuleFacts:
    """The facts of one (staged) module; unparsable code gets the cautious defaults."""
    try:
        tree = parse_python(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return ModuleFacts()
    factories: list[ast.expr] = []
    seen = False
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Attribute) and target.attr == "row_factory":
                    factories.append(node.value)
        elif isinstance(node, ast.Attribute) and node.attr in ("description", "keys"):
            seen = True
        elif isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name) and node.func.id == "dict" and node.args:
                seen = True
            if any(k.arg is None for k in node.keywords):
                seen = True
        elif isinstance(node, ast.Dict) and any(k is None for k in node.keys):
            seen = True
    is_row = bool(factories) and all(_is_sqlite_row(f) for f in factories)
    other_factory = bool(factories) and not is_row
    return ModuleFacts(row_factory_is_row=is_row, column_names_seen=seen or other_factory)


def equivalence(original: str, mutant: str, facts: ModuleFacts) -> str | None:
    """Why the ``mutant`` copy of a function cannot behave differently from ``original``
    on the platform (one of the rules above, in words), or None.

    Both are the source of one function as mutmut generated it (any indentation).
    """
    try:
        before = _function(original)
        after = _function(mutant)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    if before is None or after is None:
        return None
    after.name = before.name
    found = _first_difference(before, after, [])
    if found is None:
        return None
    old, new, parents = found
    for rule in (_docstring, _sql_case, _row_key_case, _data_dir_default, _data_dir_parents):
        reason = rule(before, old, new, parents, facts)
        if reason is not None:
            return reason
    return None


# --- the rules ------------------------------------------------------------------------


def _docstring(
    func: ast.FunctionDef | ast.AsyncFunctionDef,
    old: ast.AST,
    new: ast.AST,
    parents: list[ast.AST],
    facts: ModuleFacts,
) -> str | None:
    del new, facts
    first = func.body[0]
    if (
        isinstance(old, ast.Constant)
        and isinstance(old.value, str)
        and isinstance(first, ast.Expr)
        and first.value is old
        and parents[-1:] == [first]
    ):
        return "docstring: a change in the docstring"
    return None


def _sql_case(
    func: ast.FunctionDef | ast.AsyncFunctionDef,
    old: ast.AST,
    new: ast.AST,
    parents: list[ast.AST],
    facts: ModuleFacts,
) -> str | None:
    del func, parents
    pair = _case_change(old, new)
    if pair is None:
        return None
    before, after = pair
    if not looks_like_sql(before):
        return None
    sensitive = sensitive_spans(before, column_names_seen=facts.column_names_seen)
    changed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
    if any(start <= i < end for i in changed for start, end in sensitive):
        return None
    return "sql-case: SQL keywords and identifiers ignore case"


def _row_key_case(
    func: ast.FunctionDef | ast.AsyncFunctionDef,
    old: ast.AST,
    new: ast.AST,
    parents: list[ast.AST],
    facts: ModuleFacts,
) -> str | None:
    if not facts.row_factory_is_row or _case_change(old, new) is None or not parents:
        return None
    subscript = parents[-1]
    if not (
        isinstance(subscript, ast.Subscript)
        and subscript.slice is old
        and isinstance(subscript.value, ast.Name)
    ):
        return None
    if subscript.value.id in _row_names(func):
        return "row-key-case: sqlite3.Row looks keys up ignoring case"
    return None


def _data_dir_default(
    func: ast.FunctionDef | ast.AsyncFunctionDef,
    old: ast.AST,
    new: ast.AST,
    parents: list[ast.AST],
    facts: ModuleFacts,
) -> str | None:
    del func, facts
    calls = [p for p in (*parents, old) if isinstance(p, ast.Call)]
    if not calls:
        return None
    call = calls[-1]
    if not _is_data_dir_lookup(call):
        return None
    reason = f"data-dir-default: {DATA_DIR_VARIABLE} is always set, its default is never read"
    if call is old:
        # A whole argument changed or dropped: equivalent if the variable's name stays first.
        if isinstance(new, ast.Call) and _is_data_dir_lookup(new) and not new.keywords:
            return reason
        return None
    default = call.args[1] if len(call.args) > 1 else None
    if default is not None and (old is default or _contains(default, old)):
        return reason
    return None


def _data_dir_parents(
    func: ast.FunctionDef | ast.AsyncFunctionDef,
    old: ast.AST,
    new: ast.AST,
    parents: list[ast.AST],
    facts: ModuleFacts,
) -> str | None:
    del facts
    calls = [p for p in (*parents, old) if isinstance(p, ast.Call)]
    if not calls:
        return None
    call = calls[-1]
    if not (
        isinstance(call.func, ast.Attribute)
        and call.func.attr == "mkdir"
        and _is_data_dir(call.func.value, func)
    ):
        return None
    reason = "data-dir-parents: the data directory's parent always exists"
    if call is old:
        if not isinstance(new, ast.Call) or new.args or call.args:
            return None
        before = {k.arg: ast.dump(k.value) for k in call.keywords if k.arg != "parents"}
        after = {k.arg: ast.dump(k.value) for k in new.keywords if k.arg != "parents"}
        return reason if before == after else None
    keyword = next((p for p in parents if isinstance(p, ast.keyword)), None)
    if keyword is not None and keyword.arg == "parents" and keyword in call.keywords:
        return reason
    return None


# --- SQL ------------------------------------------------------------------------------


def looks_like_sql(text: str) -> bool:
    """A SQL statement (``SELECT ... FROM``, ``INSERT INTO``, ...) or an upper-case clause."""
    return bool(_STATEMENT.match(text) or _CLAUSE.match(text))


def sensitive_spans(sql: str, *, column_names_seen: bool) -> list[tuple[int, int]]:
    """Where in ``sql`` a change of case can change behaviour: quoted literals and
    identifiers, named parameters and, when column names can be seen, the names a
    result column takes from the query."""
    spans: list[tuple[int, int]] = []
    for match in re.finditer(r"'(?:[^']|'')*'?|\"(?:[^\"]|\"\")*\"?|`[^`]*`?|\[[^\]]*\]?", sql):
        spans.append(match.span())
    for match in re.finditer(r"[:@$][A-Za-z_]\w*", sql):
        spans.append(match.span())
    if column_names_seen:
        if _SENSITIVE_STATEMENT.match(sql) or re.search(r"\bRETURNING\b", sql, re.I):
            spans.append((0, len(sql)))
        spans += _select_list_spans(sql)
    return spans


def _select_list_spans(sql: str) -> list[tuple[int, int]]:
    """In each ``SELECT`` list: the expression items without an alias, and the aliases."""
    spans: list[tuple[int, int]] = []
    for select in re.finditer(r"\bSELECT\b", sql, re.IGNORECASE):
        start = select.end()
        depth, item_start, items = 0, start, []
        end = len(sql)
        i = start
        while i < len(sql):
            ch = sql[i]
            if ch == "(":
                depth += 1
            elif ch == ")":
                if depth == 0:
                    end = i
                    break
                depth -= 1
            elif depth == 0 and ch == ",":
                items.append((item_start, i))
                item_start = i + 1
            elif (
                depth == 0
                and re.match(r"FROM\b", sql[i:], re.IGNORECASE)
                and (i == 0 or not (sql[i - 1].isalnum() or sql[i - 1] == "_"))
            ):
                end = i
                break
            i += 1
        items.append((item_start, end))
        for a, b in items:
            item = sql[a:b]
            if _PLAIN_COLUMN.match(item):
                continue
            alias = _ALIAS.search(item)
            spans.append((a + alias.start(1), a + alias.end(1)) if alias else (a, b))
    return spans


# --- helpers --------------------------------------------------------------------------


def _function(source: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    tree = parse_python(textwrap.dedent(source).strip() + "\n")
    if len(tree.body) == 1 and isinstance(tree.body[0], ast.FunctionDef | ast.AsyncFunctionDef):
        return tree.body[0]
    return None


def _first_difference(
    a: ast.AST, b: ast.AST, parents: list[ast.AST]
) -> tuple[ast.AST, ast.AST, list[ast.AST]] | None:
    """The outermost pair of nodes that differ, with ``a``'s ancestors (mutmut changes one)."""
    if type(a) is not type(b):
        return a, b, parents
    for name in a._fields:
        x, y = getattr(a, name, None), getattr(b, name, None)
        if isinstance(x, ast.AST) and isinstance(y, ast.AST):
            found = _first_difference(x, y, [*parents, a])
            if found is not None:
                return found
        elif isinstance(x, list) and isinstance(y, list):
            if len(x) != len(y):
                return a, b, parents
            for p, q in zip(x, y, strict=True):
                if isinstance(p, ast.AST) and isinstance(q, ast.AST):
                    found = _first_difference(p, q, [*parents, a])
                    if found is not None:
                        return found
                elif p != q:
                    return a, b, parents
        elif type(x) is not type(y) or x != y:
            return a, b, parents
    return None


def _case_change(old: ast.AST, new: ast.AST) -> tuple[str, str] | None:
    if not (
        isinstance(old, ast.Constant)
        and isinstance(new, ast.Constant)
        and isinstance(old.value, str)
        and isinstance(new.value, str)
    ):
        return None
    before, after = old.value, new.value
    if before == after or len(before) != len(after) or before.lower() != after.lower():
        return None
    return before, after


def _is_sqlite_row(node: ast.expr) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "Row") or (
        isinstance(node, ast.Name) and node.id == "Row"
    )


def _row_names(func: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """Names in ``func`` that hold a ``sqlite3.Row``: annotated so, or bound from a cursor."""
    names: set[str] = set()
    args = func.args
    for arg in (*args.posonlyargs, *args.args, *args.kwonlyargs):
        if arg.annotation is not None and _is_sqlite_row(arg.annotation):
            names.add(arg.arg)
    for node in ast.walk(func):
        if isinstance(node, ast.Assign) and _from_cursor(node.value, single=True):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.For | ast.comprehension) and _from_cursor(
            node.iter, single=False
        ):
            if isinstance(node.target, ast.Name):
                names.add(node.target.id)
        elif isinstance(node, ast.AnnAssign) and _is_sqlite_row(node.annotation):
            if isinstance(node.target, ast.Name):
                names.add(node.target.id)
    return names


def _from_cursor(node: ast.expr, *, single: bool) -> bool:
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return False
    attr = node.func.attr
    return attr == "fetchone" if single else attr in _ROW_SOURCES


def _is_data_dir_lookup(call: ast.Call) -> bool:
    """``os.environ.get("MICROAPP_DATA_DIR", ...)``, ``environ.get(...)`` or ``os.getenv(...)``."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if name == "get":
        owner = func.value if isinstance(func, ast.Attribute) else None
        if not (
            (isinstance(owner, ast.Attribute) and owner.attr == "environ")
            or (isinstance(owner, ast.Name) and owner.id == "environ")
        ):
            return False
    elif name != "getenv":
        return False
    first = call.args[0] if call.args else None
    return isinstance(first, ast.Constant) and first.value == DATA_DIR_VARIABLE


def _is_data_dir(node: ast.expr, func: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """The data directory itself: ``Path(<its lookup>)``, or a name bound to that here."""
    if isinstance(node, ast.Name):
        for stmt in ast.walk(func):
            if isinstance(stmt, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == node.id for t in stmt.targets
            ):
                if not _is_data_dir(stmt.value, func):
                    return False
                return True
        return False
    if isinstance(node, ast.Call) and len(node.args) == 1 and not node.keywords:
        inner = node.args[0]
        if isinstance(inner, ast.Call) and _is_data_dir_lookup(inner):
            return True
        if (
            isinstance(inner, ast.Subscript)
            and isinstance(inner.slice, ast.Constant)
            and inner.slice.value == DATA_DIR_VARIABLE
        ):
            return True
    return False


def _contains(tree: ast.AST, node: ast.AST) -> bool:
    return any(child is node for child in ast.walk(tree))
