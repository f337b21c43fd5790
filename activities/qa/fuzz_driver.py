"""Fuzz a bundle inside the sandbox: hypothesis over its plain functions, schemathesis over its API.

Mounted read-only into the QA sandbox and run with the bundle's own
interpreter (``python fuzz_driver.py --entrypoint main:app ...``) in ``/app``;
it imports nothing but the standard library, hypothesis, schemathesis and
the bundle. It writes one JSON document (``--out``) after every target, so
a run killed at the stage's timeout still reports what it found, and keeps
the example it is running in a small side file (``--current``), so a run
that dies names the input that killed it.

Targets, in order:

1. The entrypoint module's own top-level ``def`` functions (not imported
   ones, not route handlers, not decorated or ``async`` ones), when every
   parameter is annotated with a *data type*: ``None``, ``bool``, ``int``,
   ``float``, ``complex``, ``str``, ``bytes``, ``Decimal``, ``Fraction``,
   ``date``/``datetime``/``time``/``timedelta``, ``UUID``, enums,
   ``Literal``, unions, parametrised containers (``list[int]``,
   ``Sequence[str]``, ``dict[str, date]``, ...), ``NewType``, and dataclasses,
   named tuples, typed dicts and pydantic models made of those.
   ``Annotated`` constraints are honoured (annotated-types metadata and
   pydantic ``Field(ge=..., max_length=...)``). Anything else is skipped
   with the reason: ``Any``/``object`` or an unparametrised container
   declares no contract to test against, and building an arbitrary class
   (a store, a ``Request``) would fuzz its constructor, not the function.
   Functions without parameters are skipped too (nothing to vary).
2. Every operation of the app's OpenAPI schema, in-process through
   schemathesis's ASGI transport (no server, no socket): positive examples
   (valid per the schema), then a few negative ones (invalid input must be
   refused, not crash the app), then boundary strings (a name of only spaces,
   an empty string, a very long one, non-ASCII, NUL: :data:`BOUNDARY_STRINGS`)
   one at a time in each string field of a request the app accepted, which
   random generation rarely reaches. What a handler raises on purpose
   (``HTTPException``, a validation error) is the answer the framework turns
   it into: a 4xx is fine, a 5xx or an exception out of the app is a failure.

When a plain function's call counts as a failure:

* It refuses its input, which is **not** a failure, by raising an
  ``HTTPException`` with a 4xx status or FastAPI's ``RequestValidationError``
  (a helper such as ``get_or_404`` answers on the handler's behalf; judged as the
  HTTP answer it becomes, so an ``HTTPException`` with a 5xx status is a
  ``server_error``), ``ValueError`` or a subclass (``UnicodeError``, pydantic's
  ``ValidationError``, ...), ``LookupError`` other than ``IndexError``
  (``KeyError``), ``OverflowError`` (a value out of the representable
  range), ``decimal.InvalidOperation`` (decimal's ``ValueError``:
  ``Decimal("abc")``, a signalling NaN) unless it reports 0/0, any
  exception class defined in the bundle itself (the app's own error
  types), or a ``TypeError`` raised by a ``raise`` statement (argument
  validation).
* ``crash``: ``ZeroDivisionError`` (also decimal's 0/0) and the other
  ``ArithmeticError`` s, ``IndexError``, ``AttributeError``,
  ``NameError``/``UnboundLocalError``, ``RecursionError``,
  ``AssertionError``, ``MemoryError``, and a ``TypeError`` that an
  operation raised (``None + 1``): the code broke on an input its own
  annotations allow. A plain function must be total over its annotated
  domain; it narrows the domain with ``Annotated`` constraints or refuses
  with one of the exceptions above.
* ``exception``: any other exception (``RuntimeError``, ``OSError``,
  ``sqlite3.Error``, ``SystemExit``, ...).
* ``schema_violation``: it returned a value that does not match its return
  annotation (checked for the same data types, containers element-wise;
  ``Any`` and classes that cannot be checked pass).
* ``timeout``: one call ran longer than ``--function-timeout`` (not
  shrunk: the first example that hung is reported).

When an API request counts as a failure:

* ``crash``: an exception came out of the ASGI app (Starlette answers 500
  and re-raises it), except FastAPI's ``ResponseValidationError``, which is
  a ``schema_violation`` (the handler returned something its
  ``response_model`` does not allow);
* ``server_error``: a 5xx response (``not_a_server_error``);
* ``schema_violation``: the response does not match what the schema
  declares for its status (``response_schema_conformance``,
  ``content_type_conformance``, ``response_headers_conformance``);
* ``timeout``: no response within ``--request-timeout`` (if the request
  still blocks the app's event loop, the remaining operations are not
  tried: each would only time out too);
* ``crash`` of ``GET /openapi.json``: a FastAPI app that cannot produce its
  schema or does not start (its lifespan fails). An app that declares no
  schema at all (plain ASGI) just has no operations.

Not checked: ``status_code_conformance`` (apps answer 404/409 from their
own error handlers without declaring them: a refusal, not a bug),
``allow_header_conformance`` (Starlette's 405 ``Allow`` header), the
positive/negative acceptance checks (a valid id that does not exist is
rightly a 404), and 4xx bodies against FastAPI's automatic 422
``HTTPValidationError`` schema (apps replace it with their own error
format).

Hypothesis runs with ``database=None``, ``derandomize=True`` and a seed
derived from ``--seed`` and the target's name, so the same seed gives the
same examples; it shrinks every failure to a minimal example. Note what
this is for: it finds crashes in honest code. The bundle runs in this
process, so code written to deceive the gate could forge the report.
"""

from __future__ import annotations

