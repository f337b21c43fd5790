"""Equivalent mutants: each rule covers its case and nothing a weak suite could hide behind."""

from __future__ import annotations

import textwrap

import pytest

from activities.qa.mutation_equivalents import (
    ModuleFacts,
    equivalence,
    looks_like_sql,
    module_facts,
    sensitive_spans,
)

ROWS = ModuleFacts(row_factory_is_row=True, column_names_seen=False)
SEEN = ModuleFacts(row_factory_is_row=True, column_names_seen=True)


def judge(original: str, mutant: str, facts: ModuleFacts = ROWS) -> str | None:
    """The rule covering a one-function mutant, as mutmut writes both copies (indented)."""
    return equivalence(
        _indented(original).replace("def f(", "def x_f__mutmut_orig(", 1),
        _indented(mutant).replace("def f(", "def x_f__mutmut_3(", 1),
        facts,
    )


def _indented(code: str) -> str:
    return textwrap.indent(textwrap.dedent(code), "    ")


def rule(reason: str | None) -> str | None:
    return None if reason is None else reason.partition(":")[0]


@pytest.mark.parametrize(
    ("before", "after", "facts", "expected"),
    [
        # SQL: keywords and identifiers ignore case...
        (
            '"SELECT * FROM todos WHERE id = ?"',
            '"select * from todos where id = ?"',
            ROWS,
            "sql-case",
        ),
        (
            '"INSERT INTO t (a, b) VALUES (?, ?)"',
            '"INSERT INTO T (A, B) VALUES (?, ?)"',
            SEEN,
            "sql-case",
        ),
        ('" WHERE done = ?"', '" where done = ?"', SEEN, "sql-case"),
        ('"CREATE TABLE t (a TEXT)"', '"create table t (a text)"', ROWS, "sql-case"),
        ('"SELECT name, body FROM notes"', '"SELECT NAME, BODY FROM NOTES"', SEEN, "sql-case"),
        ('"SELECT COUNT(*) FROM notes"', '"SELECT COUNT(*) FROM NOTES"', SEEN, "sql-case"),
        # ...but not the letters of a quoted literal, a named parameter...
        (
            "\"SELECT * FROM t WHERE s = 'open'\"",
            "\"SELECT * FROM T WHERE S = 'OPEN'\"",
            ROWS,
            None,
        ),
        ('"SELECT * FROM t WHERE id = :id"', '"SELECT * FROM T WHERE ID = :ID"', ROWS, None),
        # ...nor the names result columns take, when the module can see them...
        ('"SELECT MAX(score) AS best FROM t"', '"SELECT MAX(SCORE) AS BEST FROM T"', SEEN, None),
        (
            '"SELECT MAX(score) AS best FROM t"',
            '"SELECT MAX(SCORE) AS BEST FROM T"',
            ROWS,
            "sql-case",
        ),
        ('"SELECT COUNT(*) FROM notes"', '"select count(*) from notes"', SEEN, None),
        ('"CREATE TABLE t (a TEXT)"', '"create table t (a text)"', SEEN, None),
        # ...nor a string that is not SQL, nor another change of a SQL string.
        ('"Update your profile"', '"UPDATE YOUR PROFILE"', ROWS, None),
        ('"note not found"', '"NOTE NOT FOUND"', ROWS, None),
        ('"SELECT * FROM todos"', '"XXSELECT * FROM todosXX"', ROWS, None),
        ('"SELECT * FROM todos"', '"SELECT * FROM todo"', ROWS, None),
    ],
)
def test_sql_case(before: str, after: str, facts: ModuleFacts, expected: str | None) -> None:
    original = f"def f(db):\n    return db.execute({before}).fetchall()\n"
    mutant = f"def f(db):\n    return db.execute({after}).fetchall()\n"
    assert rule(judge(original, mutant, facts)) == expected


def test_sql_split_over_implicitly_joined_literals_counts_as_one() -> None:
    original = 'def f(db):\n    db.execute("CREATE TABLE t ("\n               " id INTEGER)")\n'
    mutant = original.replace('" id', '" ID')
    assert rule(judge(original, mutant)) == "sql-case"
    assert rule(judge(original, mutant, SEEN)) is None


@pytest.mark.parametrize(
    ("original", "mutant", "facts", "expected"),
    [
        (  # annotated as a row
            'def f(row: sqlite3.Row):\n    return row["title"]\n',
            'def f(row: sqlite3.Row):\n    return row["TITLE"]\n',
            ROWS,
            "row-key-case",
        ),
        (  # bound from a cursor
            'def f(db):\n    row = db.execute("SELECT 1").fetchone()\n    return row["title"]\n',
            'def f(db):\n    row = db.execute("SELECT 1").fetchone()\n    return row["TITLE"]\n',
            ROWS,
            "row-key-case",
        ),
        (
            'def f(db):\n    return [r["n"] for r in db.execute("SELECT 1")]\n',
            'def f(db):\n    return [r["N"] for r in db.execute("SELECT 1")]\n',
            ROWS,
            "row-key-case",
        ),
        (  # no row factory: rows are tuples, a string key fails either way
            'def f(row: sqlite3.Row):\n    return row["title"]\n',
            'def f(row: sqlite3.Row):\n    return row["TITLE"]\n',
            ModuleFacts(),
            None,
        ),
        (  # a dict's keys do care
            'def f(data: dict):\n    return data["title"]\n',
            'def f(data: dict):\n    return data["TITLE"]\n',
            ROWS,
            None,
        ),
        (  # another key is another column
            'def f(row: sqlite3.Row):\n    return row["title"]\n',
            'def f(row: sqlite3.Row):\n    return row["XXtitleXX"]\n',
            ROWS,
            None,
        ),
    ],
)
def test_row_key_case(original: str, mutant: str, facts: ModuleFacts, expected: str | None) -> None:
    assert rule(judge(original, mutant, facts)) == expected


