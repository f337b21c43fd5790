"""Bundles a model might write for the repair tests: a flawed one and its repair.

``FLAWED`` is the QA corpus's sound "Tips" app with two defects the gate finds: a
pocket calculator that ``eval``s its input (bandit B307) and tests that run the
code but check almost nothing (surviving mutants; one of them in a string that holds
markup, so the report's pages must escape what the generator wrote). ``FIXED`` is
the sound bundle, which passes all five stages.
"""

from __future__ import annotations

from typing import Any

from tests.activities.generation.chat_server import bundle_answer, messages_text
from tests.qa_corpus.corpus import CORPUS, INSECURE_MAIN, INSECURE_TESTS, MAIN, WEAK_TESTS

HOSTILE = "<script>alert('generated')</script>"

BANNER_MAIN = f'''

def banner() -> str:
    """The page's heading."""
    return "<h1>Tips</h1>{HOSTILE}"
'''

BANNER_TEST = """

def test_the_banner_renders() -> None:
    from main import banner

    banner()
"""

FIXED: dict[str, str] = dict(CORPUS["sound"][0])
FLAWED: dict[str, str] = {
    **FIXED,
    "main.py": MAIN + INSECURE_MAIN + BANNER_MAIN,
    "tests/test_main.py": WEAK_TESTS + INSECURE_TESTS + BANNER_TEST,
}


def carries_the_findings(body: dict[str, Any]) -> bool:
    """Whether a chat request gives the model the gate's findings: the bandit test id of
    the ``eval`` and at least one surviving mutant's diff."""
    text = messages_text({"json": body})
    return "B307" in text and "Surviving mutants" in text and "\n@@ " in text


def fix_only_with_findings(body: dict[str, Any]) -> str:
    """The flawed bundle, unless the request carries the findings: then the fixed one."""
    return bundle_answer(FIXED if carries_the_findings(body) else FLAWED)