import argparse
import ast
import collections.abc as cabc
import contextlib
import copy
import dataclasses
import datetime
import decimal
import enum
import fractions
import hashlib
import importlib
import inspect
import itertools
import json
import linecache
import os
import signal
import sys
import traceback
import types
import typing
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# The tools are imported before the bundle's directory joins sys.path: a bundle file
# named like one of their modules must not replace it.
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable

try:
    import schemathesis  # type: ignore[import-not-found,unused-ignore]
    from schemathesis import checks as st_checks  # type: ignore[import-not-found,unused-ignore]
    from schemathesis.errors import FailureGroup  # type: ignore[import-not-found,unused-ignore]
    from schemathesis.generation import (  # type: ignore[import-not-found,unused-ignore]
        GenerationMode,
    )
except ImportError:  # pragma: no cover - every bundle environment has it
    schemathesis = None  # type: ignore[assignment,unused-ignore]

DRIVER_VERSION = 1
MAX_FAILURES_PER_TARGET = 5
MAX_VALUE_CHARS = 300
MAX_EXAMPLE_CHARS = 2000
MAX_DETAIL_CHARS = 1000
MAX_ELEMENTS_CHECKED = 1000
MAX_GENERATED_ITEMS = 10_000
NEGATIVE_SHARE = 5  # one example in five is negative (invalid input), when there are enough

FUNCTION = "function"
OPERATION = "operation"

# --- report ------------------------------------------------------------------------------


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, saying how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}...<{len(text)} chars>"


def short_repr(value: object, limit: int = MAX_VALUE_CHARS) -> str:
    """``repr(value)``, truncated; never raises."""
    try:
        text = repr(value)
    except Exception as exc:  # a hostile or broken __repr__
        text = f"<unrepresentable {type(value).__name__}: {type(exc).__name__}>"
    return shorten(text, limit)


@dataclasses.dataclass
class Target:
    """One fuzzed function or operation and what it found."""

    name: str
    kind: str
    examples: int = 0
    failures: dict[tuple[str, ...], dict[str, str]] = dataclasses.field(default_factory=dict)
    note: str = ""

    def record(self, key: tuple[str, ...], kind: str, example: str, detail: str) -> None:
        """Keep the latest failing example per distinct failure (hypothesis replays the
        minimal one last)."""
        if key in self.failures or len(self.failures) < MAX_FAILURES_PER_TARGET:
            self.failures[key] = {
                "kind": kind,
                "target": self.name,
                "example": shorten(example, MAX_EXAMPLE_CHARS),
                "detail": shorten(detail, MAX_DETAIL_CHARS),
            }

    def as_json(self) -> dict[str, Any]:
        """The target's entry in the report."""
        return {
            "name": self.name,
            "examples": self.examples,
            "failures": list(self.failures.values()),
            "note": self.note,
        }


class Report:
    """The JSON document in /out, rewritten (atomically) after every target."""

    def __init__(self, path: Path, current_path: Path, *, seed: int, examples: int) -> None:
        self.path = path
        self.data: dict[str, Any] = {
            "driver": DRIVER_VERSION,
            "state": "running",
            "error": "",
            "seed": seed,
            "examples_per_target": examples,
            "functions": [],
            "skipped_functions": {},
            "operations": [],
            "skipped_operations": {},
            "notes": [],
        }
        self._current = current_path.open("w", encoding="utf-8", errors="backslashreplace")

    def save(self) -> None:
        """Write the document as it is now."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(self.data, ensure_ascii=True), encoding="utf-8")
        os.replace(tmp, self.path)

    def running(self, target: Target, example: str) -> None:
        """Note the example about to run (a few syscalls; read only if the process dies)."""
        self._current.seek(0)
        line = f"{target.kind}\t{target.examples}\t{target.name}\t{shorten(example, 2000)}"
        self._current.write(line)
        self._current.truncate()
        self._current.flush()

    def finished(self, target: Target) -> None:
        """Add a completed target and save."""
        self.data["functions" if target.kind == FUNCTION else "operations"].append(target.as_json())
        self._current.seek(0)
        self._current.truncate()
        self._current.flush()
        self.save()


# --- time limits -------------------------------------------------------------------------


class ExampleTimeout(BaseException):
    """One example ran too long. A BaseException, so ``except Exception`` in the app
    cannot swallow it and hypothesis stops at once instead of shrinking a hang."""


def _on_alarm(_signum: int, _frame: types.FrameType | None) -> None:
    raise ExampleTimeout


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Interrupt the block after ``seconds`` (and every half second after, should it
    swallow the first interruption)."""
    signal.setitimer(signal.ITIMER_REAL, seconds, 0.5)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def target_seed(seed: int, *parts: str) -> int:
    """The hypothesis seed of one target (stable across runs and processes)."""
    digest = hashlib.sha256(":".join([str(seed), *parts]).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def hypothesis_settings(max_examples: int) -> settings:
    """Reproducible, quiet, no example database, no wall-clock deadline (hangs are
    stopped by :func:`time_limit`; a timing-based deadline would make reports flaky)."""
    return settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=(Phase.explicit, Phase.generate, Phase.target, Phase.shrink),
        print_blob=False,
        verbosity=Verbosity.quiet,
        report_multiple_bugs=True,
    )


# --- bundle ------------------------------------------------------------------------------


def bundle_root() -> Path:
    """The bundle's directory (the working directory)."""
    return Path.cwd().resolve()


def in_bundle(filename: str | None, root: Path) -> bool:
    """Whether a source file belongs to the bundle."""
    if not filename:
        return False
    try:
        return Path(filename).resolve().is_relative_to(root)
    except (OSError, ValueError):
        return False


def defined_in_bundle(cls: type, root: Path) -> bool:
    """Whether a class was defined by the bundle's code."""
    module = sys.modules.get(getattr(cls, "__module__", "") or "")
    return in_bundle(getattr(module, "__file__", None), root)


