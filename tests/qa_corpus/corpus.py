"""A corpus of bundles for the QA gate: one sound bundle and one per defect class.

Each defective bundle is the sound one with one defect added, so it must fail
exactly the stage that targets that defect and pass the other four:

============== ========================================================= =========
bundle         defect                                                    fails
============== ========================================================= =========
sound          none                                                      nothing
weak_tests     tests that run the code but assert almost nothing         mutation
order_flaky    a test that passes only right after another one           tests
crashes        a handler that divides by a user-supplied value           fuzz
insecure       ``eval`` of input                                         static
vulnerable     ``urllib3==1.26.4`` pinned (CVE-2021-33503 and others)    deps
============== ========================================================= =========
"""

from __future__ import annotations

from collections.abc import Mapping

MAIN = '''"""Tips: split a restaurant bill, tip included."""

from fastapi import FastAPI
from pydantic import BaseModel, Field

app = FastAPI(title="Tips")


class TipRequest(BaseModel):
    amount_cents: int = Field(ge=0, le=10_000_000)
    percent: int = Field(ge=0, le=100)
    people: int = Field(ge=1, le=100)


class TipResponse(BaseModel):
    tip_cents: int
    total_cents: int
    per_person_cents: int


def tip_cents(amount_cents: int, percent: int) -> int:
    """The tip, rounded to the nearest cent."""
    if amount_cents < 0 or not 0 <= percent <= 100:
        raise ValueError("amount must be >= 0 and percent within 0..100")
    return (amount_cents * percent + 50) // 100


def split(total_cents: int, people: int) -> int:
    """Each person's share, rounded up so the bill is always covered."""
    if people < 1:
        raise ValueError("people must be at least 1")
    return -(-total_cents // people)


def quote(request: TipRequest) -> TipResponse:
    tip = tip_cents(request.amount_cents, request.percent)
    total = request.amount_cents + tip
    return TipResponse(
        tip_cents=tip, total_cents=total, per_person_cents=split(total, request.people)
    )


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/tip", response_model=TipResponse)
def tip(request: TipRequest) -> TipResponse:
    return quote(request)
'''

TESTS = """import pytest
from fastapi.testclient import TestClient

from main import TipRequest, app, quote, split, tip_cents

client = TestClient(app)


@pytest.mark.parametrize(
    ("amount", "percent", "expected"),
    [(1000, 10, 100), (1000, 0, 0), (999, 15, 150), (1, 50, 1), (0, 100, 0), (1000, 100, 1000)],
)
def test_tip_rounds_to_the_nearest_cent(amount: int, percent: int, expected: int) -> None:
    assert tip_cents(amount, percent) == expected


@pytest.mark.parametrize(("amount", "percent"), [(-1, 10), (100, -1), (100, 101)])
def test_tip_refuses_nonsense(amount: int, percent: int) -> None:
    with pytest.raises(ValueError, match="percent within"):
        tip_cents(amount, percent)


@pytest.mark.parametrize(
    ("total", "people", "each"), [(1000, 1, 1000), (1000, 3, 334), (999, 3, 333), (0, 2, 0)]
)
def test_split_rounds_up(total: int, people: int, each: int) -> None:
    assert split(total, people) == each


def test_split_needs_someone_to_pay() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        split(100, 0)


def test_quote_adds_the_tip_before_splitting() -> None:
    result = quote(TipRequest(amount_cents=1000, percent=20, people=3))
    assert (result.tip_cents, result.total_cents, result.per_person_cents) == (200, 1200, 400)


def test_the_api_quotes_and_validates() -> None:
    ok = client.post("/tip", json={"amount_cents": 2000, "percent": 15, "people": 4})
    assert ok.status_code == 200
    assert ok.json() == {"tip_cents": 300, "total_cents": 2300, "per_person_cents": 575}
    for bad in ({"amount_cents": 1, "percent": 101, "people": 1}, {"amount_cents": 1, "people": 0}):
        assert client.post("/tip", json=bad).status_code == 422
    assert client.get("/health").json() == {"status": "ok"}
"""

REQUIREMENTS = "fastapi>=0.110\n"

WEAK_TESTS = """from fastapi.testclient import TestClient

from main import TipRequest, app, quote, split, tip_cents


def test_it_runs() -> None:
    tip_cents(1000, 10)
    split(1000, 3)
    quote(TipRequest(amount_cents=1000, percent=20, people=3))
    TestClient(app).get("/health")
"""

ORDER_FLAKY_TESTS = """
_order: list[str] = []


def test_records_a_first_tip() -> None:
    _order.append("first")
    assert tip_cents(1000, 10) == 100


def test_relies_on_the_test_above() -> None:
    assert _order[-1:] == ["first"], "passes only right after test_records_a_first_tip"
    _order.append("second")
"""

CRASHING_MAIN = '''

def average(total_cents: int, people: int) -> int:
    """Unchecked division: the defect this bundle carries."""
    return total_cents // people


@app.get("/average")
def average_route(total_cents: int, people: int) -> dict[str, int]:
    return {"each": average(total_cents, people)}
'''

CRASHING_TESTS = """

def test_average_of_a_fair_split() -> None:
    from main import average

    assert average(1000, 4) == 250
    assert average(999, 3) == 333
    assert client.get("/average", params={"total_cents": 900, "people": 3}).json() == {"each": 300}
"""

INSECURE_MAIN = '''

def evaluate(expression):  # noqa: ANN001 - unannotated on purpose: not a fuzz target
    """A pocket calculator for the tip page (the defect: eval of input)."""
    return eval(expression)
'''

INSECURE_TESTS = """

def test_the_calculator_adds() -> None:
    from main import evaluate

    assert evaluate("2*3+1") == 7
    assert evaluate("10//4") == 2
"""


def _bundle(
    main: str = MAIN, tests: str = TESTS, requirements: str = REQUIREMENTS
) -> dict[str, str]:
    return {
        "main.py": main,
        "requirements.txt": requirements,
        "tests/test_main.py": tests,
        "microapp.toml": 'name = "Tips"\n',
    }


CORPUS: Mapping[str, tuple[dict[str, str], str | None]] = {
    "sound": (_bundle(), None),
    "weak_tests": (_bundle(tests=WEAK_TESTS), "mutation"),
    "order_flaky": (_bundle(tests=TESTS + ORDER_FLAKY_TESTS), "tests"),
    "crashes": (_bundle(main=MAIN + CRASHING_MAIN, tests=TESTS + CRASHING_TESTS), "fuzz"),
    "insecure": (_bundle(main=MAIN + INSECURE_MAIN, tests=TESTS + INSECURE_TESTS), "static"),
    "vulnerable": (_bundle(requirements=REQUIREMENTS + "urllib3==1.26.4\n"), "deps"),
}
"""name -> (files, the one stage it must fail, or None)."""
