"""One redaction for every message: passwords and API keys in URLs never reach an error, a log line or /health,
whatever the scheme; what stays tells endpoints apart (scheme, host, port) and local database paths stay."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watchdog.redaction import install_log_redaction, redact_text, redact_url

SECRET = "k3yS3cr3t"


@pytest.mark.parametrize(("url", "shown"), [
    ("http://127.0.0.1:8545", "http://127.0.0.1:8545"),
    ("https://mainnet.example/v3/0123abcd", "https://mainnet.example/..."),
    ("wss://user:pw@node.example:8546/ws?key=k", "wss://***@node.example:8546/..."),
    ("ftp://alice:pw@files.example/v3/key", "ftp://***@files.example/..."),
    ("postgresql+psycopg://wd:pw@db:5432/watchdog", "postgresql+psycopg://***@db:5432/..."),
    ("sqlite:////var/lib/watchdog/wd.db", "sqlite:////var/lib/watchdog/wd.db"),
    ("http://[::1]:8545/key", "http://[::1]:8545/..."),
    ("http://host:notaport/key", "http://***"),
    ("not a url", "***"),
])
def test_a_url_keeps_what_tells_it_apart_and_nothing_secret(url: str, shown: str) -> None:
    assert redact_url(url) == shown


URLS = st.builds(lambda scheme, sep, host, tail: f"{scheme}{sep}{SECRET}:{SECRET}@{host}/{SECRET}{tail}?k={SECRET}#{SECRET}",
                 st.from_regex(r"[A-Za-z][A-Za-z0-9+.\-]{0,10}", fullmatch=True), st.just("://"),
                 st.sampled_from(["node.example", "127.0.0.1:8545", "[::1]:1", "h:bad", ""]),
                 # anything a URL may hold: a URL in free text ends at whitespace or a quote
                 st.text(st.characters(exclude_categories=("Zs", "Zl", "Zp", "Cc", "Cs"), exclude_characters="'\"<>`"),
                         max_size=8))


@settings(max_examples=200, deadline=500, database=None)
@given(url=URLS, before=st.sampled_from(["", "error: ", "(", "'", "got "]), after=st.sampled_from(["", ".", ": x", ")", "', "]))
def test_text_around_a_url_never_shows_its_secrets_and_redacting_twice_changes_nothing(url: str, before: str, after: str) -> None:
    once = redact_text(f"{before}{url}{after}")
    assert SECRET not in once and once.startswith(before)
    assert redact_text(once) == once


def test_every_log_record_is_redacted_with_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    install_log_redaction()
    url = f"https://user:{SECRET}@rpc.example/v3/{SECRET}"
    log = logging.getLogger("watchdog.test")
    with caplog.at_level(logging.INFO, logger="watchdog.test"):
        log.info("calling %s", url)
        try:
            raise RuntimeError(f"connection to {url} refused")
        except RuntimeError:
            log.exception("request failed")
    assert SECRET not in caplog.text and "https://***@rpc.example/..." in caplog.text
    assert "connection to https://***@rpc.example/... refused" in caplog.text
