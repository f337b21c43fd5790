"""The offline blueprint generator: every kind builds, passes its own tests and is safe.

The generated suites run once per module, in parallel (two at a time), and
the tests below read their JSON reports. mutmut runs on the todo kind (set
``MB_MUTATION_KINDS=all`` for every kind, about three minutes) and the
mutation score is checked;
the config lives next to the bundle, never in it, because a bundle is
untrusted and must not choose what gets mutated.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from activities.generation import GeneratedApp, generate_offline
from activities.generation.blueprints import BLUEPRINTS, FALLBACK, Brief, blueprint, detect_kind
from activities.generation.blueprints.scaffold import PyValue, py_literal, render, toml_string
from store.bundles import bundle_hash, parse_manifest, write_bundle
from tests.bundle_env import bundle_env

REPO = Path(__file__).resolve().parents[3]

KIND_PROMPTS = {
    "todo": "a todo list for my climbing team",
    "notes": "a notebook for cooking ideas with tags: dessert, Quick Meals, vegan",
    "poll": 'a poll for the team lunch: "Where should we eat?" "Pizza" "Sushi" "Tacos"',
    "guestbook": "a guestbook for our wedding",
    "habits": "a habit tracker for meditate, stretch and read",
    "shortener": "a url shortener for the marketing team",
    "flashcards": "flashcards for learning spanish vocabulary: hola = hello, gato = cat",
    "expenses": "split bills on our ski trip between Ann, Bob and Cy in €",
    "inventory": (
        "inventory for my hardware store with categories: tools, paint, garden; warn below 3"
    ),
}

# Prompts whose quoted strings and lists end up as constants in the generated code.
S3, D3, BS = "'" * 3, '"' * 3, "\\"
INJECTION_PROMPTS = {
    "poll": f'a poll: “Best {S3}{D3}; import os #?” “{BS} {BS}" x” “{{APP_TITLE}}”',
    "habits": f"track my habits: x{S3}a, y{D3}b, back{BS}slash{BS}, {{z}}",
    "flashcards": f"flashcards: x{S3}a = y{D3}b, c{BS} = {BS}d",
    "inventory": f"stock with categories: x{S3}a, y{D3}b, c{BS}",
    "expenses": "split bills between Ann, O'Brien and Zoë in £",
    "notes": f"notes with tags: x{S3}a, {{b}}",
    "todo": f"a todo list for {D3}; import os #{BS} team",
}
INJECTED_DATA: dict[str, dict[str, object]] = {
    "poll": {
        "POLL_QUESTION": f"Best {S3}{D3}; import os #?",
        "POLL_OPTIONS": (f'{BS} {BS}" x', "{APP_TITLE}"),
    },
    "habits": {"HABITS": (f"X{S3}a", f"Y{D3}b", f"Back{BS}slash{BS}", "{z}")},
    "flashcards": {"SEED_CARDS": ((f"x{S3}a", f"y{D3}b"), (f"c{BS}", f"{BS}d"))},
    "inventory": {"CATEGORIES": (f"X{S3}a", f"Y{D3}b", f"C{BS}")},
    "expenses": {"MEMBERS": ("Ann", "O'Brien", "Zoë"), "CURRENCY": "GBP"},
    "notes": {"SUGGESTED_TAGS": ("x-a", "b")},
    "todo": {"APP_TITLE": "Import Os Team Todo"},
}
MIN_KIND_TESTS = 8


@dataclass(frozen=True)
class Suite:
    """A generated bundle on disk and the outcome of running its tests."""

    app: GeneratedApp
    path: Path
    returncode: int
    output: str
    outcomes: dict[str, str]


def _run_suite(app: GeneratedApp, path: Path) -> Suite:
    write_bundle(app.bundle, path)
    report = path.parent / f"{path.name}.report.json"
    env = bundle_env()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-W",
            "ignore::DeprecationWarning",
            "--json-report",
            f"--json-report-file={report}",
        ],
        cwd=path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    outcomes = {}
    if report.is_file():
        outcomes = {t["nodeid"]: t["outcome"] for t in json.loads(report.read_text())["tests"]}
    return Suite(app, path, result.returncode, result.stdout + result.stderr, outcomes)


@pytest.fixture(scope="module")
def suites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Suite]]:
    """Every kind's bundle and every injection bundle, written and tested."""
    root = tmp_path_factory.mktemp("bundles")
    jobs = {kind: generate_offline(prompt) for kind, prompt in KIND_PROMPTS.items()}
    jobs |= {f"nasty-{kind}": generate_offline(p) for kind, p in INJECTION_PROMPTS.items()}
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(_run_suite, app, root / name) for name, app in jobs.items()}
        yield {name: future.result() for name, future in futures.items()}
    shutil.rmtree(root, ignore_errors=True)


