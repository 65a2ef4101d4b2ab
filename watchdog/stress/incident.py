"""An incident's stress view: the scenarios its findings call for, played on a fork of the chain now.

- **price back to its reference**: each price source the findings name (an outlier, a pushed pool, an adapter and
  what it reads) that is still off the other sources of its asset is put back at their median, every source of the
  asset with it: the positions opened at the manipulated price show what the manipulation left in the books;
- **the affected contracts paused at current prices**: what the responder pauses (the model's isolation of the
  findings' addresses), paused on the fork: the liquidations the pause blocks and the users who cannot act.

From both: what pausing saves (the value the paused contracts hold, out of the attacker's reach) and what it costs
(the accounts frozen with their equity, the liquidations that wait). The view is kept on the incident's timeline
(kind `stress`) and in the evidence of its Safe proposals. `IncidentViews` is the daemon sink that plays it in the
background when a finding opens an incident, then drafts the incident's communications again.
"""

from __future__ import annotations

import logging
import queue
import threading
from statistics import median
from typing import Any

from watchdog.chain.rpc import RpcClient
from watchdog.config import Settings
from watchdog.detect.model import ProtocolModel
from watchdog.detect.registry import ProtocolRegistry
from watchdog.errors import WatchdogError
from watchdog.forensics import of_findings
from watchdog.manifest import Manifest
from watchdog.respond.comms import Contacts, draft
from watchdog.respond.evidence import stress_summary
from watchdog.respond.incidents import IncidentBook
from watchdog.store import FindingRecord, Store, incidents, ledger, proposals
from watchdog.store.incidents import events
from watchdog.store.responder import Incident
from watchdog.stress.engine import Forked, StressOptions
from watchdog.stress.fork import Fork
from watchdog.stress.plan import Steps, resolve
from watchdog.stress.scenarios import Scenario

log = logging.getLogger(__name__)
OFF_REFERENCE = 0.01  # a named source this far from its asset's other sources is put back
EVIDENCE_NAMES = ("source", "pair", "adapter", "feed")  # evidence keys that name a price source


def incident_view(store: Store, incident_id: int, rpc_url: str, manifest: Manifest,
                  options: StressOptions | None = None) -> dict[str, Any]:
    with store.session() as s:
        incident = incidents.incident(s, incident_id)
        findings = [f for f in ledger.findings(s, incident_id=incident_id) if f.status == "active"]
    named = sorted({a.lower() for f in findings for a in f.addresses})
    upstream = RpcClient(rpc_url, retries=1, timeout=30.0)
    try:
        chain_id = int(upstream.call("eth_chainId"), 16)
        if chain_id != manifest.chain_id:
            raise WatchdogError(f"the node serves chain {chain_id}, the manifest is for chain {manifest.chain_id}: "
                                "use the incident's network")
        head = int(upstream.call("eth_blockNumber"), 16)
        with Fork(rpc_url, head, chain_id) as fork:
            world = Forked.learn(fork, ProtocolRegistry(manifest), manifest, head)
            steps = _steps(world, manifest, findings, named)
            attackers = sorted({a.lower() for a in incident.addresses})
            opts = options or StressOptions()
            opts.accounts = sorted(set(opts.accounts) | set(attackers))
            world.find_accounts(upstream, opts)
            world.arm_liquidator()
            baseline = world.evaluate()
            header = world.header(head, chain_id, baseline)
            played, snapshot = [], fork.snapshot()
            for step in steps:
                played.append(world.play(step, baseline, opts))
                fork.revert(snapshot)
                snapshot = fork.snapshot()
    finally:
        upstream.close()
    return summarise(incident_id, header, played, attackers, world.model)


def _steps(world: Forked, manifest: Manifest, findings: list[FindingRecord], named: list[str]) -> list[Steps]:
    model = world.model
    out = []
    prices = world.source_prices()
    for asset, reference in _manipulated(model, findings, named, prices).items():
        symbol = model.tokens.get(asset, asset)
        scenario = Scenario("shock", symbol, price=reference, name=f"{symbol} back to its reference price {reference:,.6g}")
        out.append(resolve(scenario, model, manifest))
    affected = model.affected(named)
    entries = [c for c in manifest.contracts if c.pause is not None and c.address.lower() in affected]
    if entries:
        scenario = Scenario("pause", ", ".join(c.name for c in entries), name="the affected contracts paused at current prices")
        out.append(Steps(scenario, None, pauses=entries))
    return out


