"""A QA report as a readable, self-contained HTML page (every value escaped).

Everything in a report may have been written by the generator or the user (test
names, mutant diffs, fuzz examples, summaries): every value is escaped, and the
page loads nothing (the route serves it under a ``default-src 'none'`` policy).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

from schemas.qa import (
    DependencyReport,
    FuzzReport,
    MutationReport,
    QAGateReport,
    StageReport,
    StaticReport,
    TestsReport,
)
from store.qa_reports import QAReportRow

CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'"

_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; max-width: 62rem; margin: 2rem auto;
       padding: 0 1rem; color: #1d232a; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
.pass { color: #116329; } .fail { color: #b3261e; } .muted { color: #69707a; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0; font-size: .9rem; }
th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid #e3e5e8;
         vertical-align: top; }
.bar { background: #eceef1; width: 16rem; height: .8rem; display: inline-block; }
.bar span { display: block; height: 100%; background: #2f6fd6; }
.bar.low span { background: #b3261e; }
pre { background: #f6f7f9; padding: .5rem; overflow-x: auto; font-size: .85rem; }
"""


def render_report(
    report: QAGateReport,
    *,
    title: str,
    attempts: Sequence[QAReportRow] = (),
    attempt: int | None = None,
) -> str:
    """The whole page; ``attempts``, when there are several, are listed with links to
    each one's page (``attempt`` is the one shown)."""
    parts = [
        f"<h1>{escape(title)}</h1>",
        f"<p>Verdict: {_verdict(report.verdict)} &middot; bundle <code>"
        f"{escape(report.bundle_hash[:16])}</code> &middot; {report.duration_s:.1f} s</p>",
    ]
    if len(attempts) > 1:
        parts.append(_attempts(attempts, attempt))
    parts.append(
        _table(
            ["stage", "verdict", "reason"],
            [[escape(s.stage), _verdict(s.verdict), escape(s.reason)] for s in report.stages],
        )
    )
    parts += [_stage(stage) for stage in report.stages]
    parts.append("<h2>Egress</h2>")
    parts.append(
        _table(["declared host:port"], [[f"<code>{escape(t)}</code>"] for t in report.egress])
        if report.egress
        else "<p>None declared: the app reaches no host outside.</p>"
    )
    if report.tool_versions:
        parts.append("<h2>Tools</h2>")
        parts.append(
            _table(
                ["tool", "version"],
                [[escape(k), escape(v)] for k, v in report.tool_versions.items()],
            )
        )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{''.join(parts)}</body></html>\n"
    )


def _attempts(attempts: Sequence[QAReportRow], shown: int | None) -> str:
    """The bundles the gate judged for this deployment: the generated one, then each
    repair the generator made with the previous report's findings."""
    rows = [
        [
            f"<strong>{a.attempt}</strong> (shown)"
            if a.attempt == shown
            else f'<a href="report.html?attempt={a.attempt}">{a.attempt}</a>',
            _verdict(a.verdict),
            f"<code>{escape(a.bundle_hash[:16])}</code>",
            escape(a.summary),
        ]
        for a in attempts
    ]
    return (
        "<h2>Attempts</h2><p>The generated bundle failed the gate, so the generator repaired"
        " it with the report's findings; each attempt was judged again.</p>"
        + _table(["attempt", "verdict", "bundle", "summary"], rows)
    )


def _stage(stage: StageReport) -> str:
    if isinstance(stage, TestsReport):
        return _tests(stage)
    if isinstance(stage, MutationReport):
        return _mutation(stage)
    if isinstance(stage, FuzzReport):
        return _fuzz(stage)
    if isinstance(stage, StaticReport):
        return _static(stage)
    return _deps(stage)


def _tests(report: TestsReport) -> str:
    rows = [
        [
            str(r.index),
            escape(r.order),
            str(r.seed or ""),
            str(r.hash_seed if r.hash_seed is not None else ""),
            str(r.random_seed if r.random_seed is not None else ""),
            str(r.exit_code),
            _counts(r.counts),
        ]
        for r in report.runs
    ]
    html = [
        "<h2>Tests x3</h2>",
        _table(["run", "order", "seed", "PYTHONHASHSEED", "random seed", "exit", "outcomes"], rows),
    ]
    if report.reruns:
        html.append(
            f"<p>{len(report.touched)} tests touched a source of nondeterminism and ran again:</p>"
        )
        html.append(
            _table(
                ["rerun", "kind", "tests", "repetitions", "PYTHONHASHSEED", "seconds"],
                [
                    [
                        str(r.index),
                        escape(r.kind),
                        str(r.tests),
                        str(r.repetitions),
                        str(r.hash_seed),
                        f"{r.duration_s:.1f}",
                    ]
                    for r in report.reruns
                ],
            )
        )
    if report.flaky:
        html.append("<p class=fail>Flaky tests (outcome per run, then per rerun):</p>")
        html.append(
            _table(
                ["test", "outcomes", "touched"],
                [
                    [
                        escape(f.nodeid),
                        escape(", ".join(o.value for o in f.outcomes)),
                        escape(", ".join(f.sources) or "nothing seen"),
                    ]
                    for f in report.flaky
                ],
            )
        )
    if report.failing:
        html.append(
            "<p class=fail>Failing in every run: " + escape(", ".join(report.failing)) + "</p>"
        )
    return "".join(html)