def test_every_kind_has_a_representative_prompt() -> None:
    assert set(KIND_PROMPTS) == {bp.kind for bp in BLUEPRINTS}


@pytest.mark.parametrize("kind", sorted(KIND_PROMPTS))
def test_generated_suite_passes(suites: dict[str, Suite], kind: str) -> None:
    suite = suites[kind]
    assert suite.app.kind == kind
    assert suite.returncode == 0, suite.output[-4000:]
    assert suite.outcomes and set(suite.outcomes.values()) == {"passed"}
    kind_tests = [n for n in suite.outcomes if n.startswith(f"tests/test_{kind}.py::")]
    assert len({n.split("[")[0] for n in kind_tests}) >= MIN_KIND_TESTS
    assert suite.outcomes["tests/test_app.py::test_health_answers_ok"] == "passed"
    assert suite.outcomes["tests/test_app.py::test_module_app_is_ready_to_serve"] == "passed"


@pytest.mark.parametrize("kind", sorted(KIND_PROMPTS))
def test_bundle_layout_and_manifest(suites: dict[str, Suite], kind: str) -> None:
    app = suites[kind].app
    paths = [f.path for f in app.bundle.files]
    assert paths == sorted(
        [
            "main.py",
            "microapp.toml",
            "requirements.txt",
            "tests/conftest.py",
            "tests/test_app.py",
            f"tests/test_{kind}.py",
        ]
    )
    assert app.bundle.manifest.name == app.name
    assert app.bundle.manifest.health_path == "/health"
    assert app.bundle.manifest.entrypoint == "main:app"
    assert app.bundle.file("requirements.txt") == "fastapi>=0.115\n"


def test_names_come_from_the_prompt(suites: dict[str, Suite]) -> None:
    names = {kind: suites[kind].app.name for kind in KIND_PROMPTS}
    assert names == {
        "todo": "Climbing Team Todo",
        "notes": "Cooking Ideas Notes",
        "poll": "Team Lunch Poll",
        "guestbook": "Wedding Guestbook",
        "habits": "Habits",
        "shortener": "Marketing Team Link Shortener",
        "flashcards": "Spanish Vocabulary Flashcards",
        "expenses": "Ski Trip Expenses",
        "inventory": "Hardware Store Inventory",
    }


