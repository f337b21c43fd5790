"""Moving decorated functions' bodies for mutation: what decorators, FastAPI and pydantic
see is unchanged, the bodies behave the same, and the lines map back to the user's."""

from __future__ import annotations

import asyncio
import inspect
import textwrap
import types
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from activities.qa.mutable_lines import LineCounts, count_lines
from activities.qa.mutation_transform import BODY_SUFFIX, transform


def load(source: str, name: str = "moved_module") -> types.ModuleType:
    """Execute ``source`` as a fresh module (so ``__class__`` cells and globals are real)."""
    module = types.ModuleType(name)
    exec(compile(source, f"{name}.py", "exec"), module.__dict__)
    return module


def both(source: str) -> tuple[types.ModuleType, types.ModuleType]:
    source = textwrap.dedent(source)
    return load(source, "as_written"), load(transform(source).source, "as_staged")


RECORDING = '''
import functools
import inspect
calls = []


def record(fn):
    """A decorator that keeps what it was given, as FastAPI and pydantic do."""
    calls.append((fn.__name__, fn.__doc__, str(inspect.signature(fn)), fn.__annotations__))

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return ("recorded", fn(*args, **kwargs))

    return wrapper


def tag(label):
    def apply(fn):
        fn.label = label
        return fn
    return apply
'''


# --- the shape of the transform -----------------------------------------------------------


def test_a_route_handler_becomes_a_plain_body_and_the_same_decorated_function() -> None:
    source = textwrap.dedent(
        '''
        from fastapi import FastAPI

        app = FastAPI()


        @app.get("/items/{item_id}")
        def read_item(item_id: int, q: str | None = None) -> dict:
            """One item."""
            if item_id > 3:
                return {"id": item_id, "q": q}
            return {"id": 0}
        '''
    )
    staged = transform(source)
    assert staged.moved == ["read_item"]
    lines = staged.source.splitlines()
    # The body keeps its lines; the plain function has no defaults or annotations.
    assert lines[6] == "", "the decorator's line is blank"
    assert lines[7] == f"def read_item{BODY_SUFFIX}(item_id, q):"
    assert lines[8] == "", "the docstring stays with the decorated function"
    assert lines[9:12] == source.splitlines()[9:12]
    # The decorated function follows, exactly as written, calling the body.
    assert lines[12:] == [
        '@app.get("/items/{item_id}")',
        "def read_item(item_id: int, q: str | None = None) -> dict:",
        '    """One item."""',
        f"    return read_item{BODY_SUFFIX}(item_id, q)",
    ]
    (function,) = staged.functions
    assert (function.key, function.name, function.moved) == (
        f"x_read_item{BODY_SUFFIX}",
        "read_item",
        True,
    )
    assert (function.user_def_line, function.user_body_line, function.user_end_line) == (8, 9, 12)
    assert function.staged_def_line == 8 and function.line_shift == 0
    assert function.user_line(11) == 11 and function.user_line(8) == 8


def test_parameters_of_every_kind_are_passed_through() -> None:
    plain, staged = both(
        RECORDING
        + """
@record
def every_kind(a, /, b: int = 2, *args, c, d=4, **kw) -> tuple:
    return (a, b, args, c, d, kw)
"""
    )
    calls: list[tuple[tuple[int, ...], dict[str, int]]] = [
        ((1,), {"c": 3}),
        ((1, 2, 5, 6), {"c": 3, "d": 7, "e": 8}),
        ((1,), {"b": 9, "c": 3, "z": 0}),
    ]
    for args, kwargs in calls:
        assert staged.every_kind(*args, **kwargs) == plain.every_kind(*args, **kwargs)
    assert staged.calls == plain.calls
    with pytest.raises(TypeError):
        staged.every_kind(1)  # c is still required


def test_methods_keep_super_private_names_and_their_first_argument() -> None:
    plain, staged = both(
        RECORDING
        + """
class Base:
    def greet(self):
        return "base"


class Child(Base):
    __secret = "hidden"

    @record
    def greet(self):
        return super().greet() + "+child+" + self.__secret

    @tag("s")
    @staticmethod
    def helper(x):
        return x * 2

    @tag("c")
    @classmethod
    def make(cls, n):
        return (cls.__name__, n)

    @property
    def size(self):
        return len(self.__secret)

    @size.setter
    def size(self, value):
        self.__secret = "x" * value
"""
    )
    for module in (plain, staged):
        child = module.Child()
        child.size = 3
    assert staged.Child().greet() == plain.Child().greet() == ("recorded", "base+child+hidden")
    assert staged.Child.helper(4) == plain.Child.helper(4) == 8
    assert staged.Child.make(2) == plain.Child.make(2) == ("Child", 2)
    staged_child = staged.Child()
    staged_child.size = 5
    assert staged_child.size == 5
    assert transform(
        textwrap.dedent(RECORDING + "class A:\n    @property\n    def x(self):\n        return 1\n")
    ).moved == ["A.x"]