def load_app(entrypoint: str) -> tuple[types.ModuleType, Any]:
    """Import ``module:attribute`` from the bundle."""
    module_name, _, attribute = entrypoint.partition(":")
    module = importlib.import_module(module_name)
    app: Any = module
    for part in (attribute or "app").split("."):
        app = getattr(app, part)
    return module, app


def route_handlers(app: Any) -> dict[Any, str]:
    """Endpoint function -> 'GET /path' for every route of the app (mounted apps too)."""
    found: dict[Any, str] = {}

    def visit(routes: Any, prefix: str, depth: int) -> None:
        if depth > 10 or not isinstance(routes, cabc.Iterable):
            return
        for route in routes:
            # FastAPI >= 0.16x keeps an included router as one route holding the original.
            included = getattr(route, "original_router", None)
            context = getattr(route, "include_context", None)
            own_path = getattr(route, "path", None) or getattr(context, "prefix", "")
            path = prefix + str(own_path or "")
            endpoint = getattr(route, "endpoint", None)
            if callable(endpoint):
                methods = sorted(getattr(route, "methods", None) or ["WS"])
                label = f"{'/'.join(methods)} {path}"
                for fn in {endpoint, inspect.unwrap(endpoint)}:
                    found.setdefault(fn, label)
            for owner in (route, getattr(route, "app", None), included):
                inner = getattr(owner, "routes", None)
                if inner is not None and inner is not routes:
                    visit(inner, path, depth + 1)
                    break

    with contextlib.suppress(Exception):  # an exotic router: what was found so far
        visit(getattr(app, "routes", None) or (), "", 0)
    return found


# --- data types and strategies -----------------------------------------------------------

SCALARS: tuple[type, ...] = (
    type(None),
    bool,
    int,
    float,
    complex,
    str,
    bytes,
    decimal.Decimal,
    fractions.Fraction,
    datetime.date,
    datetime.datetime,
    datetime.time,
    datetime.timedelta,
    uuid.UUID,
)
SEQUENCES: tuple[Any, ...] = (
    list,
    set,
    frozenset,
    cabc.Sequence,
    cabc.MutableSequence,
    cabc.Set,
    cabc.MutableSet,
    cabc.Collection,
    cabc.Iterable,
)
MAPPINGS: tuple[Any, ...] = (dict, cabc.Mapping, cabc.MutableMapping)
UNIONS: tuple[Any, ...] = (typing.Union, types.UnionType)


def type_name(annotation: Any) -> str:
    """A readable name for an annotation."""
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__qualname__
    return short_repr(annotation, 120).replace("typing.", "")


def is_pydantic_model(annotation: Any) -> bool:
    """A pydantic (v2) model class, recognised without importing pydantic."""
    return (
        isinstance(annotation, type)
        and isinstance(getattr(annotation, "model_fields", None), dict)
        and callable(getattr(annotation, "model_validate", None))
    )


def field_annotations(cls: type) -> dict[str, Any] | None:
    """The typed fields of a dataclass, named tuple, typed dict or pydantic model."""
    if is_pydantic_model(cls):
        fields = typing.cast(dict[str, Any], cls.model_fields)  # type: ignore[attr-defined]
        return {name: with_field_metadata(f.annotation, f) for name, f in fields.items()}
    if (
        dataclasses.is_dataclass(cls)
        or typing.is_typeddict(cls)
        or (issubclass(cls, tuple) and hasattr(cls, "_fields"))
    ):
        return typing.get_type_hints(cls, include_extras=True)
    return None


def with_field_metadata(annotation: Any, field_info: Any) -> Any:
    """``annotation`` with the constraints of a pydantic ``FieldInfo`` attached."""
    metadata = list(getattr(field_info, "metadata", None) or ())
    return typing.Annotated[(annotation, *metadata)] if metadata else annotation


def not_data(annotation: Any, seen: frozenset[int] = frozenset()) -> str | None:
    """Why ``annotation`` is not a data type hypothesis should build; None when it is."""
    if annotation is Any or annotation is object:
        return f"{type_name(annotation)} declares no contract to fuzz against"
    if isinstance(annotation, typing.TypeVar):
        return f"type variable {annotation.__name__}"
    if isinstance(annotation, str | typing.ForwardRef):
        return f"unresolved annotation {annotation!r}"
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return not_data(args[0], seen)
    if origin is typing.Literal:
        return None
    if origin in UNIONS:
        return next((why for a in args if (why := not_data(a, seen))), None)
    if origin is tuple or origin in SEQUENCES or origin in MAPPINGS:
        items = [a for a in args if a is not Ellipsis and a != ()]
        if not args:
            return f"{type_name(annotation)} without element types"
        return next((why for a in items if (why := not_data(a, seen))), None)
    if annotation in (tuple, *SEQUENCES, *MAPPINGS):
        return f"{type_name(annotation)} without element types"
    supertype = getattr(annotation, "__supertype__", None)  # typing.NewType
    if supertype is not None:
        return not_data(supertype, seen)
    if not isinstance(annotation, type):
        return f"{type_name(annotation)} is not a data type"
    if annotation in SCALARS or issubclass(annotation, enum.Enum):
        return None
    if id(annotation) in seen:
        return f"{type_name(annotation)} is recursive"
    try:
        fields = field_annotations(annotation)
    except Exception as exc:
        return f"{type_name(annotation)}: fields cannot be resolved ({type(exc).__name__})"
    if fields is None:
        return (
            f"{type_name(annotation)} is not a data type (building one would fuzz its "
            "constructor, not this function)"
        )
    inner = seen | {id(annotation)}
    for name, field_type in fields.items():
        why = not_data(field_type, inner)
        if why:
            return f"{type_name(annotation)}.{name}: {why}"
    return None


