"""Run every benchmark and print their headline figures (``make bench``)."""

from __future__ import annotations

import subprocess
import sys

SCRIPTS = [
    "bench.moderation_local",
    "bench.qa_static_deps",
    "bench.qa_mutation",
    "bench.qa_fuzz",
    "bench.qa_gate",
    "bench.codec",
    "bench.secrets",
    "bench.restore",
    "bench.runtime_start",
    "bench.rollback",
    "bench.api",
    "bench.pipeline_overhead",
]


def main() -> int:
    """Run each benchmark in its own process; collect the ``figure: value`` lines."""
    figures: list[str] = []
    for module in SCRIPTS:
        print(f"== {module}", flush=True)
        result = subprocess.run([sys.executable, "-m", module], capture_output=True, text=True)
        sys.stdout.write(result.stdout)
        if result.returncode != 0:
            sys.stderr.write(result.stderr)
            return result.returncode
        figures += [
            line
            for line in result.stdout.splitlines()
            if ": " in line and " " not in line.split(": ")[0]
        ]
    print("== headline figures")
    print("\n".join(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
