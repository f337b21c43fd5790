"""What the generator is told when it repairs a bundle: the QA report's findings, in words.

:func:`repair_findings` turns a failed :class:`~schemas.qa.QAGateReport` into
plain text for the model: each failing stage's reason, then the surviving
mutants (name, file, diff), the failing fuzz examples (operation, request,
error), bandit findings (file, line, test id, text), vulnerable packages
(installed version, advisories, fixed versions), flaky tests (outcome per run,
the sources of nondeterminism they touched) and the tests failing in every run
with their log tail. Everything is capped: each item, each list, and the whole
text. It holds only what the gate saw of this bundle, which is the user's own;
nothing of the platform's (keys, settings, other users) is ever in a report.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from schemas.qa import (
    DependencyReport,
    FuzzReport,
    MutationReport,
    QAGateReport,
    StaticReport,
    TestsReport,
)

MAX_FINDINGS_CHARS = 24_000
"""The whole text; past it, the rest is left out and the model is told so."""
MAX_ITEMS = 10
"""Entries per kind of finding (the gate lists the first ones first)."""
MAX_DIFF_CHARS = 2_000
MAX_EXAMPLE_CHARS = 1_200
MAX_TEXT_CHARS = 400
MAX_LOG_TAIL_CHARS = 3_000


def repair_findings(report: QAGateReport, *, limit: int = MAX_FINDINGS_CHARS) -> str:
    """The findings of every failing stage of ``report``, at most ``limit`` characters."""
    sections: list[str] = []
    failing = [s for s in report.stages if s.verdict != "pass"]
    sections.append(
        "Verdicts of the stages that failed:\n"
        + "\n".join(f"- {s.stage}: {_cut(s.reason, MAX_TEXT_CHARS)}" for s in failing)
    )
    for stage in report.stages:
        if isinstance(stage, MutationReport):
            sections += _mutation(stage)
        elif isinstance(stage, FuzzReport):
            sections += _fuzz(stage)
        elif isinstance(stage, StaticReport):
            sections += _static(stage)
        elif isinstance(stage, DependencyReport):
            sections += _deps(stage)
        elif isinstance(stage, TestsReport):
            sections += _tests(stage)
    return _within(sections, limit)


def _mutation(report: MutationReport) -> list[str]:
    survivors = [m for m in report.survivors if m.status == "survived"]
    if not survivors:
        return []
    items = [
        f"- {m.name} in {_mutant_file(m.name, m.diff)}:\n"
        + _fence(_cut(m.diff or "", MAX_DIFF_CHARS))
        for m in survivors[:MAX_ITEMS]
    ]
    return [
        _section(
            "Surviving mutants: the tests still pass with these changes to the code;"
            " add or sharpen tests that fail on each of them",
            items,
            len(survivors),
        )
    ]


def _fuzz(report: FuzzReport) -> list[str]:
    if not report.failures:
        return []
    items = [
        f"- {f.kind} in {_cut(f.target, MAX_TEXT_CHARS)}\n"
        f"  request: {_fence(_cut(f.example, MAX_EXAMPLE_CHARS))}\n"
        f"  error: {_cut(f.detail, MAX_TEXT_CHARS)}"
        for f in report.failures[:MAX_ITEMS]
    ]
    return [
        _section(
            "Failing fuzz examples: each minimal request or call broke the app; bad input"
            " must get a 4xx answer, never a 500 or a crash",
            items,
            len(report.failures),
        )
    ]


def _static(report: StaticReport) -> list[str]:
    if not report.findings:
        return []
    ordered = sorted(report.findings, key=lambda f: not f.gating)  # the gating ones first
    items = [
        f"- {f.file}:{f.line} {f.test_id} ({f.test_name}), severity {f.severity},"
        f" confidence {f.confidence}{', fails the gate' if f.gating else ''}:"
        f" {_cut(f.text, MAX_TEXT_CHARS)}"
        for f in ordered[:MAX_ITEMS]
    ]
    return [_section("Bandit findings: remove the insecure code", items, len(ordered))]


def _deps(report: DependencyReport) -> list[str]:
    gating = [f for f in report.findings if f.allowed_until is None]
    items = [
        f"- {f.package} {f.installed_version}: {', '.join([f.advisory_id, *f.aliases])};"
        f" fixed in {', '.join(f.fixed_versions) or 'no released version'}"
        + (f" ({_cut(f.summary, MAX_TEXT_CHARS)})" if f.summary else "")
        for f in gating[:MAX_ITEMS]
    ]
    unchecked = [f"- {name}: {_cut(why, MAX_TEXT_CHARS)}" for name, why in report.unchecked.items()]
    sections = []
    if items:
        sections.append(
            _section(
                "Vulnerable packages: require a fixed version in requirements.txt (or drop"
                " the package)",
                items,
                len(gating),
            )
        )
    if unchecked:
        sections.append(
            _section(
                "Packages the scan could not check (unknown to the advisory database)",
                unchecked[:MAX_ITEMS],
                len(unchecked),
            )
        )
    return sections


def _tests(report: TestsReport) -> list[str]:
    sections = []
    if report.flaky:
        items = [
            f"- {f.nodeid}: {', '.join(o.value for o in f.outcomes)}; touched:"
            f" {', '.join(f.sources) or 'no source of nondeterminism seen'}"
            for f in report.flaky[:MAX_ITEMS]
        ]
        sections.append(
            _section(
                "Flaky tests: outcome per run (fixed order, then shuffled, then reruns) and"
                " what they touched; make each test deterministic and independent of the"
                " others",
                items,
                len(report.flaky),
            )
        )
    if report.failing:
        items = [f"- {nodeid}" for nodeid in report.failing[:MAX_ITEMS]]
        tail = next((r.log_tail for r in report.runs if r.log_tail.strip()), "")
        text = _section("Tests failing in every run", items, len(report.failing))
        if tail:
            text += "\nEnd of the test log:\n" + _fence(_tail(tail, MAX_LOG_TAIL_CHARS))
        sections.append(text)
    return sections


def _section(title: str, items: Sequence[str], total: int) -> str:
    more = total - len(items)
    return f"{title}:\n" + "\n".join(items) + (f"\n- ... and {more} more" if more > 0 else "")


def _within(sections: Iterable[str], limit: int) -> str:
    """Whole sections while they fit, then as much of the next as fits, and a note."""
    out: list[str] = []
    used = 0
    for section in sections:
        cost = len(section) + 2
        if used + cost <= limit:
            out.append(section)
            used += cost
            continue
        note = "\n[the rest of the findings is left out: too long]"
        room = limit - used - len(note) - 2
        if room > 200:
            out.append(section[:room] + note)
        else:
            out.append(note.strip())
        break
    return "\n\n".join(out)


def _mutant_file(name: str, diff: str | None) -> str:
    """The file a mutant changes: its diff's header, else its module's name."""
    first = (diff or "").splitlines()[:1]
    if first and first[0].startswith("--- "):
        return first[0][4:].strip()
    module = name.split(".x_", 1)[0] if ".x_" in name else name.rsplit(".", 1)[0]
    return module.replace(".", "/") + ".py"


def _fence(text: str) -> str:
    """``text`` in a code fence that no line of it can close."""
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}\n{text}\n{fence}"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 15] + " [... cut]"


def _tail(text: str, limit: int) -> str:
    return text if len(text) <= limit else "[... cut] " + text[-(limit - 10) :]