def _mutation(report: MutationReport) -> str:
    html = [
        "<h2>Mutation testing</h2>",
        "<p>Score "
        + _bar(report.score, report.threshold)
        + f" {_pct(report.score)} (threshold {_pct(report.threshold)}): "
        f"{report.killed} killed, {report.survived} survived, {report.no_tests} not covered, "
        f"{report.timeouts} timed out, {report.equivalent} equivalent (not scored); "
        f"{report.reused} outcomes reused from an earlier run.</p>",
        "<p>Mutable code "
        + _bar(report.mutable_fraction, report.min_mutable_fraction)
        + f" {_pct(report.mutable_fraction)} of {report.logic_lines} logic lines "
        f"(minimum {_pct(report.min_mutable_fraction)}).</p>",
    ]
    labels = {"survived": "Surviving", "no_tests": "Not covered", "equivalent": "Equivalent"}
    for mutant in report.survivors:
        where = f" in {mutant.function} ({mutant.file}:{mutant.line})" if mutant.function else ""
        why = f": {mutant.equivalent}" if mutant.equivalent else ""
        reused = " (reused)" if mutant.reused else ""
        html.append(
            f"<p>{labels.get(mutant.status, escape(mutant.status))} "
            f"<code>{escape(mutant.name)}</code>{escape(where + why + reused)}</p>"
        )
        html.append(f"<pre>{escape(mutant.diff or '(no diff)')}</pre>")
    return "".join(html)


def _fuzz(report: FuzzReport) -> str:
    html = [
        "<h2>Fuzz testing</h2>",
        f"<p>{len(report.functions)} functions and {len(report.operations)} API operations, "
        f"{report.examples_run} examples, seed {report.seed}.</p>",
    ]
    if report.failures:
        html.append(
            _table(
                ["kind", "target", "minimal example", "detail"],
                [
                    [
                        escape(f.kind),
                        escape(f.target),
                        f"<pre>{escape(f.example)}</pre>",
                        escape(f.detail),
                    ]
                    for f in report.failures
                ],
            )
        )
    return "".join(html)


def _static(report: StaticReport) -> str:
    html = [
        "<h2>Static analysis</h2>",
        f"<p>{report.files_scanned} files; fails on: {escape(report.policy)}.</p>",
    ]
    if report.findings:
        html.append(
            _table(
                ["file:line", "test", "severity / confidence", "issue", "gates"],
                [
                    [
                        escape(f"{f.file}:{f.line}"),
                        escape(f"{f.test_id} {f.test_name}"),
                        escape(f"{f.severity} / {f.confidence}"),
                        escape(f.text),
                        _verdict("fail") if f.gating else "no",
                    ]
                    for f in report.findings
                ],
            )
        )
    return "".join(html)


def _deps(report: DependencyReport) -> str:
    html = [
        "<h2>Dependencies</h2>",
        f"<p>{len(report.packages)} installed packages against {escape(report.database)}.</p>",
    ]
    if report.findings:
        html.append(
            _table(
                ["package", "installed", "advisory", "fixed in", "allowed until"],
                [
                    [
                        escape(f.package),
                        escape(f.installed_version),
                        escape(", ".join([f.advisory_id, *f.aliases])),
                        escape(", ".join(f.fixed_versions) or "no fix"),
                        escape(str(f.allowed_until or "")),
                    ]
                    for f in report.findings
                ],
            )
        )
    if report.unchecked:
        html.append(
            _table(
                ["not checked", "why"],
                [[escape(k), escape(v)] for k, v in report.unchecked.items()],
            )
        )
    return "".join(html)


def _table(head: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Cells must already be escaped (they may hold markup such as verdicts)."""
    th = "".join(f"<th>{h}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _verdict(verdict: str) -> str:
    css = "pass" if verdict == "pass" else "fail"
    return f'<strong class="{css}">{escape(verdict)}</strong>'


def _bar(value: float | None, threshold: float) -> str:
    width = 0.0 if value is None else max(0.0, min(1.0, value)) * 100
    low = " low" if value is None or value < threshold else ""
    return f'<span class="bar{low}"><span style="width:{width:.0f}%"></span></span>'


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _counts(counts: dict[str, int]) -> str:
    return escape(", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