DATA_DIR = 'def f():\n    return Path(os.environ.get("MICROAPP_DATA_DIR", "."))\n'


@pytest.mark.parametrize(
    ("mutant", "expected"),
    [
        ('Path(os.environ.get("MICROAPP_DATA_DIR", "XX.XX"))', "data-dir-default"),
        ('Path(os.environ.get("MICROAPP_DATA_DIR", None))', "data-dir-default"),
        ('Path(os.environ.get("MICROAPP_DATA_DIR", ))', "data-dir-default"),
        ('Path(os.environ.get("XXMICROAPP_DATA_DIRXX", "."))', None),
        ('Path(os.environ.get("microapp_data_dir", "."))', None),
        ('Path(os.environ.get(None, "."))', None),
        ('Path(os.environ.get("."))', None),
        ("Path(None)", None),
    ],
)
def test_data_dir_default(mutant: str, expected: str | None) -> None:
    changed = DATA_DIR.replace('Path(os.environ.get("MICROAPP_DATA_DIR", "."))', mutant)
    assert rule(judge(DATA_DIR, changed)) == expected
    getenv = DATA_DIR.replace("os.environ.get", "os.getenv")
    assert rule(judge(getenv, changed.replace("os.environ.get", "os.getenv"))) == expected


def test_another_variables_default_is_not_covered() -> None:
    original = DATA_DIR.replace("MICROAPP_DATA_DIR", "HOME")
    assert judge(original, original.replace('"."', '"XX.XX"')) is None


MKDIR = (
    'def f():\n    data = Path(os.environ.get("MICROAPP_DATA_DIR", "data"))\n'
    "    data.mkdir(parents=True, exist_ok=True)\n    return data\n"
)


@pytest.mark.parametrize(
    ("mutant", "expected"),
    [
        ("data.mkdir(parents=False, exist_ok=True)", "data-dir-parents"),
        ("data.mkdir(parents=None, exist_ok=True)", "data-dir-parents"),
        ("data.mkdir(exist_ok=True)", "data-dir-parents"),
        ("data.mkdir(parents=True, exist_ok=False)", None),
        ("data.mkdir(parents=True)", None),
        ("data.mkdir(None, exist_ok=True)", None),
    ],
)
def test_data_dir_parents(mutant: str, expected: str | None) -> None:
    changed = MKDIR.replace("data.mkdir(parents=True, exist_ok=True)", mutant)
    assert rule(judge(MKDIR, changed)) == expected
    deeper = MKDIR.replace('"data"))', '"data")) / "uploads" / "big"')
    assert judge(deeper, deeper.replace("parents=True", "parents=False")) is None


def test_docstrings_only() -> None:
    original = 'def f(x):\n    "Twice x."\n    return "x" * 2\n'
    assert rule(judge(original, original.replace('"Twice x."', '"XXTwice x.XX"'))) == "docstring"
    assert judge(original, original.replace('"x" * 2', '"XXxXX" * 2')) is None


def test_what_a_module_shows_of_its_rows() -> None:
    rows_only = (
        "def f(c):\n    c.row_factory = sqlite3.Row\n    return c.execute('x').fetchone()['a']\n"
    )
    assert module_facts(rows_only) == ModuleFacts(row_factory_is_row=True, column_names_seen=False)
    for seen in ("dict(row)", "row.keys()", "cur.description", "Model(**row)", "{**row}"):
        assert module_facts(rows_only + f"\n\ndef g(row, cur):\n    return {seen}\n") == SEEN
    other = "def f(c):\n    c.row_factory = lambda cur, row: row\n"
    assert module_facts(other).column_names_seen and not module_facts(other).row_factory_is_row
    assert module_facts("def broken(:\n") == ModuleFacts()


def test_sql_detection_and_sensitive_parts() -> None:
    for sql in ("SELECT 1 FROM t", "select count(*) from t", "DELETE FROM t", " ORDER BY a, b"):
        assert looks_like_sql(sql), sql
    for text in ("Select a colour", "order by date", "Where are you?", "created"):
        assert not looks_like_sql(text), text
    sql = "SELECT a, MAX(b) AS top, c + 1 FROM t WHERE d = 'x' AND e = :e"
    spans = sensitive_spans(sql, column_names_seen=True)
    picked = sorted(sql[a:b] for a, b in spans)
    assert picked == [" c + 1 ", "'x'", ":e", "top"]
    assert sorted(sql[a:b] for a, b in sensitive_spans(sql, column_names_seen=False)) == [
        "'x'",
        ":e",
    ]