def normalized(annotation: Any) -> Any:
    """``annotation`` with pydantic ``FieldInfo`` constraints turned into annotated-types
    metadata (which hypothesis understands), all the way down."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        metadata: list[Any] = []
        for item in annotation.__metadata__:
            nested = getattr(item, "metadata", None)
            if type(item).__name__ == "FieldInfo" and isinstance(nested, list):
                metadata.extend(nested)
            else:
                metadata.append(item)
        base = normalized(args[0])
        return typing.Annotated[(base, *metadata)] if metadata else base
    if origin is None or origin is typing.Literal or not args:
        return annotation
    parts = tuple(normalized(a) if a is not Ellipsis else a for a in args)
    if origin in UNIONS:
        return typing.Union[parts]  # noqa: UP007 - built from a tuple at run time
    try:
        return annotation.copy_with(parts)  # typing generics (Sequence[...], ...)
    except AttributeError:
        return types.GenericAlias(origin, parts)


def _validated(model: Any) -> Callable[[dict[str, Any]], Any]:
    def build(values: dict[str, Any]) -> Any:
        try:
            return model.model_validate(values)
        except ValueError:  # pydantic's ValidationError: this draw is not a valid model
            return None

    return build


def register_models(annotation: Any, seen: set[int]) -> None:
    """Teach hypothesis to build the pydantic models inside ``annotation`` (validated)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    for arg in args:
        if arg is not Ellipsis and origin is not typing.Literal:
            register_models(arg, seen)
    if not isinstance(annotation, type) or id(annotation) in seen:
        return
    seen.add(id(annotation))
    fields = field_annotations(annotation) if not issubclass(annotation, enum.Enum) else None
    for field_type in (fields or {}).values():
        register_models(field_type, seen)
    if is_pydantic_model(annotation) and fields is not None:
        strategy = st.fixed_dictionaries(
            {name: st.from_type(normalized(t)) for name, t in fields.items()}
        )
        st.register_type_strategy(
            annotation, strategy.map(_validated(annotation)).filter(lambda m: m is not None)
        )


def strategy_for(annotation: Any, seen: set[int]) -> st.SearchStrategy[Any]:
    """hypothesis's strategy for a data type (raises when it cannot build one)."""
    register_models(annotation, seen)
    strategy = st.from_type(normalized(annotation))
    strategy.validate()
    return strategy


def conforms(value: Any, annotation: Any, depth: int = 0) -> bool:
    """Whether ``value`` matches ``annotation`` (True when that cannot be checked)."""
    if depth > 20 or annotation is Any or annotation is object:
        return True
    if annotation is None or annotation is type(None):
        return value is None
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return conforms(value, args[0], depth + 1)
    if origin is typing.Literal:
        return any(value == a and type(value) is type(a) for a in args)
    if origin in UNIONS:
        return any(conforms(value, a, depth + 1) for a in args)
    if origin is tuple:
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(conforms(v, args[0], depth + 1) for v in value[:MAX_ELEMENTS_CHECKED])
        if not args:  # typing.Tuple
            return True
        if args == ((),):  # Tuple[()]
            return len(value) == 0
        return len(value) == len(args) and all(
            conforms(v, a, depth + 1) for v, a in zip(value, args, strict=True)
        )
    if origin in MAPPINGS:
        if not isinstance(value, origin):
            return False
        if len(args) != 2:
            return True
        items = itertools.islice(value.items(), MAX_ELEMENTS_CHECKED)
        return all(
            conforms(k, args[0], depth + 1) and conforms(v, args[1], depth + 1) for k, v in items
        )
    if origin in SEQUENCES:
        if not isinstance(value, origin):
            return False
        if not args or isinstance(value, cabc.Iterator) or not isinstance(value, cabc.Collection):
            return True  # do not consume an iterator to check it
        sample = itertools.islice(value, MAX_ELEMENTS_CHECKED)
        return all(conforms(v, args[0], depth + 1) for v in sample)
    supertype = getattr(annotation, "__supertype__", None)
    if supertype is not None:
        return conforms(value, supertype, depth + 1)
    if origin is not None:
        annotation = origin
    if annotation is float:
        return isinstance(value, int | float)
    if annotation is complex:
        return isinstance(value, int | float | complex)
    if isinstance(annotation, type):
        if typing.is_typeddict(annotation):
            return isinstance(value, dict)
        try:
            return isinstance(value, annotation)
        except TypeError:  # a non-runtime protocol, a parametrised user generic, ...
            return True
    return True


# --- plain functions ---------------------------------------------------------------------

CRASHES: tuple[type[BaseException], ...] = (
    ArithmeticError,
    IndexError,
    AttributeError,
    NameError,
    RecursionError,
    AssertionError,
    MemoryError,
)


def raised_by_statement(exc: BaseException) -> bool:
    """Whether the innermost Python frame raised ``exc`` with a ``raise`` statement."""
    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    line = linecache.getline(tb.tb_frame.f_code.co_filename, tb.tb_lineno)
    return line.lstrip().startswith("raise")


def http_status(exc: BaseException) -> int | None:
    """The status an ASGI framework answers for ``exc`` when a handler raises it on purpose:
    Starlette's and FastAPI's ``HTTPException`` (its ``status_code``) and FastAPI's
    ``RequestValidationError`` (422); None for any other exception."""
    for cls in type(exc).__mro__:
        module = getattr(cls, "__module__", "") or ""
        if not module.startswith(("starlette.", "fastapi.")):
            continue
        if cls.__name__ == "HTTPException":
            status = getattr(exc, "status_code", None)
            return status if isinstance(status, int) and not isinstance(status, bool) else 500
        if cls.__name__ == "RequestValidationError":
            return 422
    return None