def _manipulated(model: ProtocolModel, findings: list[FindingRecord], named: list[str],
                 prices: dict[str, float | None]) -> dict[str, float]:
    """Asset -> its reference price, for each asset whose named source is off the asset's other sources now."""
    by_name = {s.name: s.address for s in model.sources.values()}
    suspects = {a for a in named if a in model.sources}
    suspects |= {by_name[str(f.evidence.get(k))] for f in findings for k in EVIDENCE_NAMES
                 if str((f.evidence or {}).get(k)) in by_name}
    suspects |= {i for a in list(suspects) for i in model.reads(a) if i in model.sources}
    out: dict[str, float] = {}
    for address in sorted(suspects):
        source, price = model.sources[address], prices.get(address)
        if source.kind == "derived" or source.base is None or not price:
            continue
        witnesses = [prices[s.address] for s in model.sources.values() if s.base == source.base
                     and s.kind != "derived" and s.address not in suspects and prices.get(s.address)]
        if not witnesses:
            continue
        reference = float(median(witnesses))  # type: ignore[arg-type]
        if abs(price / reference - 1) >= OFF_REFERENCE:
            out[source.base] = reference
    return out


def summarise(incident_id: int, header: dict[str, Any], played: list[dict[str, Any]], attackers: list[str],
              model: ProtocolModel) -> dict[str, Any]:
    quote = header.get("quote") or "the quote asset"
    for scenario in played:
        for row in scenario["holders"]:
            row.pop("accounts_detail", None)  # kept small on the timeline: the counts and lists say it
    reset = next((s for s in played if s["kind"] == "shock"), None)
    paused = next((s for s in played if s["kind"] == "pause"), None)
    saves: dict[str, Any] = {"value": 0.0, "holders": {}}
    costs: dict[str, Any] = {"accounts": 0, "equity": 0.0, "liquidations_blocked": 0, "holders": {}}
    if paused is not None:
        for row in paused["holders"]:
            if not row.get("paused"):
                continue
            held = row["value_at_risk"]["before"] or 0.0
            saves["holders"][row["holder"]] = held
            saves["value"] += held
            frozen = row.get("frozen_users") or {"accounts": 0, "equity": 0.0}
            costs["accounts"] += frozen["accounts"]
            costs["equity"] += frozen["equity"]
            costs["liquidations_blocked"] += len(row.get("blocked", []))
            costs["holders"][row["holder"]] = {**frozen, "blocked": row.get("blocked", [])}
    manipulation = None
    if reset is not None:
        owed = {a: v for row in reset["holders"] for a, v in row["bad_debt_accounts"].items()}
        manipulation = {"asset": reset["asset"], "reference": reset["price"], "bad_debt": reset["bad_debt"],
                        "attacker_bad_debt": round(sum(v for a, v in owed.items() if a in attackers), 2),
                        "liquidatable": sum(len(r["liquidatable"]) for r in reset["holders"])}
    lines = []
    if manipulation:
        lines.append(f"With {manipulation['asset']} back at its reference price {manipulation['reference']:,.6g}: "
                     f"{manipulation['liquidatable']} position(s) can be liquidated and the books hold "
                     f"{manipulation['bad_debt']:,.2f} {quote} of bad debt ({manipulation['attacker_bad_debt']:,.2f} of it "
                     f"in the attacker's accounts).")
    if paused is not None:
        lines.append(f"Pausing {paused['target']} keeps {saves['value']:,.2f} {quote} out of the attacker's reach; it "
                     f"leaves {costs['accounts']} account(s) with {costs['equity']:,.2f} {quote} of equity unable to act"
                     f" and {costs['liquidations_blocked']} liquidation(s) waiting until it is lifted.")
    if not played:
        lines.append("The findings name no price source off its reference and no contract to pause: nothing to stress.")
    view = {"incident": incident_id, "block": header["block"], "chain_id": header["chain_id"], "quote": header.get("quote"),
            "scenarios": played, "pausing_saves": _rounded(saves), "pausing_costs": _rounded(costs),
            "manipulation": manipulation, "attackers": attackers, "summary": lines,
            "holders": [{k: h[k] for k in ("holder", "protocol", "methods", "gaps", "accounts")} for h in header["holders"]]}
    view["markdown"] = markdown_lines(view)
    return view


def _rounded(data: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in data.items()}


def markdown_lines(view: dict[str, Any]) -> list[str]:
    quote = view.get("quote") or "quote asset"
    lines = [f"Played on a fork of block {view['block']}; values in {quote}.", ""]
    lines += [f"- {line}" for line in view["summary"]] + [""]
    if view["scenarios"]:
        lines += ["| scenario | liquidatable | blocked by the pause | bad debt | not covered | users frozen |",
                  "|---|---|---|---|---|---|"]
        for s in view["scenarios"]:
            frozen = sum((h.get("frozen_users") or {}).get("accounts", 0) for h in s["holders"])
            lines.append(f"| {s['name']} | {sum(len(h['liquidatable']) for h in s['holders'])} | "
                         f"{sum(len(h.get('blocked', [])) for h in s['holders'])} | {s['bad_debt']:,.2f} | "
                         f"{s['uncovered']:,.2f} | {frozen} |")
        lines.append("")
    gaps = [f"{h['holder']}: {g}" for h in view["holders"] for g in h["gaps"]]
    if gaps:
        lines += ["Not evaluated:", ""] + [f"- {g}" for g in gaps] + [""]
    return lines