def test_coroutines_and_generators_run_the_same() -> None:
    plain, staged = both(
        RECORDING
        + """
import contextlib


@tag("async")
async def double(x: int) -> int:
    return x * 2


@contextlib.contextmanager
def opened(log):
    log.append("open")
    try:
        yield "resource"
    finally:
        log.append("closed")


@tag("gen")
def numbers(n):
    received = yield 0
    for i in range(n):
        received = yield (i, received)
    return "done"
"""
    )
    assert inspect.iscoroutinefunction(staged.double)
    assert asyncio.run(staged.double(4)) == asyncio.run(plain.double(4)) == 8
    for module in (plain, staged):
        log: list[str] = []
        with pytest.raises(KeyError), module.opened(log) as value:
            assert value == "resource"
            raise KeyError("inside")
        assert log == ["open", "closed"]
    runs = []
    for module in (plain, staged):
        gen = module.numbers(2)
        seen = [next(gen), gen.send("a"), gen.send("b")]
        with pytest.raises(StopIteration) as stop:
            gen.send("c")
        runs.append((seen, stop.value.value))
    assert runs[0] == runs[1] == ([0, (0, "a"), (1, "b")], "done")


def test_what_cannot_move_stays_and_says_why() -> None:
    source = textwrap.dedent(
        '''
        import contextlib


        @contextlib.asynccontextmanager
        async def lifespan(app):
            app.ready = True
            yield


        def factory():
            @tag("inner")
            def inner():
                return 1 + 2

            return inner


        class Outer:
            class Inner:
                @tag("deep")
                def deep(self):
                    return 3 * 4

            @tag("nothing")
            def stub(self):
                """Only a docstring."""
        '''
    )
    staged = transform(source)
    assert staged.moved == []
    assert staged.kept == {
        "lifespan": "an async generator",
        "factory.<locals>.inner": "nested in a function",
        "Outer.Inner.deep": "a method of a nested class",
    }
    assert staged.source == source


def test_one_line_and_multi_line_signatures_keep_the_body_lines() -> None:
    source = textwrap.dedent(
        """\
        @tag("one")
        def one(x): return x + 1


        @tag(
            "multi",
        )
        def multi(
            a: int,
            b: int = 3,
        ) -> int:  # a comment
            total = a + b
            return total * 2
        x = multi(1)
        """
    )
    staged = transform(source)
    lines = staged.source.splitlines()
    assert lines[1] == f"def one{BODY_SUFFIX}(x): return x + 1"
    assert lines[2:5] == ['@tag("one")', "def one(x):", f"    return one{BODY_SUFFIX}(x)"]
    # multi comes three lines later than written (one's decorated function).
    assert lines[13] == f"def multi{BODY_SUFFIX}(a, b):  # a comment"
    assert lines[14:16] == ["    total = a + b", "    return total * 2"]
    module = load("def tag(label):\n    return lambda fn: fn\n" + staged.source)
    assert (module.one(1), module.multi(1), module.x) == (2, 8, 8)
    one, multi = staged.functions
    assert (one.staged_def_line, one.user_line(2)) == (2, 2)
    assert (multi.line_shift, multi.staged_def_line, multi.user_def_line) == (3, 14, 8)
    assert multi.user_line(16) == 13 and multi.user_line(14) == 8


def test_fastapi_and_pydantic_see_the_same_app() -> None:
    plain, staged = both(
        '''
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Query
from pydantic import BaseModel, Field, field_validator, model_validator

app = FastAPI()


class Item(BaseModel):
    name: str = Field(min_length=1)
    price: float

    @field_validator("name")
    @classmethod
    def strip(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("blank name")
        return value

    @model_validator(mode="after")
    def positive(self) -> "Item":
        if self.price < 0:
            raise ValueError("negative price")
        return self


def settings_dep() -> dict:
    return {"tax": 0.5}


Settings = Annotated[dict, Depends(settings_dep)]


@app.post("/items", status_code=201)
async def create(item: Item, settings: Settings, rounded: bool = Query(default=False)) -> dict:
    """Create an item; the description reaches the schema."""
    total = item.price * (1 + settings["tax"])
    if total > 100:
        raise HTTPException(status_code=422, detail="too expensive")
    return {"name": item.name, "total": round(total) if rounded else total}
'''
    )
    assert staged.app.openapi() == plain.app.openapi()
    for body, params in (
        ({"name": " pen ", "price": 2}, {}),
        ({"name": "pen", "price": 2.5}, {"rounded": "true"}),
        ({"name": "  ", "price": 1}, {}),
        ({"name": "pen", "price": -1}, {}),
        ({"name": "gold", "price": 90}, {}),
        ({"price": 1}, {"rounded": "maybe"}),
    ):
        responses = [
            TestClient(m.app).post("/items", json=body, params=params) for m in (plain, staged)
        ]
        assert responses[0].status_code == responses[1].status_code
        assert responses[0].json() == responses[1].json()


