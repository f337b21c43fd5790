"""``egress`` in microapp.toml: what a bundle may declare, and the reason when it may not."""

from __future__ import annotations

import pytest

from schemas.egress import MAX_EGRESS_TARGETS, EgressTarget
from store.bundles import BundleError, parse_manifest


def manifest(egress: str) -> str:
    return f"name = 'weather'\negress = {egress}\n"


def test_declared_hosts_are_parsed_into_targets() -> None:
    parsed = parse_manifest(manifest('["api.example.com:443", "*.tiles.example.org:8443"]'))
    assert parsed.egress == ("api.example.com:443", "*.tiles.example.org:8443")
    assert [str(EgressTarget.parse(e)) for e in parsed.egress] == list(parsed.egress)
    assert parse_manifest("name = 'quiet'\n").egress == ()


@pytest.mark.parametrize(
    ("egress", "reason"),
    [
        ('["10.0.0.1:443"]', "is an IP literal"),
        ('["169.254.169.254:80"]', "is an IP literal"),
        ('["[::1]:443"]', "is an IP literal"),
        ('["::ffff:10.0.0.1:443"]', "is an IP literal"),
        ('["127.1:80"]', "is an IP literal"),  # inet_aton's short form
        ('["0x7f.1:80"]', "is an IP literal"),
        ('["2130706433:80"]', "is an IP literal"),  # 127.0.0.1 as one number
        ('["*:443"]', "before at least two labels"),
        ('["*.com:443"]', "before at least two labels"),
        ('["api.*.example.com:443"]', "only as a whole leading label"),
        ('["*api.example.com:443"]', "only as a whole leading label"),
        ('["**.example.com:443"]', "only as a whole leading label"),
        ('["localhost:80"]', "fully qualified"),
        ('["metadata:80"]', "fully qualified"),
        ('["api.example.com"]', "must be 'host:port'"),
        ('["api.example.com:0"]', "from 1 to 65535"),
        ('["api.example.com:65536"]', "from 1 to 65535"),
        ('["api.example.com:0443"]', "from 1 to 65535"),
        ('["api.example.com:https"]', "from 1 to 65535"),
        ('["API.example.com:443"]', "lower case"),
        ('["api_x.example.com:443"]', "label 'api_x'"),
        ('["-api.example.com:443"]', "label '-api'"),
        ('["api.example.com.:443"]', "label ''"),
        ('["user@api.example.com:443"]', "label 'user@api'"),
        ('["a.example.com:443", "a.example.com:443"]', "twice"),
        ("[443]", "egress"),
        ('"api.example.com:443"', "egress"),
    ],
)
def test_bad_declarations_are_refused_with_a_reason(egress: str, reason: str) -> None:
    with pytest.raises(BundleError) as refused:
        parse_manifest(manifest(egress))
    assert str(refused.value).startswith("microapp.toml: egress")
    assert reason in str(refused.value)


def test_the_list_is_bounded() -> None:
    hosts = [f'"h{i}.example.com:443"' for i in range(MAX_EGRESS_TARGETS + 1)]
    with pytest.raises(BundleError, match=f"the limit is {MAX_EGRESS_TARGETS}"):
        parse_manifest(manifest(f"[{', '.join(hosts)}]"))
    assert len(parse_manifest(manifest(f"[{', '.join(hosts[:-1])}]")).egress) == 16


@pytest.mark.parametrize(
    ("pattern", "host", "port", "matches"),
    [
        ("api.example.com:443", "api.example.com", 443, True),
        ("api.example.com:443", "api.example.com", 80, False),
        ("api.example.com:443", "evil-api.example.com", 443, False),
        ("api.example.com:443", "api.example.com.evil.org", 443, False),
        ("*.example.com:443", "a.example.com", 443, True),
        ("*.example.com:443", "example.com", 443, False),
        ("*.example.com:443", "a.b.example.com", 443, False),
        ("*.example.com:443", ".example.com", 443, False),
        ("*.example.com:443", "a.evilexample.com", 443, False),
        ("*.example.com:443", "*.example.com", 443, False),
    ],
)
def test_a_wildcard_stands_for_one_leading_label(
    pattern: str, host: str, port: int, matches: bool
) -> None:
    assert EgressTarget.parse(pattern).matches(host, port) is matches
