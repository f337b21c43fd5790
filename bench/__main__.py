"""Run every benchmark, then write ``bench/RESULTS.md`` and the README's results table.

    python -m bench [--only NAME ...] [--start-rate-seconds N] [--render]

Each script runs in its own process and ends with ``figure: value`` lines; the
table below picks the headline figures (value, the baseline measured in the
same run, their ratio) and states each target. ``--only`` reruns some scripts
and keeps the other rows from the previous ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime

from bench import readme_tables
from bench.readme_tables import ROOT

RESULTS = ROOT / "bench" / "RESULTS.md"
BLOCK = "bench-results"
FIGURES_JSON = "<!-- figures: "

SCRIPTS = [
    "moderation_local",
    "moderation_eval",
    "qa_static_deps",
    "qa_mutation",
    "qa_fuzz",
    "qa_gate",
    "qa_mutation_reuse",
    "flaky_detection",
    "codec",
    "secrets",
    "restore",
    "runtime_start",
    "rollback",
    "api",
    "pipeline_overhead",
    "concurrent_deploys",
    "qa_burst",
    "start_rate",
]


@dataclass(frozen=True)
class Headline:
    """One row: what is measured, the figures holding value/baseline/ratio, the target."""

    what: str
    value: str
    baseline: str | None
    ratio: str | None
    target: str


HEADLINES = [
    Headline(
        "deployment signal → live (s), vs tests + env + start by hand",
        "pipeline_total_s",
        "baseline_by_hand_s",
        "orchestration_overhead_ratio",
        "— (the gate runs 5 stages)",
    ),
    Headline(
        "… all but the QA gate and the 3 s watch (s)",
        "pipeline_outside_gate_s",
        "by_hand_outside_tests_s",
        "orchestration_outside_gate_ratio",
        "ratio ≤ 1.5",
    ),
    Headline(
        "QA gate, five stages (s)",
        "qa_gate_s",
        "qa_by_hand_s",
        "qa_gate_vs_by_hand_ratio",
        "ratio < 1",
    ),
    Headline(
        "… redeploy, one line of one handler changed: warm (s) vs cold",
        "gate_warm_s",
        "gate_full_s",
        "gate_warm_ratio",
        "ratio ≤ 0.35",
    ),
    Headline(
        "mutation stage (s) vs plain mutmut",
        "mutation_stage_s",
        "mutmut_plain_s",
        "mutation_overhead_ratio",
        "ratio ≤ 1.2",
    ),
    Headline(
        "fuzz stage (s) vs unsandboxed",
        "fuzz_stage_s",
        "fuzz_unsandboxed_s",
        "fuzz_sandbox_overhead_ratio",
        "ratio ≤ 1.5",
    ),
    Headline(
        "flaky test failing 1 in 2: caught (29 observations) vs 3 plain runs",
        "flaky_catch_1_in_2",
        "flaky_catch_1_in_2_three_runs",
        None,
        "≥ 0.99",
    ),
    Headline(
        "… failing 1 in 10",
        "flaky_catch_1_in_10",
        "flaky_catch_1_in_10_three_runs",
        None,
        "≥ 0.90",
    ),
    Headline("… failing 1 in 5", "flaky_catch_1_in_5", "flaky_catch_1_in_5_three_runs", None, "—"),
    Headline(
        "… failing 1 in 20", "flaky_catch_1_in_20", "flaky_catch_1_in_20_three_runs", None, "—"
    ),
    Headline("deterministic suites called flaky", "flaky_false_on_deterministic", None, None, "0"),
    Headline(
        "… extra runs for a deterministic suite (most)",
        "flaky_max_extra_runs_deterministic",
        None,
        None,
        "≤ 1",
    ),
    Headline(
        "tests stage with flake detection (s) vs the plain 3 runs",
        "flaky_stage_detect_s",
        "flaky_stage_plain_s",
        "flaky_detection_cost_ratio",
        "—",
    ),
    Headline(
        "bandit via its API (s) vs CLI",
        "bandit_s",
        "bandit_cli_s",
        "bandit_ratio_vs_cli",
        "ratio < 1",
    ),
    Headline(
        "local moderation (µs/prompt)",
        "moderation_us_per_prompt",
        "baseline_us_per_prompt",
        "moderation_ratio_vs_baseline",
        "< 1 ms a prompt",
    ),
    Headline(
        "… the learned part's work on an allowed prompt (µs) vs the rules alone",
        "learned_part_us_per_prompt",
        "moderation_rules_only_us_per_prompt",
        "moderation_learned_ratio_vs_rules",
        "ratio ≤ 1.3",
    ),
    Headline(
        "payload codec, 1 MiB random: throughput / raw AES-GCM",
        "codec_ratio_1m",
        None,
        "codec_ratio_1m",
        "ratio ≥ 0.5",
    ),
    Headline("generated-app JSON through the codec (MB/s)", "codec_json_mb_s", None, None, "—"),
    Headline(
        "secret reveal with audit row (/s)",
        "secret_reveals_per_s_c1",
        None,
        "secret_reveal_audit_ratio_c1",
        "ratio ≥ 0.4",
    ),
    Headline(
        "API status route (req/s) vs /healthz",
        "api_status_rps",
        "api_healthz_rps",
        "api_auth_vs_healthz_ratio",
        "ratio ≥ 0.8",
    ),
    Headline("… its p99 (ms)", "api_status_p99_ms", None, None, "—"),
    Headline(
        "API list route (req/s) vs /healthz",
        "api_list_rps",
        "api_healthz_rps",
        "api_list_vs_healthz_ratio",
        "ratio ≥ 0.5",
    ),
    Headline(
        "API sustained 60 s, 50 users polling status (req/s)",
        "api_load_rps",
        None,
        None,
        "—",
    ),
    Headline("… its p99 (ms)", "api_load_p99_ms", None, None, "—"),
    Headline("… 5xx responses (users and flooder)", "api_load_5xx", None, None, "0"),
    Headline(
        "… one user flooding: admitted vs the limit's allowance",
        "api_load_flood_admitted",
        "api_load_flood_allowed",
        None,
        "≤ allowance, the rest 429",
    ),
    Headline(
        "base backup (s) vs pg_dump",
        "base_backup_s",
        "pg_dump_s",
        "backup_vs_dump_ratio",
        "ratio ≤ 4",
    ),
    Headline(
        "PITR restore (s) vs pg_restore",
        "pitr_restore_s",
        "pg_restore_s",
        "restore_vs_pg_restore_ratio",
        "ratio ≤ 4",
    ),
    Headline(
        "container start (s) vs sandbox",
        "container_start_s",
        "sandbox_start_s",
        "container_vs_sandbox_start_ratio",
        "ratio ≤ 2",
    ),
    Headline(
        "rollback through the gateway, Docker (s) vs sandbox",
        "docker_rollback_s",
        "sandbox_rollback_s",
        "docker_vs_sandbox_rollback_ratio",
        "< 2 s",
    ),
    Headline(
        "deploy switch, Docker (s) vs sandbox",
        "docker_deploy_switch_s",
        "sandbox_deploy_switch_s",
        None,
        "—",
    ),
    Headline(
        "failed requests during deploy + rollback, Docker",
        "docker_failed_requests",
        None,
        None,
        "0",
    ),
    Headline(
        "failed requests during deploy + rollback, sandbox",
        "sandbox_failed_requests",
        None,
        None,
        "0",
    ),
    Headline(
        "blueprint deployments at once, one worker, N=5 (per min)",
        "concurrent_w1_n5_per_min",
        None,
        None,
        "—",
    ),
    Headline("… N=10 (per min)", "concurrent_w1_n10_per_min", None, None, "—"),
    Headline(
        "… N=20: two workers vs one (per min, scale-out)",
        "concurrent_two_workers_per_min",
        "concurrent_one_worker_per_min",
        "concurrent_scale_out_ratio",
        "— (one machine: cores shared)",
    ),
    Headline("… N=20, one worker: went live", "concurrent_w1_n20_live", None, None, "all"),
    Headline("… N=20, two workers: went live", "concurrent_w2_n20_live", None, None, "all"),
    Headline(
        "… N=20, one worker: p50 signal → live (s)",
        "concurrent_w1_n20_p50_s",
        None,
        None,
        "—",
    ),
    Headline("… … p95 (s)", "concurrent_w1_n20_p95_s", None, None, "—"),
    Headline(
        "… N=20, one worker: peak worker memory (MiB)",
        "concurrent_w1_n20_worker_mib",
        None,
        None,
        "—",
    ),
    Headline(
        "… … the worker with its sandboxes and apps (MiB)",
        "concurrent_w1_n20_tree_mib",
        None,
        None,
        "—",
    ),
    Headline(
        "QA burst, 20 at once, one worker: p50 signal → live (s), admission on vs off",
        "qa_burst_on_p50_s",
        "qa_burst_off_p50_s",
        "qa_burst_p50_ratio",
        "ratio ≤ 0.5",
    ),
    Headline(
        "… p95 (s), on vs off",
        "qa_burst_on_p95_s",
        "qa_burst_off_p95_s",
        "qa_burst_p95_ratio",
        "—",
    ),
    Headline("… slowest (s), on vs off", "qa_burst_on_max_s", "qa_burst_off_max_s", None, "—"),
    Headline(
        "… the light owner's slowest (s), on vs off",
        "qa_burst_on_light_max_s",
        "qa_burst_off_light_max_s",
        "qa_burst_light_max_ratio",
        "ratio < 1 (not starved)",
    ),
    Headline("… went live, on / off", "qa_burst_on_live", "qa_burst_off_live", None, "all"),
    Headline(
        "trivial pipelines started per s (sustained)",
        "start_rate_per_s",
        None,
        None,
        "all complete",
    ),
    Headline("… completed vs started", "start_rate_completed", "start_rate_started", None, "equal"),
    Headline("… counted by visibility", "start_rate_visibility_count", None, None, "= completed"),
    Headline("… backlog at the end", "start_rate_backlog_end", None, None, "0"),
    Headline(
        "… p95 schedule-to-start (ms), encrypted vs plain",
        "start_rate_p95_schedule_to_start_ms",
        "start_rate_plain_p95_schedule_to_start_ms",
        None,
        "< 100 ms",
    ),
    Headline(
        "… worker CPU per pipeline, encrypted / plain",
        "start_rate_cpu_vs_plain_ratio",
        None,
        "start_rate_cpu_vs_plain_ratio",
        "ratio ≤ 1.5",
    ),
]


def run(module: str, extra: list[str]) -> tuple[int, dict[str, str]]:
    """Run one script (its output streams through); its exit code and figure lines."""
    print(f"== bench.{module}", flush=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", f"bench.{module}", *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    figures: dict[str, str] = {}
    for line in proc.stdout:
        sys.stdout.write(line)
        name, sep, value = line.strip().partition(": ")
        if sep and name and " " not in name:
            figures[name] = value
    return proc.wait(), figures


def previous_figures() -> dict[str, str]:
    """The figures recorded in the last RESULTS.md (for --only)."""
    if not RESULTS.exists():
        return {}
    for line in RESULTS.read_text().splitlines():
        if line.startswith(FIGURES_JSON):
            loaded: dict[str, str] = json.loads(
                line.removeprefix(FIGURES_JSON).removesuffix(" -->")
            )
            return loaded
    return {}


def table(figures: dict[str, str], note: str) -> str:
    """The markdown table of the headline figures."""
    lines = [
        note,
        "",
        "| figure | value | baseline (same run) | ratio | target |",
        "| --- | --- | --- | --- | --- |",
    ]
    for h in HEADLINES:
        cells = [figures.get(name, "—") if name else "" for name in (h.value, h.baseline, h.ratio)]
        lines.append(f"| {h.what} | {cells[0]} | {cells[1]} | {cells[2]} | {h.target} |")
    return "\n".join(lines) + "\n"


def write(figures: dict[str, str], failed: list[str]) -> str:
    """RESULTS.md (with every figure, for the next --only) and the README block."""
    note = (
        f"`python -m bench` on {datetime.now(UTC).date().isoformat()},"
        f" commit `{readme_tables.commit()}`,"
        f" start rate sustained for {figures.get('start_rate_seconds', '—')} s per phase"
        + (f"; **failed**: {', '.join(failed)}" if failed else "")
        + "."
    )
    body = table(figures, note)
    RESULTS.write_text(
        "# Benchmark results\n\n" + body + "\n" + FIGURES_JSON + json.dumps(figures) + " -->\n"
    )
    readme_tables.replace(BLOCK, body)
    return body


def main() -> int:
    """Run the scripts, write the tables, print the headline figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=SCRIPTS, help="run only these scripts")
    parser.add_argument(
        "--start-rate-seconds", type=float, default=600.0, help="per phase (default 10 min)"
    )
    parser.add_argument(
        "--render",
        action="store_true",
        help="run nothing: rewrite the tables from the figures in bench/RESULTS.md",
    )
    args = parser.parse_args()
    if args.render:
        print(write(previous_figures(), []))
        return 0
    figures = previous_figures() if args.only else {}
    failed = []
    for module in args.only or SCRIPTS:
        extra = ["--seconds", str(args.start_rate_seconds)] if module == "start_rate" else []
        code, found = run(module, extra)
        figures.update(found)
        if code != 0:
            failed.append(module)
    body = write(figures, failed)
    print("== headline figures\n" + body)
    for name, value in figures.items():
        print(f"{name}: {value}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
