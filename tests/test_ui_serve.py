"""`watchdog ui --config`: the page is served where the config's `[ui]` section says, with the write token read from
the environment variable it names (never from the file); without that variable the page is read-only."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from watchdog.store import Store

WATCHDOG = Path(sys.executable).parent / "watchdog"
TOKEN = "a-long-random-write-token-0123456789"


def config(tmp_path: Path) -> Path:
    Store(f"sqlite:///{tmp_path / 'wd.db'}").close()  # what `watchdog run` leaves behind
    path = tmp_path / "watchdog.toml"
    path.write_text(f"""
[networks.local]
chain_id = 31337
rpc_urls = ["http://127.0.0.1:8545"]

[store]
url = "sqlite:///{tmp_path / 'wd.db'}"

[ui]
port = 0
token_env = "PAGE_TOKEN"
""")
    return path


def serve(path: Path, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    page = subprocess.Popen([str(WATCHDOG), "ui", "--config", str(path)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, **env})
    line = page.stdout.readline() if page.stdout else ""
    assert line.startswith("watchdog page on "), line
    return page, line.split()[3]


@pytest.mark.parametrize("token", [TOKEN, None])
def test_the_config_says_where_the_page_listens_and_which_variable_holds_the_token(tmp_path: Path, token) -> None:
    env = {"PAGE_TOKEN": token} if token else {}
    os.environ.pop("PAGE_TOKEN", None)
    page, url = serve(config(tmp_path), env)
    try:
        assert httpx.get(url + "/", timeout=10).status_code == 200
        refused = httpx.post(url + "/incidents/1/note", data={"token": "wrong", "text": "hello"}, timeout=10)
        assert refused.status_code == (401 if token else 403)  # a wrong token, or a read-only page
    finally:
        page.terminate()
        page.wait(timeout=20)
