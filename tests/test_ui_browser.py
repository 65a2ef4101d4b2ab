"""The page in a real headless Chromium (Debian's `chromium`, driven by Playwright), against a store the watchdog
recorded on a real attack: the daemon's rules and the responder on the flash-loan attack (pauses and Safe
proposals), two owners' signatures through the CLI, and a recovery plan. On failure a screenshot is kept in the
test's tmp dir."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fixtures.incident import record_attack
from test_proposals import cli, owner_args
from test_respond_support import PASSWORD, PASSWORD_ENV

from watchdog.devnet import Anvil
from watchdog.devnet.anvil import free_port
from watchdog.devnet.world import World
from watchdog.recovery import recover
from watchdog.respond import comms
from watchdog.respond.report import postmortem
from watchdog.scenarios.demo.attacks import FLASH_LOAN_SPOT
from watchdog.store import Store, audit, incidents
from watchdog.store.responder import Proposal
from watchdog.stress.incident import incident_view, record
from watchdog.ui import UiServer, create_app

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TOKEN = "correct-horse-battery-staple-ui-token"
DOCS = Path(__file__).resolve().parents[1] / "docs"

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (make test installs it)")


@pytest.fixture
def recorded(anvil: Anvil, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    rec = record_attack(anvil, world, tmp_path, FLASH_LOAN_SPOT, ["pause", "propose"], rounds=2)
    with Store(rec.store_url).session() as s:
        proposal = s.get(Proposal, 1)
    for owner in ("owner1", "owner2"):
        cli("proposals", "sign", str(proposal.id), "--store", rec.store_url, "--rpc", anvil.url,
            *owner_args(tmp_path, world, owner))
    recover(Store(rec.store_url), rec.incident_id, anvil.url, world.manifest)
    record(Store(rec.store_url), rec.incident_id, incident_view(Store(rec.store_url), rec.incident_id, anvil.url, world.manifest))
    comms.draft(Store(rec.store_url), rec.incident_id, comms.Contacts())
    return rec, proposal


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    with sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path=CHROMIUM,
                                                       headless=True, args=FLAGS)
        try:
            yield context
        finally:
            context.close()


@contextmanager
def served(browser: Any, store_url: str, world: World, token: str | None, tmp_path: Path) -> Iterator[tuple[UiServer, Any]]:
    """The page served over the store, and a browser tab on it (a screenshot in tmp_path when the test fails)."""
    server = UiServer(create_app(Store(store_url), token=token, manifest=world.manifest), port=free_port()).start()
    page = browser.new_page()
    try:
        yield server, page
    except Exception:
        page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
        raise
    finally:
        page.close()
        server.stop()


def counts(store: Store, incident_id: int) -> tuple[int, int]:
    with store.session() as s:
        return len(audit.entries(s)), len(incidents.events(s, incident_id))


def test_the_page_shows_the_incident_recomputes_the_hash_and_guards_writes(recorded, browser, world: World,
                                                                          tmp_path: Path) -> None:
    rec, proposal = recorded
    store = Store(rec.store_url)
    with served(browser, rec.store_url, world, TOKEN, tmp_path) as (server, page):
        page.goto(server.url + "/")
        assert f"#{rec.incident_id}" in page.locator("#incidents").inner_text()

        page.goto(f"{server.url}/incidents/{rec.incident_id}")
        assert "Incident #" in page.locator("#incident-title").inner_text()
        stages = page.locator("#stages").inner_text()
        assert "preparation" in stages and "exploitation" in stages
        assert "keep the pause" in page.locator("#recovery-verdict").inner_text()
        assert "FAILS" in page.locator("#recovery").inner_text()
        assert "CollateralVault" in page.locator("#protocols").inner_text()
        view = postmortem(store, rec.incident_id)["stress"]
        stress = page.locator("#stress").inner_text()
        assert f"fork of block {view['block']}" in stress and all(line in stress for line in view["summary"])
        drafts = page.locator("#communications").inner_text()
        assert all(f"{title}: v1, draft" in drafts for title in comms.KINDS.values())
        assert world.accounts["attacker"].address.lower() in drafts.lower()

        page.goto(f"{server.url}/proposals/{proposal.id}")
        status = page.locator("#hash-status")
        assert status.get_attribute("class") == "match", status.inner_text()
        assert page.locator("#recomputed-hash").inner_text() == proposal.safe_tx_hash
        assert page.locator("#stored-hash").inner_text() == proposal.safe_tx_hash
        signed = page.locator("#signatures").inner_text().lower()
        assert all(world.accounts[o].address.lower() in signed for o in ("owner1", "owner2"))
        assert "pause(address,bytes32,string)" in page.inner_text("body")
        if os.environ.get("WATCHDOG_UPDATE_DOCS"):
            page.set_viewport_size({"width": 1000, "height": 900})
            page.screenshot(path=str(DOCS / "proposal-page.png"))

        # a tampered field no longer hashes to the stored safeTxHash
        nonce = page.locator("#safetx td.field").last
        nonce.fill(str(proposal.nonce + 1))
        assert status.get_attribute("class") == "mismatch"
        assert "MISMATCH" in status.inner_text()

        # writes without the token (or with a wrong one) are refused and change nothing
        before = counts(store, rec.incident_id)
        for form in ({"name": "mallory"}, {"name": "mallory", "token": "wrong-token-of-some-length"}):
            answer = page.request.post(f"{server.url}/incidents/{rec.incident_id}/resolve", form=form)
            assert answer.status == 401
        assert counts(store, rec.incident_id) == before

        # with the token, through the page's own form: done and audited
        page.goto(f"{server.url}/incidents/{rec.incident_id}")
        form = page.locator("#ack-form")
        form.locator("input[name=name]").fill("alice")
        form.locator("input[name=token]").fill(TOKEN)
        form.locator("button").click()
        page.wait_for_url(f"{server.url}/incidents/{rec.incident_id}")
        assert "acknowledged by alice" in page.inner_text("body")
        note = page.locator("#note-form")
        note.locator("input[name=name]").fill("alice")
        note.locator("input[name=token]").fill(TOKEN)
        note.locator("textarea").fill("oracle adapter to be switched to the TWAP")
        note.locator("button").click()
        page.wait_for_url(f"{server.url}/incidents/{rec.incident_id}")
        with store.session() as s:
            done = [(e.actor, e.action) for e in audit.entries(s, "ui_")]
        assert done == [("ui:alice", "ui_acknowledge"), ("ui:alice", "ui_note")]
        assert "oracle adapter to be switched" in page.inner_text("body")


def test_without_a_token_the_page_is_read_only(recorded, browser, world: World, tmp_path: Path) -> None:
    rec, _ = recorded
    store = Store(rec.store_url)
    with served(browser, rec.store_url, world, None, tmp_path) as (server, page):
        page.goto(f"{server.url}/incidents/{rec.incident_id}")
        assert "read-only" in page.inner_text("body") and page.locator("form").count() == 0
        before = counts(store, rec.incident_id)
        answer = page.request.post(f"{server.url}/incidents/{rec.incident_id}/acknowledge",
                                   form={"name": "x", "token": TOKEN})
        assert answer.status == 403
        assert counts(store, rec.incident_id) == before