def record(store: Store, incident_id: int, view: dict[str, Any]) -> None:
    """Keep the view on the incident's timeline and in the evidence of its Safe proposals."""
    IncidentBook(store).note(incident_id, "stress", " ".join(view["summary"]) or "stress view", stress=view)
    with store.session() as s:
        for proposal in proposals.proposals(s, incident_id):
            proposal.evidence = {**(proposal.evidence or {}), "stress": stress_summary(view)}
            s.add(proposal)


def traced(store: Store, incident_id: int, rpc_url: str, manifest: Manifest | None) -> list[dict[str, Any]]:
    """The forensics of the incident's attack transactions (traces, attacker cluster, flows), [] when the node cannot
    trace them."""
    with store.session() as s:
        findings = ledger.findings(s, incident_id=incident_id)
    try:
        return of_findings(rpc_url, manifest)(findings)
    except WatchdogError as exc:
        log.warning("forensics of incident %s for its communications failed: %s", incident_id, exc)
        return []


def viewed(store: Store, incident_id: int) -> bool:
    """Whether the incident's view was played (a failed attempt does not count)."""
    with store.session() as s:
        return any((e.detail or {}).get("stress") for e in events(s, incident_id, kind="stress"))


def incident_views(settings: Settings, store: Store, manifests: dict[str, Manifest]) -> "IncidentViews | None":
    """The sink for a daemon of these settings, None when `[responder.stress] on_incident` is off."""
    stress = settings.responder.stress
    if not stress.on_incident:
        return None
    urls = {name: net.rpc_urls[0] for name, net in settings.networks.items()}
    return IncidentViews(store, urls, manifests, settings.communications, StressOptions(max_slippage=stress.max_slippage))


class IncidentViews:
    """A daemon sink (after the responder's): when a finding opens an incident, the incident's stress view is played on
    a fork in the background and recorded, then its communications are drafted again (a new version when they
    changed). One worker: incidents wait their turn; `close()` lets the running one finish."""

    def __init__(self, store: Store, rpc_urls: dict[str, str], manifests: dict[str, Manifest], contacts: Contacts,
                 options: StressOptions | None = None) -> None:
        self.store, self.rpc_urls, self.manifests, self.contacts = store, rpc_urls, manifests, contacts
        self.options = options or StressOptions()
        self._queue: queue.Queue[int | None] = queue.Queue()
        self._seen: set[int] = set()
        self._lock = threading.Lock()  # each network's follower delivers from its own thread
        self._thread = threading.Thread(target=self._work, name="incident-stress", daemon=True)
        self._thread.start()

    def __call__(self, new: list[FindingRecord], retracted: list[FindingRecord]) -> None:
        with self.store.session() as s:
            rows = ledger.findings_by_keys(s, [f.dedup_key for f in new])
        with self._lock:
            for row in rows.values():
                if row.incident_id is not None and row.incident_id not in self._seen:
                    self._seen.add(row.incident_id)
                    self._queue.put(row.incident_id)

    def _work(self) -> None:
        while (incident_id := self._queue.get()) is not None:
            try:
                self.view(incident_id)
            except Exception as exc:  # the view is advice: a failure is noted, the response goes on
                log.error("stress view of incident %s failed: %s", incident_id, exc)
                IncidentBook(self.store).note(incident_id, "stress", f"stress view not played: {exc}", error=str(exc))
            finally:
                self._queue.task_done()

    def view(self, incident_id: int) -> dict[str, Any] | None:
        with self.store.session() as s:
            incident = s.get(Incident, incident_id)
        if incident is None or viewed(self.store, incident_id) or incident.network not in self.manifests:
            return None
        view = incident_view(self.store, incident_id, self.rpc_urls[incident.network], self.manifests[incident.network],
                             StressOptions(**{**self.options.__dict__, "accounts": list(self.options.accounts)}))
        record(self.store, incident_id, view)
        draft(self.store, incident_id, self.contacts, traced(self.store, incident_id, self.rpc_urls[incident.network],
                                                             self.manifests[incident.network]))
        return view

    def wait(self) -> None:
        """Until every incident queued so far has its view."""
        self._queue.join()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