def refusal_or_failure(exc: BaseException, root: Path) -> str | None:
    """None when ``exc`` is a legitimate refusal of the input, else the failure kind."""
    if not isinstance(exc, Exception):
        return "exception"  # SystemExit, KeyboardInterrupt, ...
    status = http_status(exc)
    if status is not None:
        # Judged as the HTTP answer it becomes: a 4xx refuses the input, a 5xx is a failure.
        return None if 400 <= status < 500 else "server_error"
    if defined_in_bundle(type(exc), root):
        return None
    if isinstance(exc, IndexError):
        return "crash"
    if isinstance(exc, decimal.InvalidOperation):
        # decimal's ValueError (Decimal("abc"), a signalling NaN), unless it reports 0/0.
        signals = [s for a in exc.args if isinstance(a, list) for s in a]
        divides_by_zero = any(
            isinstance(s, type) and issubclass(s, ZeroDivisionError) for s in signals
        )
        return "crash" if divides_by_zero or isinstance(exc, ZeroDivisionError) else None
    if isinstance(exc, ValueError | LookupError | OverflowError):
        return None
    if isinstance(exc, TypeError):
        return None if raised_by_statement(exc) else "crash"
    if isinstance(exc, CRASHES):
        return "crash"
    return "exception"


def where(exc: BaseException, root: Path) -> str:
    """'main.py:12 in ratio': the innermost frame in the bundle's code."""
    found = ""
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        filename = frame.f_code.co_filename
        if in_bundle(filename, root):
            relative = os.path.relpath(filename, root)
            found = f"{relative}:{lineno} in {frame.f_code.co_name}"
    return found


def describe(exc: BaseException, root: Path) -> str:
    """'ZeroDivisionError: division by zero (main.py:12 in ratio)'."""
    message = str(exc) if not isinstance(exc, ExampleTimeout) else ""
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    location = where(exc, root)
    return f"{text} ({location})" if location else text


def call_repr(name: str, sig: inspect.Signature, values: dict[str, Any]) -> str:
    """``main.fn(0, x=1)``: the call that reproduces an example."""
    parts = []
    for param in sig.parameters.values():
        if param.name not in values:
            continue
        value = short_repr(values[param.name])
        positional = param.kind is inspect.Parameter.POSITIONAL_ONLY
        parts.append(value if positional else f"{param.name}={value}")
    return f"{name}({', '.join(parts)})"


def call_with(fn: Callable[..., Any], sig: inspect.Signature, values: dict[str, Any]) -> Any:
    """Call ``fn`` with generated values, positional-only parameters by position."""
    positional = [
        p.name for p in sig.parameters.values() if p.kind is inspect.Parameter.POSITIONAL_ONLY
    ]
    args = [values[name] for name in positional if name in values]
    kwargs = {k: v for k, v in values.items() if k not in positional}
    result = fn(*args, **kwargs)
    if inspect.isgenerator(result):  # run the body it would otherwise never run
        return list(itertools.islice(result, MAX_GENERATED_ITEMS))
    return result


class _Found(Exception):
    """Raised to hypothesis for a failure that is not an exception (a wrong return)."""


@dataclasses.dataclass
class Candidate:
    """A plain function the driver can fuzz."""

    name: str
    fn: Callable[..., Any]
    signature: inspect.Signature
    strategies: dict[str, st.SearchStrategy[Any]]
    returns: Any
    check_return: bool