# --- a property over small synthetic modules ------------------------------------------------

NAMES = ("a", "b", "c", "d", "e")


@st.composite
def signatures(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A parameter list of random kinds and defaults, and the names it binds."""
    names = draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=5))
    split = draw(st.integers(0, len(names)))
    posonly = draw(st.integers(0, split))
    positional, keyword = names[:split], names[split:]
    defaults_from = draw(st.integers(0, len(positional)))
    parts: list[str] = []
    for i, name in enumerate(positional):
        parts.append(f"{name}={i}" if i >= defaults_from else name)
        if posonly and i == posonly - 1:
            parts.append("/")
    star = draw(st.sampled_from(["", "*args"]))
    if star or keyword:
        parts.append(star or "*")
    for name in keyword:
        parts.append(f"{name}={name!r}" if draw(st.booleans()) else name)
    if draw(st.booleans()):
        parts.append("**kw")
    bound = [*names, *(["args"] if star else []), *(["kw"] if "**kw" in parts else [])]
    return ", ".join(parts), bound


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(
    signature=signatures(),
    decorators=st.lists(st.sampled_from(["@record", '@tag("t")']), min_size=1, max_size=2),
    method=st.booleans(),
    values=st.lists(st.integers(-3, 3), min_size=7, max_size=7),
    kwargs=st.dictionaries(st.sampled_from((*NAMES, "z")), st.integers(), max_size=3),
)
def test_any_decorated_function_answers_the_same_once_moved(
    signature: tuple[str, list[str]],
    decorators: list[str],
    method: bool,
    values: list[int],
    kwargs: dict[str, int],
) -> None:
    parameters, bound = signature
    body = f"return ({''.join(f'{name}, ' for name in bound)})"
    if method:
        code = (
            "class Box:\n    factor = 3\n\n"
            + "".join(f"    {d}\n" for d in decorators)
            + f"    def target(self{', ' if parameters else ''}{parameters}):\n"
            + f"        if {bound[0] if bound else 'True'} == 2:\n"
            + "            return self.factor\n"
            + f"        {body}\n"
        )
    else:
        code = (
            "".join(f"{d}\n" for d in decorators)
            + f"def target({parameters}):\n"
            + f"    if {bound[0] if bound else 'True'} == 2:\n"
            + "        return 'two'\n"
            + f"    {body}\n"
        )
    plain, staged = both(RECORDING + code)
    assert transform(textwrap.dedent(RECORDING + code)).moved == (
        ["Box.target"] if method else ["target"]
    )

    def get(module: types.ModuleType) -> Callable[..., Any]:
        found: Callable[..., Any] = module.Box().target if method else module.target
        return found

    assert str(inspect.signature(get(staged))) == str(inspect.signature(get(plain)))
    assert staged.calls == plain.calls
    for count in range(len(values) + 1):
        outcomes = []
        for module in (plain, staged):
            try:
                outcomes.append(("ok", get(module)(*values[:count], **kwargs)))
            except TypeError as exc:
                outcomes.append(("TypeError", str(exc).split("() ")[-1]))
        assert outcomes[0] == outcomes[1]


# --- the lines counted over the code as written ----------------------------------------------


def test_handlers_count_as_mutable_and_hidden_logic_does_not() -> None:
    source = textwrap.dedent(
        """
        import contextlib
        from fastapi import FastAPI

        app = FastAPI()
        RATES = {"EUR": 1.0, "USD": 1.1}
        LIMIT = 1000 if len(RATES) > 1 else 10


        @app.get("/convert")
        def convert(amount: float, currency: str = "EUR") -> dict:
            if currency not in RATES:
                return {"error": "unknown currency"}
            return {"value": amount * RATES[currency]}


        @app.get("/fee", dependencies=[])
        def fee(amount: float, rule=lambda a: a * 0.01 if a > 10 else 0) -> float:
            return rule(amount)


        @contextlib.asynccontextmanager
        async def lifespan(app):
            if LIMIT > 3:
                app.state.ready = True
            yield


        class Rules:
            STRICT = sorted(RATES)[0]

            @staticmethod
            def allowed(currency):
                return currency in RATES
        """
    )
    # Mutable (5): convert's if and two returns, fee's return, allowed's return.
    # Not (8): app, RATES, LIMIT, the lambda default, lifespan's if, assignment and yield,
    # STRICT.
    assert count_lines(source) == LineCounts(logic=13, mutable=5)
