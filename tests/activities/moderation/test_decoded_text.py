"""Visible-text moderation decodes what a page would decode at run time: a phishing page
hidden behind base64, hex or unicode escapes, percent-encoding, HTML entities or
String.fromCharCode is blocked like the page in clear; benign encoded data stays
allowed; a large hostile bundle is decoded in linear time and still judged."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities.moderation.decoded_text import MAX_DECODED_CHARS, decode, decoded_parts
from activities.moderation.visible_text import visible_text
from activities.moderation_activities import ModerationActivities
from schemas.moderation import ModerateBundleInput
from schemas.settings import Settings
from store.artifacts import ArtifactStore
from store.bundle_cache import BundleCache
from store.bundles import make_bundle
from store.db import Database
from store.moderation_log import ModerationLog
from workers.wiring import moderator

SERVER = "from fastapi import FastAPI\napp = FastAPI()\n"
PAGE = (
    "Chase Online Banking. Sign in. Your account is locked: confirm your card number,"
    " expiry date and CVV to restore access."
)
BASE = {"requirements.txt": "fastapi\n", "tests/test_main.py": "def test_x():\n    pass\n"}


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _entities(text: str) -> str:
    return "".join(f"&#{ord(ch)};" for ch in text)


def _js(expression: str) -> dict[str, str]:
    return {
        "main.py": SERVER,
        "static/index.html": "<div id=app></div><script src=app.js></script>",
        "static/app.js": f"document.getElementById('app').textContent = {expression};\n",
    }


HIDDEN: dict[str, dict[str, str]] = {
    "atob": _js(f'atob("{_b64(PAGE)}")'),
    "base64-in-python": {
        "main.py": SERVER + f"import base64\nPAGE = base64.b64decode({_b64(PAGE)!r}).decode()\n"
    },
    "hex-in-python": {"main.py": SERVER + f"PAGE = bytes.fromhex({PAGE.encode().hex()!r})\n"},
    "x-escapes": _js('"' + "".join(f"\\x{b:02x}" for b in PAGE.encode()) + '"'),
    "u-escapes": _js('"' + "".join(f"\\u{ord(c):04x}" for c in PAGE) + '"'),
    "from-char-code": _js("String.fromCharCode(" + ",".join(str(ord(c)) for c in PAGE) + ")"),
    "percent": _js("decodeURIComponent('" + "".join(f"%{b:02X}" for b in PAGE.encode()) + "')"),
    "html-entities": {"main.py": SERVER, "templates/index.html": f"<p>{_entities(PAGE)}</p>"},
    "hex-entities": {
        "main.py": SERVER,
        "templates/index.html": "".join(f"&#x{ord(c):x};" for c in PAGE),
    },
    "nested": _js(f'atob("{_b64(_b64(PAGE))}")'),
    "atob-in-entities": {
        "main.py": SERVER,
        "templates/index.html": _entities(f'<script>x = atob("{_b64(PAGE)}")</script>'),
    },
}

BENIGN_ENCODED: dict[str, str] = {
    "templates/index.html": (
        '<img src="data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQV'
        'R42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="> Tom &amp; Jerry &copy; 2026'
        ' <a href="/search?q=caf%C3%A9%20menu">caf&eacute; menu</a>'
    ),
    "static/app.js": (
        "const checksum = '3f786850e387550fdab836ed7e6dc881de23001b';\n"
        "const greeting = atob('SGVsbG8sIGZyaWVuZHMh');\n"
        "const arrow = '\\u2192'; const title = String.fromCharCode(72, 105);\n"
    ),
}


@pytest.fixture
def activities(db: Database, tmp_path: Path) -> tuple[ModerationActivities, BundleCache]:
    bundles = BundleCache(ArtifactStore(db), tmp_path / "bundles")
    return (
        ModerationActivities(
            moderator(Settings(openai_moderation=False), None), ModerationLog(db), None, bundles
        ),
        bundles,
    )


async def _verdict(
    pair: tuple[ModerationActivities, BundleCache], files: dict[str, str], deployment: str
) -> str:
    activities, bundles = pair
    digest = await bundles.put(make_bundle({**BASE, **files}))
    result = await ActivityEnvironment().run(
        activities.moderate_bundle_text,
        ModerateBundleInput(
            bundle_hash=digest, owner_id="u1", app_id="club-app", deployment_id=deployment
        ),
    )
    return result.verdict


async def test_the_page_in_clear_is_blocked(
    activities: tuple[ModerationActivities, BundleCache],
) -> None:
    assert await _verdict(activities, _js(repr(PAGE)), "dep-clear-0001") == "block"


@pytest.mark.parametrize("encoding", sorted(HIDDEN))
@pytest.mark.reliability(
    "Encoded content",
    done="Deploy a phishing page hidden behind atob/base64, hex, \\x and \\u escapes,"
    " percent-encoding, HTML entities, String.fromCharCode and nested encodings",
)
async def test_an_encoded_phishing_page_is_decoded_blocked_and_logged(
    activities: tuple[ModerationActivities, BundleCache], db: Database, encoding: str
) -> None:
    """Each is decoded and blocked like the page in clear; the log shows the decoded text."""
    files = HIDDEN[encoding]
    assert "Chase" not in "".join(files.values())  # nothing readable in the source

    assert await _verdict(activities, files, f"dep-{encoding}") == "block"
    [logged] = await ModerationLog(db).search(verdict="block")
    assert "Chase Online Banking" in logged.prompt  # reviewers see the decoded text


async def test_benign_encoded_data_stays_allowed(
    activities: tuple[ModerationActivities, BundleCache],
) -> None:
    files = {"main.py": SERVER, **BENIGN_ENCODED}
    text = visible_text(make_bundle({**BASE, **files}))
    assert "Hello, friends!" in text and "Tom & Jerry" in text and "café menu" in text

    assert await _verdict(activities, files, "dep-benign-0001") == "allow"


@pytest.mark.parametrize(
    "noise",
    [
        "confirm_card_number_cvv_locked thisIsAVeryLongIdentifierName",
        "3f786850e387550fdab836ed7e6dc881de23001b AAAAAAAAAAAAAAAAAAAAAAAA",
        "v1.2.3 100% 50%off %zz %4 &zzz; &#xZZ; \\x4 \\u12",
    ],
)
def test_what_is_not_an_encoding_is_left_as_it_is(noise: str) -> None:
    assert decode(noise) == noise
    assert decoded_parts([noise]) == []


def _hostile(size: int) -> list[str]:
    """About ``size`` characters of nested encodings that decode to nothing much, and one
    long unbroken token (what makes a careless pattern backtrack quadratically)."""
    chunk = _entities("\\x41" * 8) + " " + "%41%42" * 8 + " " + _b64("\\u0041" * 12) + " "
    chunk += "String.fromCharCode(" + "65," * 40 + " " + "A" * 64 + " "
    return ["x" * (size // 16) + "%4", chunk * (size // len(chunk))]


def _decoding_time(parts: list[str]) -> float:
    started = time.perf_counter()
    decoded_parts(parts)
    return time.perf_counter() - started


def test_decoding_a_hostile_text_is_linear_in_its_size() -> None:
    small, large = _hostile(128 * 1024), _hostile(1024 * 1024)
    _decoding_time(small)  # warm up
    baseline = min(_decoding_time(small) for _ in range(3))
    eight_times = _decoding_time(large)
    # Eight times the input costs about eight times the work; a quadratic decoder, 64x.
    assert eight_times < 24 * baseline, (baseline, eight_times)
    assert sum(map(len, decoded_parts(large))) <= MAX_DECODED_CHARS


@pytest.mark.timeout(120)
@pytest.mark.reliability(
    "Encoded content",
    done="Deploy 1.6 MB of nested hostile encodings with a base64 phishing page in front",
)
async def test_a_large_hostile_bundle_is_decoded_and_judged(
    activities: tuple[ModerationActivities, BundleCache],
) -> None:
    """Decoding stays linear in the bundle's size, and the phishing page is still blocked."""
    noise = "\n".join(_hostile(400 * 1024))
    files = {"static/app.js": f'x = atob("{_b64(PAGE)}");\n', "main.py": SERVER}
    files |= {f"static/noise{i}.js": noise for i in range(4)}

    assert await _verdict(activities, files, "dep-hostile-001") == "block"
