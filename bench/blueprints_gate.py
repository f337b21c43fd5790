"""Every offline blueprint through the whole QA gate (the generator must pass its own gate).

    .venv/bin/python -m bench.blueprints_gate

Prints each kind's stage verdicts and times, then ``blueprints_passing_gate: N/9``
and the gate's mean wall time per bundle against the tests-x3 stage alone in the
same run (how much the four extra stages cost when they run in parallel).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from pathlib import Path

from activities.generation import generate_offline
from activities.generation.blueprints import BLUEPRINTS
from activities.qa.gate import QAGate
from bench import ADVISORY_SNAPSHOT
from runtime.envs import EnvBuilder
from schemas.settings import Settings
from store.bundles import bundle_hash, write_bundle

PROMPTS = {
    "todo": "a todo list for my climbing team",
    "notes": "a notebook for cooking ideas with tags: dessert, Quick Meals, vegan",
    "poll": 'a poll for the team lunch: "Where should we eat?" "Pizza" "Sushi" "Tacos"',
    "guestbook": "a guestbook for our wedding",
    "habits": "a habit tracker for meditate, stretch and read",
    "shortener": "a url shortener for the marketing team",
    "flashcards": "flashcards for learning spanish vocabulary: hola = hello, gato = cat",
    "expenses": "split bills on our ski trip between Ann, Bob and Cy in €",
    "inventory": "inventory for my hardware store with categories: tools, paint; warn below 3",
}


async def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="mb-bench-bp-"))
    root.chmod(0o755)
    settings = Settings(data_dir=root, advisory_db=ADVISORY_SNAPSHOT)
    gate = QAGate(EnvBuilder(root / "envs"), settings)
    passed, gate_times, tests_times = 0, [], []
    try:
        assert set(PROMPTS) == {b.kind for b in BLUEPRINTS}
        for kind, prompt in PROMPTS.items():
            generated = generate_offline(prompt)
            assert generated.kind == kind, (kind, generated.kind)
            bundle = generated.bundle
            digest = bundle_hash(bundle)
            checkout = write_bundle(bundle, root / "bundles" / digest)
            await gate.environment(bundle)
            t0 = time.perf_counter()
            await gate.tests(checkout, bundle, runs=3, timeout_s=300, seed_base=digest)
            tests_times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            report = await gate.run_all(checkout, bundle, digest, settings.qa_policy())
            gate_times.append(time.perf_counter() - t0)
            passed += report.verdict == "pass"
            verdicts = " ".join(f"{s.stage}={s.verdict}" for s in report.stages)
            print(f"{kind:<12} {report.verdict:<5} {gate_times[-1]:6.1f} s  {verdicts}")
            for stage in report.stages:
                if stage.verdict != "pass":
                    print(f"    {stage.stage}: {stage.reason}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    mean_gate = sum(gate_times) / len(gate_times)
    mean_tests = sum(tests_times) / len(tests_times)
    print(f"blueprints_passing_gate: {passed}/{len(gate_times)}")
    print(f"gate_mean_s: {mean_gate:.1f}")
    print(f"gate_vs_tests_only_ratio: {mean_gate / mean_tests:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