def candidates(
    module: types.ModuleType, app: Any, root: Path
) -> tuple[list[Candidate], dict[str, str]]:
    """The module's fuzzable functions, and the others with the reason they are skipped."""
    source_file = getattr(module, "__file__", None)
    skipped: dict[str, str] = {}
    found: list[Candidate] = []
    if not source_file or not in_bundle(source_file, root):
        return found, skipped
    try:
        tree = ast.parse(Path(source_file).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return found, skipped
    handlers = route_handlers(app)
    seen_models: set[int] = set()
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        name = f"{module.__name__}.{node.name}"
        fn = vars(module).get(node.name)
        if isinstance(node, ast.AsyncFunctionDef):
            skipped[name] = "async function"
        elif node.decorator_list:
            label = (handlers.get(fn) or handlers.get(inspect.unwrap(fn))) if callable(fn) else None
            skipped[name] = f"route handler ({label})" if label else "decorated"
        elif not inspect.isfunction(fn) or fn.__code__.co_filename != source_file:
            skipped[name] = "the name is bound to something else at run time"
        elif fn in handlers:
            skipped[name] = f"route handler ({handlers[fn]})"
        else:
            candidate = _candidate(name, fn, seen_models)
            if isinstance(candidate, str):
                skipped[name] = candidate
            else:
                found.append(candidate)
    return found, skipped


def _candidate(name: str, fn: Callable[..., Any], seen_models: set[int]) -> Candidate | str:
    try:
        sig = inspect.signature(fn)
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception as exc:
        return f"annotations cannot be resolved ({type(exc).__name__}: {exc})"
    strategies: dict[str, st.SearchStrategy[Any]] = {}
    for param in sig.parameters.values():
        if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            continue
        if param.name not in hints:
            return f"parameter {param.name!r} is not annotated"
        why = not_data(hints[param.name])
        if why:
            full = type_name(hints[param.name])
            shown = "" if why.startswith(full) else f" ({full})"
            return f"parameter {param.name!r}{shown}: {why}"
        try:
            strategies[param.name] = strategy_for(hints[param.name], seen_models)
        except Exception as exc:
            return f"parameter {param.name!r}: hypothesis cannot build it ({type(exc).__name__})"
    if not strategies:
        return "no parameters to fuzz"
    returns = hints.get("return", Any)
    return Candidate(
        name=name,
        fn=fn,
        signature=sig,
        strategies=strategies,
        returns=returns,
        check_return="return" in hints and not inspect.isgeneratorfunction(fn),
    )


def fuzz_function(
    candidate: Candidate, report: Report, *, seed: int, examples: int, timeout_s: float
) -> Target:
    """Run hypothesis over one function; every distinct failure with its minimal call."""
    root = bundle_root()
    target = Target(candidate.name, FUNCTION)

    @hypothesis_seed(target_seed(seed, FUNCTION, candidate.name))
    @hypothesis_settings(examples)
    @given(values=st.fixed_dictionaries(candidate.strategies))
    def run(values: dict[str, Any]) -> None:
        example = call_repr(candidate.name, candidate.signature, values)
        target.examples += 1
        report.running(target, example)
        try:
            with time_limit(timeout_s):
                result = call_with(candidate.fn, candidate.signature, values)
        except ExampleTimeout:
            target.record(
                ("timeout",), "timeout", example, f"did not return within {timeout_s:g} s"
            )
            raise
        except BaseException as exc:
            kind = refusal_or_failure(exc, root)
            if kind is None:
                return
            target.record(
                (kind, type(exc).__name__, where(exc, root)), kind, example, describe(exc, root)
            )
            raise
        if candidate.check_return and not conforms(result, candidate.returns):
            detail = (
                f"returned {short_repr(result)} ({type(result).__name__}), "
                f"declared -> {type_name(candidate.returns)}"
            )
            target.record(("schema_violation",), "schema_violation", example, detail)
            raise _Found(detail)

    try:
        run()
    except BaseException as exc:  # failures were recorded as they happened
        if not target.failures:
            target.note = f"hypothesis stopped: {describe(exc, root)}"
    return target


# --- the API -----------------------------------------------------------------------------

SCHEMA_FAILURES = {"ServerError": "server_error", "ContentTypeServerError": "server_error"}


def declared_schema_path(app: Any) -> str | None:
    """Where the app says it serves its OpenAPI schema (FastAPI), if it says so."""
    path = getattr(app, "openapi_url", None)
    if isinstance(path, str) and path.startswith("/"):
        return path
    return "/openapi.json" if callable(getattr(app, "openapi", None)) else None


def load_schema(app: Any, timeout_s: float) -> tuple[Any | None, str]:
    """The app's OpenAPI schema bound to the app for in-process calls, or why not."""
    if schemathesis is None:
        return None, "schemathesis is not installed"
    config = schemathesis.Config()  # explicit: never a schemathesis.toml from the bundle
    declared = getattr(app, "openapi_url", "/openapi.json")
    path = declared if isinstance(declared, str) and declared.startswith("/") else None
    errors = []
    try:
        with time_limit(timeout_s):  # the app's startup runs first, and may hang
            if path is not None:
                try:
                    return schemathesis.openapi.from_asgi(path, app, config=config), ""
                except Exception as exc:
                    errors.append(f"{path}: {type(exc).__name__}: {exc}")
            openapi = getattr(app, "openapi", None)
            if callable(openapi):  # FastAPI with the schema route switched off
                try:
                    schema = schemathesis.openapi.from_dict(openapi(), config=config)
                    schema.app = app
                    return schema, ""
                except Exception as exc:
                    errors.append(f"app.openapi(): {type(exc).__name__}: {exc}")
    except ExampleTimeout:
        errors.append(f"no schema within {timeout_s:g} s")
    return None, "; ".join(errors) or "the app serves no OpenAPI schema"


def auto_validation_error_schema(case: Any, status: int) -> bool:
    """Whether the schema documents FastAPI's automatic 422 body for ``status``."""
    try:
        responses = case.operation.definition.raw.get("responses", {})
        content = responses.get(str(status), {}).get("content", {})
        schema = content.get("application/json", {}).get("schema", {})
    except AttributeError:
        return False
    return isinstance(schema, dict) and str(schema.get("$ref", "")).endswith("/HTTPValidationError")


def response_schema_conformance(ctx: Any, response: Any, case: Any) -> bool | None:
    """schemathesis's check, except for 4xx bodies against FastAPI's automatic 422 schema."""
    status = int(response.status_code)
    if 400 <= status < 500 and auto_validation_error_schema(case, status):
        return None
    return typing.cast("bool | None", st_checks.response_schema_conformance(ctx, response, case))


def api_checks() -> list[Any]:
    """The checks every response must pass."""
    return [
        st_checks.not_a_server_error,
        response_schema_conformance,
        st_checks.content_type_conformance,
        st_checks.response_headers_conformance,
    ]


def request_repr(case: Any) -> str:
    """The request as a curl line (falls back to method, path, query and body)."""
    try:
        text = str(case.as_curl_command())
        return text.split("\n\n", 1)[0]
    except Exception:
        body = getattr(case, "body", None)
        shown = "" if type(body).__name__ == "NotSet" else f" body={short_repr(body)}"
        query = getattr(case, "query", None) or {}
        return f"{case.method.upper()} {case.formatted_path} query={short_repr(query)}{shown}"


def is_request_timeout(exc: BaseException) -> bool:
    """requests' timeouts, recognised without importing requests."""
    return type(exc).__module__.startswith("requests") and "Timeout" in type(exc).__name__


def app_exception_kind(exc: BaseException) -> str:
    """``crash`` for an exception out of the app; FastAPI's response validation error
    says the handler returned what its ``response_model`` forbids."""
    if type(exc).__name__ == "ResponseValidationError" and type(exc).__module__.startswith(
        "fastapi"
    ):
        return "schema_violation"
    return "crash"


def failure_kind(failure: BaseException) -> str:
    """The report's kind for one schemathesis check failure."""
    return SCHEMA_FAILURES.get(type(failure).__name__, "schema_violation")


def failure_detail(failure: BaseException) -> str:
    """A check failure in one paragraph."""
    title = str(getattr(failure, "title", "") or type(failure).__name__)
    message = str(getattr(failure, "message", "") or "")
    return f"{title}: {message}".strip().rstrip(":")


_FOUND_TYPES: dict[str, type[Exception]] = {}


def found(kind: str, detail: str) -> Exception:
    """An exception of a type per failure kind, so hypothesis shrinks each one apart."""
    cls = _FOUND_TYPES.setdefault(kind, type(f"Found_{kind}", (AssertionError,), {}))
    return cls(detail)


BOUNDARY_STRINGS: tuple[str, ...] = (
    " ",  # whitespace only: passes min_length=1, nothing left once stripped or split
    "",
    "   ",
    "\t\n",
    "\u00a0",  # no-break space: whitespace to str.split() and str.strip()
    "\u200b",  # zero-width space: invisible, yet not whitespace
    "x" * 1000,
    "\u00dcn\u00efc\u00f6d\u00e9",
    "\u540d\u524d",
    "\U0001f642",  # outside the Basic Multilingual Plane
    "a b",
    " a",
    "0",
    "'\"<>&",
    "\x00",
)
"""Strings tried in every string field of a working request, most telling first: the
edges random generation rarely reaches (a name of only spaces, an empty string, a very
long one, characters outside ASCII), whatever the field's constraints say (a refusal
is a fine answer)."""
MAX_BOUNDARY_DEPTH = 3
STRING_LOCATIONS = ("body", "query", "path_parameters", "cookies")


@dataclasses.dataclass
class Probe:
    """Sends one case to the app and judges the answer."""

    target: Target
    report: Report
    checks: list[Any]
    timeout_s: float
    root: Path

    def send(self, case: Any, *, first_only: bool = False) -> tuple[int | None, str | None]:
        """The response's status and the failure kind (None: none), recorded on the target.

        Raises ExampleTimeout when the app did not answer in time. ``first_only`` keeps an
        earlier example of the same failure.
        """
        target, root = self.target, self.root
        example = request_repr(case)
        target.examples += 1
        self.report.running(target, example)

        def record(key: tuple[str, ...], kind: str, detail: str) -> None:
            if not (first_only and key in target.failures):
                target.record(key, kind, example, detail)

        try:
            # The transport's own timeout cancels async handlers; the alarm also stops
            # a blocked sync one (its thread is abandoned).
            with time_limit(self.timeout_s + 1.0):
                response = case.call(timeout=self.timeout_s)
        except ExampleTimeout:
            record(("timeout",), "timeout", f"no response in {self.timeout_s:g} s")
            raise
        except BaseException as exc:
            if is_request_timeout(exc):
                record(("timeout",), "timeout", f"no response in {self.timeout_s:g} s")
                raise ExampleTimeout from None
            kind = app_exception_kind(exc)
            record((kind, type(exc).__name__, where(exc, root)), kind, describe(exc, root))
            return None, kind
        try:
            case.validate_response(response, checks=self.checks)
        except FailureGroup as group:
            status = f"HTTP {response.status_code}"
            for failure in group.exceptions:
                kind = failure_kind(failure)
                record((kind, type(failure).__name__), kind, f"{status}: {failure_detail(failure)}")
            return int(response.status_code), failure_kind(group.exceptions[0])
        return int(response.status_code), None


def fuzz_operation(
    operation: Any,
    report: Report,
    *,
    seed: int,
    examples: int,
    timeout_s: float,
) -> Target:
    """Positive then negative examples against one operation, then the boundary strings
    (:data:`BOUNDARY_STRINGS`) in each string field of a working request."""
    root = bundle_root()
    target = Target(str(operation.label), OPERATION)
    negative = examples // NEGATIVE_SHARE
    plan = [(GenerationMode.POSITIVE, examples - negative), (GenerationMode.NEGATIVE, negative)]
    probe = Probe(target, report, api_checks(), timeout_s, root)
    bases: list[tuple[bool, Any]] = []  # the first positive case, and the first answered 2xx
    for mode, count in plan:
        if count < 1:
            continue
        try:
            strategy = operation.as_strategy(generation_mode=mode)
        except Exception as exc:
            target.note = shorten(f"{mode.value}: {type(exc).__name__}: {exc}", MAX_DETAIL_CHARS)
            continue
        run = _operation_test(
            probe,
            strategy,
            count,
            target_seed(seed, OPERATION, target.name, mode.value),
            bases if mode == GenerationMode.POSITIVE else None,
        )

        earlier = dict(target.failures)
        try:
            run()
        except ExampleTimeout:
            return target  # the next examples would most likely hang too
        except Unsatisfiable:
            if mode == GenerationMode.POSITIVE:
                target.note = "schemathesis could not generate a valid request"
            # negative: nothing about this operation can be made invalid
        except BaseException as exc:
            if not target.failures:
                target.note = shorten(f"hypothesis stopped: {describe(exc, root)}", 500)
        finally:
            # A failure the positive run already shrank keeps its (valid) minimal request.
            target.failures.update(earlier)
    if bases:
        for case in boundary_cases(bases[-1][1], limit=examples):
            try:
                probe.send(case, first_only=True)
            except ExampleTimeout:
                break
    return target


def _operation_test(
    probe: Probe,
    strategy: Any,
    count: int,
    seed: int,
    bases: list[tuple[bool, Any]] | None,
) -> Callable[[], None]:
    """A hypothesis test sending ``count`` cases; the first one and the first one answered
    2xx are kept in ``bases`` (when given)."""

    @hypothesis_seed(seed)
    @hypothesis_settings(count)
    @given(case=strategy)
    def run(case: Any) -> None:
        status, kind = probe.send(case)
        if bases is not None and len(bases) < 2:
            working = status is not None and 200 <= status < 300 and kind is None
            if not bases or (working and not bases[-1][0]):
                bases.append((working, case))
        if kind is not None:
            raise found(kind, f"HTTP {status}" if status is not None else kind)

    return typing.cast(Callable[[], None], run)


def boundary_cases(base: Any, *, limit: int) -> list[Any]:
    """Copies of ``base`` with one string field set to one boundary string each, the
    most telling strings first, at most ``limit``."""
    slots: list[tuple[str, tuple[Any, ...]]] = []
    for location in STRING_LOCATIONS:
        container = getattr(base, location, None)
        if isinstance(container, dict | list):
            slots += [(location, path) for path in string_paths(container, ())]
    cases: list[Any] = []
    for value in BOUNDARY_STRINGS:
        for location, path in slots:
            if len(cases) >= limit:
                return cases
            if location == "path_parameters" and not value.strip("\t\n\r"):
                continue  # URLs drop tabs and newlines: an empty segment is another route
            case = base.derive()
            container = copy.deepcopy(getattr(base, location))
            setattr(case, location, with_value(container, path, value))
            cases.append(case)
    return cases


def string_paths(value: Any, path: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """Where ``value`` (a request's JSON body, form, query...) holds strings: keys and
    indexes, the first element of a list standing for all."""
    if isinstance(value, str):
        return [path]
    if len(path) >= MAX_BOUNDARY_DEPTH:
        return []
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in string_paths(v, (*path, k))]
    if isinstance(value, list) and value:
        return string_paths(value[0], (*path, 0))
    return []


def with_value(container: Any, path: tuple[Any, ...], value: str) -> Any:
    """``container`` (a private copy) with the string at ``path`` replaced by ``value``."""
    if not path:
        return value
    node = container
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return container


def event_loop_alive(timeout_s: float = 2.0) -> bool:
    """After a hung request: whether schemathesis's ASGI event loop still answers."""
    try:
        from schemathesis.python import asgi  # type: ignore[import-not-found,unused-ignore]

        portal = asgi._get_portal()
        with time_limit(timeout_s):
            portal.call(_nothing)
    except BaseException:
        return False
    return True


async def _nothing() -> None:
    return None


# --- main --------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The driver's command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--entrypoint", default="main:app")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--examples", type=int, required=True)
    parser.add_argument("--function-timeout", type=float, default=2.0)
    parser.add_argument("--request-timeout", type=float, default=5.0)
    parser.add_argument("--out", type=Path, default=Path("/out/fuzz.json"))
    parser.add_argument("--current", type=Path, default=Path("/out/current.txt"))
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    """Fuzz the bundle in the working directory; the exit status says whether it ran."""
    args = parse_args(argv)
    report = Report(args.out, args.current, seed=args.seed, examples=args.examples)
    report.save()
    root = bundle_root()
    sys.path.insert(0, str(root))
    try:
        module, app = load_app(args.entrypoint)
    except BaseException as exc:
        report.data["state"] = "import_error"
        report.data["error"] = shorten(
            "".join(traceback.format_exception_only(type(exc), exc)).strip(), MAX_DETAIL_CHARS
        )
        report.save()
        traceback.print_exc()
        return 3
    signal.signal(signal.SIGALRM, _on_alarm)  # after the import: the app cannot replace it
    try:
        found_functions, skipped = candidates(module, app, root)
        report.data["skipped_functions"] = skipped
        report.save()
        for candidate in found_functions:
            target = fuzz_function(
                candidate,
                report,
                seed=args.seed,
                examples=args.examples,
                timeout_s=args.function_timeout,
            )
            report.finished(target)
        fuzz_api(app, report, args)
    except BaseException as exc:  # a driver bug or a hostile bundle: report, do not hang
        report.data["state"] = "error"
        report.data["error"] = shorten(
            "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
            MAX_DETAIL_CHARS * 4,
        )
        report.save()
        traceback.print_exc()
        return 4
    report.data["state"] = "finished"
    report.save()
    return 0


def fuzz_api(app: Any, report: Report, args: argparse.Namespace) -> None:
    """Every operation of the app's schema, one after another."""
    schema, why = load_schema(app, args.request_timeout * 2)
    if schema is None:
        path = declared_schema_path(app)
        if path is None:  # not a FastAPI app: its API cannot be fuzzed, which is no failure
            report.data["notes"].append(f"no OpenAPI schema: {why}")
            report.save()
            return
        # The app promises a schema but cannot produce it (or cannot even start).
        target = Target(f"GET {path}", OPERATION)
        target.record(("crash",), "crash", f"curl -X GET http://testserver{path}", why)
        report.finished(target)
        return
    skipped = report.data["skipped_operations"]
    for result in schema.get_all_operations():
        if not hasattr(result, "ok"):  # schemathesis could not read this operation
            error = result.err()
            label = f"{getattr(error, 'method', '') or ''} {getattr(error, 'path', '') or ''}"
            skipped[shorten(label.strip() or "?", 200)] = shorten(
                f"{type(error).__name__}: {error}", 500
            )
            continue
        operation = result.ok()
        target = fuzz_operation(
            operation,
            report,
            seed=args.seed,
            examples=args.examples,
            timeout_s=args.request_timeout,
        )
        report.finished(target)
        if "timeout" in {f["kind"] for f in target.failures.values()} and not event_loop_alive():
            report.data["notes"].append(
                f"stopped after {target.name}: the app's event loop is still blocked "
                "by the request that timed out"
            )
            report.save()
            return


if __name__ == "__main__":
    status = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    # Threads a hung handler left behind must not keep the process alive.
    os._exit(status)