def _constants(app: GeneratedApp) -> dict[str, object]:
    """The module-level constants of the app's main.py that are plain literals."""
    values: dict[str, object] = {}
    for node in ast.parse(app.bundle.file("main.py") or "").body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            try:
                values[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    return values


def test_parameters_come_from_the_prompt(suites: dict[str, Suite]) -> None:
    assert _constants(suites["poll"].app)["POLL_QUESTION"] == "Where should we eat?"
    assert _constants(suites["poll"].app)["POLL_OPTIONS"] == ("Pizza", "Sushi", "Tacos")
    assert _constants(suites["habits"].app)["HABITS"] == ("Meditate", "Stretch", "Read")
    assert _constants(suites["expenses"].app)["CURRENCY"] == "EUR"
    assert _constants(suites["expenses"].app)["MEMBERS"] == ("Ann", "Bob", "Cy")
    flashcards = _constants(suites["flashcards"].app)
    assert flashcards["DECK_TOPIC"] == "Spanish Vocabulary"
    assert flashcards["SEED_CARDS"] == (("hola", "hello"), ("gato", "cat"))
    inventory = _constants(suites["inventory"].app)
    assert (inventory["CATEGORIES"], inventory["LOW_STOCK_DEFAULT"]) == (
        ("Tools", "Paint", "Garden"),
        3,
    )
    assert _constants(suites["notes"].app)["SUGGESTED_TAGS"] == ("dessert", "quick-meals", "vegan")


@pytest.mark.parametrize(
    ("prompt", "setting", "value"),
    [
        ("split the bill in USD", "CURRENCY", "USD"),
        ("who owes what, amounts in $", "CURRENCY", "USD"),
        ("split costs in pounds", "CURRENCY", "GBP"),
        ("expense splitter with yen", "CURRENCY", "JPY"),
        ("split bills", "CURRENCY", "USD"),
        (
            "poll: which day? options: Monday, Tuesday or Friday",
            "POLL_OPTIONS",
            ("Monday", "Tuesday", "Friday"),
        ),
        ("a vote on the logo", "POLL_OPTIONS", ("Yes", "No")),
        ("a vote on the logo", "POLL_QUESTION", "What do you think?"),
        ("inventory of spare parts", "LOW_STOCK_DEFAULT", 5),
        ("inventory; alert when fewer than 12 left", "LOW_STOCK_DEFAULT", 12),
        ("flashcards", "DECK_TOPIC", "General knowledge"),
        ("flashcards about world capitals", "DECK_TOPIC", "World Capitals"),
    ],
)
def test_parameter_table(prompt: str, setting: str, value: object) -> None:
    assert _constants(generate_offline(prompt))[setting] == value


@pytest.mark.parametrize(
    ("prompt", "kind"),
    [
        ("a todo list for my climbing team", "todo"),
        ("keep track of my tasks", "todo"),
        ("a shared to-do checklist for chores", "todo"),
        ("a notebook for cooking ideas", "notes"),
        ("somewhere to jot down memos", "notes"),
        ("a poll for the team lunch", "poll"),
        ("let people vote on the next book", "poll"),
        ("a survey with a few choices", "poll"),
        ("a guestbook for our wedding", "guestbook"),
        ("let visitors leave a message", "guestbook"),
        ("a habit tracker with streaks", "habits"),
        ("track my daily routine", "habits"),
        ("a url shortener", "shortener"),
        ("short links for our campaign", "shortener"),
        ("shorten long URLs", "shortener"),
        ("flashcards to memorize spanish vocabulary", "flashcards"),
        ("a quiz deck for studying", "flashcards"),
        ("split bills with my flatmates", "expenses"),
        ("who owes what after the trip", "expenses"),
        ("track shared expenses", "expenses"),
        ("stock levels in our warehouse", "inventory"),
        ("an inventory of spare parts", "inventory"),
        ("what is in the pantry and what to restock", "inventory"),
        ("something nice", "notes"),
        ("日本語", "notes"),
    ],
)
def test_kind_detection(prompt: str, kind: str) -> None:
    assert detect_kind(prompt).kind == kind


def test_fallback_is_notes() -> None:
    assert FALLBACK is blueprint("notes")
    assert generate_offline("??!").kind == "notes"
    with pytest.raises(KeyError):
        blueprint("spaceship")


def test_generation_is_deterministic(suites: dict[str, Suite]) -> None:
    for kind, prompt in KIND_PROMPTS.items():
        assert bundle_hash(generate_offline(prompt).bundle) == bundle_hash(suites[kind].app.bundle)


def test_generation_is_deterministic_across_processes(suites: dict[str, Suite]) -> None:
    script = (
        "import json, sys\n"
        "from activities.generation import generate_offline\n"
        "from store.bundles import bundle_hash\n"
        "prompts = json.loads(sys.stdin.read())\n"
        "hashes = {k: bundle_hash(generate_offline(p).bundle) for k, p in prompts.items()}\n"
        "print(json.dumps(hashes))\n"
    )
    expected = {kind: bundle_hash(suites[kind].app.bundle) for kind in KIND_PROMPTS}
    for seed in ("1", "2"):
        result = subprocess.run(
            [sys.executable, "-c", script],
            input=json.dumps(KIND_PROMPTS),
            cwd=REPO,
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        )
        assert json.loads(result.stdout) == expected


def test_different_prompts_give_different_apps() -> None:
    first = generate_offline("a todo list for my climbing team")
    second = generate_offline("a todo list for my book club")
    assert (first.name, second.name) == ("Climbing Team Todo", "Book Club Todo")
    assert bundle_hash(first.bundle) != bundle_hash(second.bundle)


def test_empty_prompts_are_refused() -> None:
    for prompt in ("", "   \n"):
        with pytest.raises(ValueError, match="empty"):
            generate_offline(prompt)


def _shape(source: str, settings: set[str]) -> str:
    """The module's AST with the values of ``settings`` blanked: its code, not its data."""
    tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id in settings:
                node.value = ast.Constant(None)
    return ast.dump(tree)


@pytest.mark.parametrize("kind", sorted(INJECTION_PROMPTS))
def test_prompt_text_only_ever_becomes_data(suites: dict[str, Suite], kind: str) -> None:
    nasty, plain = suites[f"nasty-{kind}"], suites[kind]
    assert nasty.app.kind == kind
    brief = Brief(prompt=KIND_PROMPTS[kind], title="", context=())
    settings = {"APP_TITLE", *blueprint(kind).settings(brief)}
    for path in ("main.py", f"tests/test_{kind}.py", "tests/test_app.py", "tests/conftest.py"):
        nasty_source = nasty.app.bundle.file(path) or ""
        assert _shape(nasty_source, settings) == _shape(plain.app.bundle.file(path) or "", settings)
    assert nasty.returncode == 0, nasty.output[-4000:]
    parse_manifest(nasty.app.bundle.file("microapp.toml") or "")


@pytest.mark.parametrize("kind", sorted(INJECTION_PROMPTS))
def test_injected_text_is_kept_verbatim_as_data(suites: dict[str, Suite], kind: str) -> None:
    constants = _constants(suites[f"nasty-{kind}"].app)
    for name, value in INJECTED_DATA[kind].items():
        assert constants[name] == value


def _bandit_findings(path: Path) -> list[dict[str, object]]:
    with warnings.catch_warnings():  # stevedore's deprecation notice while bandit loads plugins
        warnings.simplefilter("ignore", DeprecationWarning)
        from bandit.core import config as bandit_config
        from bandit.core import manager as bandit_manager

        manager = bandit_manager.BanditManager(bandit_config.BanditConfig(), "file")
    manager.discover_files([str(path)], True)
    manager.run_tests()
    return [issue.as_dict() for issue in manager.get_issue_list()]


def test_generated_code_is_bandit_clean(suites: dict[str, Suite]) -> None:
    for name, suite in suites.items():
        findings = [
            finding
            for finding in _bandit_findings(suite.path)
            if finding["issue_severity"] in ("MEDIUM", "HIGH")
        ]
        assert findings == [], name
        # the only LOW finding allowed is pytest's assert (B101), in tests
        low = {
            (f["test_id"], Path(str(f["filename"])).parent.name)
            for f in _bandit_findings(suite.path)
        }
        assert low <= {("B101", "tests")}, name


def test_generated_code_passes_the_linter(suites: dict[str, Suite]) -> None:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed")
    for name, suite in suites.items():
        result = subprocess.run(
            [
                ruff,
                "check",
                "--isolated",
                "--no-cache",
                "--select",
                "E,F,W,I",
                "--ignore",
                "E501",
                ".",
            ],
            cwd=suite.path,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, f"{name}: {result.stdout}"


def test_py_literal_round_trips_or_refuses() -> None:
    values: list[PyValue] = [
        "plain",
        "it's",
        'say "hi"',
        "both ' and \"",
        INJECTION_PROMPTS["poll"],
        "\\",
        ("a", ("b",)),
        7,
        None,
    ]
    for value in values:
        assert ast.literal_eval(py_literal(value)) == value
    assert py_literal("x") == '"x"'
    assert py_literal(("x",)) == '("x",)'
    with pytest.raises(ValueError):
        py_literal(float("nan"))  # type: ignore[arg-type]


def test_toml_strings_round_trip() -> None:
    for value in ['a "quoted" name', "back\\slash", "tab\there", "del\x7f", "Zoë ☃"]:
        assert parse_manifest(f"name = {toml_string(value)}").name == value


def test_render_refuses_unused_values() -> None:
    with pytest.raises(KeyError, match="does not use"):
        render("common.conftest", surprise="x")


MUTMUT_CONFIG = """\
[tool.mutmut]
source_paths = ["main.py"]
pytest_add_cli_args = ["-q", "-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning"]
pytest_add_cli_args_test_selection = ["tests/"]
"""
MIN_MUTATION_SCORE = 0.9


# CI mutates one kind (~15 s); MB_MUTATION_KINDS=all mutates all nine (~3 min).
MUTATION_KINDS = sorted(KIND_PROMPTS) if os.environ.get("MB_MUTATION_KINDS") == "all" else ["todo"]


@pytest.mark.parametrize("kind", MUTATION_KINDS)
def test_mutation_score(kind: str, tmp_path: Path) -> None:
    """mutmut kills nearly every mutant of main.py with the generated tests (see module doc)."""
    root = write_bundle(generate_offline(KIND_PROMPTS[kind]).bundle, tmp_path / kind)
    (root / "pyproject.toml").write_text(MUTMUT_CONFIG)
    env = bundle_env()
    for args in (["run", "--max-children", "2"], ["export-cicd-stats"]):
        subprocess.run(
            [sys.executable, "-m", "mutmut", *args],
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=600,
            check=False,
        )
    stats = json.loads((root / "mutants" / "mutmut-cicd-stats.json").read_text())
    # mutants no test reaches ("no_tests") count against the score, like survivors
    tried = stats["killed"] + stats["survived"] + stats["no_tests"]
    assert stats["killed"] / tried >= MIN_MUTATION_SCORE, stats
