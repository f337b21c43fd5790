"""The realistic corpus: app bundles written as people and LLMs write them, and its manifest.

Each bundle is a directory under ``apps/`` (``main.py`` or a small package, ``tests/``,
``requirements.txt``, ``microapp.toml``); ``apps/corpus.toml`` says for each one what the
QA gate must do with it: pass it (a sound, well-tested bundle) or fail it on exactly one
stage (a bundle carrying one defect), whether it belongs to the part the gate may be tuned
on or to the held-out part, and the evidence of its defect that can be checked cheaply.
``bench/qa_corpus.py`` measures the gate on it; ``test_realistic_corpus.py`` checks it.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

APPS = Path(__file__).with_name("apps")
MANIFEST = APPS / "corpus.toml"
STAGES = ("tests", "mutation", "fuzz", "static", "deps")

Stage = Literal["tests", "mutation", "fuzz", "static", "deps"]
Part = Literal["tuning", "held-out"]


class SurvivingMutant(BaseModel):
    """A change of behaviour the bundle's own tests do not notice."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str
    old: str = Field(min_length=1)
    new: str


class CrashRequest(BaseModel):
    """A request, valid per the app's schema, that makes the app answer 500."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    path: str = Field(pattern=r"^/")
    json_body: Any = Field(default=None, alias="json")
    data: dict[str, str] | None = None
    params: dict[str, str] | None = None


class CorpusEntry(BaseModel):
    """One bundle of the corpus and what the gate must do with it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    expect: Literal["pass"] | Stage
    part: Part
    features: list[str] = Field(min_length=1)
    defect: str = ""
    flaky_test: str | None = None
    flaky_kind: Literal["order", "random"] | None = None
    surviving_mutant: SurvivingMutant | None = None
    crash: CrashRequest | None = None
    bandit: str | None = Field(default=None, pattern=r"^B\d{3}$")
    bandit_file: str | None = None
    pin: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]+==[A-Za-z0-9.+!-]+$")
    advisory: str | None = None

    @model_validator(mode="after")
    def _evidence_matches_the_target(self) -> CorpusEntry:
        evidence = {
            "tests": ("flaky_test", "flaky_kind"),
            "mutation": ("surviving_mutant",),
            "fuzz": ("crash",),
            "static": ("bandit", "bandit_file"),
            "deps": ("pin", "advisory"),
        }
        wanted = set(evidence.get(self.expect, ()))
        for stage_fields in evidence.values():
            for name in stage_fields:
                given = getattr(self, name) is not None
                if given != (name in wanted):
                    verb = "needs" if name in wanted else "must not have"
                    raise ValueError(f"{self.name}: expect={self.expect!r} {verb} {name}")
        if (self.expect == "pass") != (not self.defect):
            raise ValueError(f"{self.name}: a defect line is needed exactly when expect != 'pass'")
        return self

    @property
    def target(self) -> Stage | None:
        """The stage this bundle must fail, or None for a sound bundle."""
        return None if self.expect == "pass" else self.expect

    @property
    def path(self) -> Path:
        """The bundle's directory."""
        return APPS / self.name


def load_corpus(manifest: Path = MANIFEST) -> list[CorpusEntry]:
    """Every entry of the manifest, in its order."""
    data = tomllib.loads(manifest.read_text(encoding="utf-8"))
    return [CorpusEntry.model_validate({"name": name, **fields}) for name, fields in data.items()]
