"""The responder: findings -> incidents -> playbooks -> notify | pause | propose.

`Responder.handle(new, retracted)` is the daemon's sink (called after each block's commit) and can be
called directly (tests, drills). Pauses go through the one executor; proposals to the Safe carry the
evidence signers need; notifications go out in one thread per incident.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterable


from watchdog.finding import Finding
from watchdog.errors import RpcError, WatchdogError
from watchdog.keys import Signer, load_signer
from watchdog.manifest import ContractEntry, Manifest
from watchdog.respond.clock import ChainClock
from watchdog.config.response import PlaybookAction, ResponseConfig
from watchdog.respond.evidence import incident_evidence
from watchdog.respond.executor import Executor, Outcome
from watchdog.respond.incidents import IncidentBook
from watchdog.respond.notify import Notice, Notifications
from watchdog.respond.isolation import Target, blast_radius, load_model, pausable, select_targets
from watchdog.respond.plan import TxPlan
from watchdog.respond.playbooks import triggered
from watchdog.respond.rpc import CallReverted, Rpc
from watchdog.respond.safe import SafeProposals
from watchdog.respond.service import SafeService
from watchdog.store import FindingRecord, FindingStatus, Store, incidents, ledger
from watchdog.store.responder import Action, ActionStatus, Incident

log = logging.getLogger(__name__)



@dataclass(slots=True)
class Handled:
    """What one `handle` call did."""

    incidents: list[int] = field(default_factory=list)
    pauses: list[Outcome] = field(default_factory=list)
    proposals: list[int] = field(default_factory=list)
    notified: list[str] = field(default_factory=list)  # playbook names whose notify action fired
    dry_run: list[str] = field(default_factory=list)  # what dry-run actions would have done


class Responder:
    def __init__(self, config: ResponseConfig, store: Store, rpc: Rpc | str, manifest: Manifest, *,
                 network: str = "devnet", signer: Signer | None = None) -> None:
        self.config = config
        self.store = store
        self.rpc = rpc if isinstance(rpc, Rpc) else Rpc(rpc)
        self.manifest = manifest
        self.network = network
        self.chain_id = manifest.chain_id
        if signer is None and self.config.executor.signer in self.config.signers:
            signer = load_signer(self.config.signers[self.config.executor.signer].source())
        self.signer = signer
        self.executor = Executor(store, self.rpc, signer, self.network, self.chain_id, self.config.executor,
                                 on_finish=self._finished)
        self.incidents = IncidentBook(store, self.config.incidents.window_seconds,
                                      {c.address for c in manifest.contracts}, self.config.incidents.open_min_severity)
        self.clock = ChainClock(self.rpc, store, self.network)
        self.notifications = Notifications(store, self.config.notifiers)
        service = SafeService(self.config.safe_service.url, self.config.safe_service.origin) if self.config.safe_service else None
        self.proposals = (SafeProposals(store, self.rpc, self.network, self.chain_id, manifest.safe.address, service)
                          if manifest.safe else None)
        self._lock = threading.Lock()
        self._notify_names: dict[int, list[str]] = {}

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> list[Outcome]:
        """Resume what a previous run left open (never a second transaction)."""
        if self.signer is None and self.proposals is None:
            log.warning("network %s: no signer and no Safe: incidents are recorded and notified, nothing is paused or "
                        "proposed (configure [signers.NAME] and [responder.executor], or the manifest's safe: see `watchdog init`)",
                        self.network)
        return self.executor.resume()

    def wait(self, timeout: float = 60.0) -> bool:
        """Wait until pauses are mined and notifications delivered (tests, drills, shutdown)."""
        done = self.executor.wait(timeout)
        self.notifications.drain(timeout)
        return done

    def close(self) -> None:
        self.executor.stop()
        self.notifications.close()

    # ------------------------------------------------------------------ the sink
    def handle(self, new: Iterable[FindingRecord | Finding], retracted: Iterable[FindingRecord | Finding] = ()) -> Handled:
        result = Handled()
        for finding in retracted:
            try:
                self.incidents.retract(self._record(finding, retract=True))
            except Exception as exc:
                log.error("retracting a finding failed: %s", exc)
        for finding in new:
            try:
                self._respond(self._record(finding), result)
            except Exception as exc:  # one bad finding or a node hiccup must not stop the others (nor the daemon)
                message = str(exc) if isinstance(exc, WatchdogError) else f"{exc.__class__.__name__}: {exc}"
                log.error("responding to %s failed: %s", getattr(finding, "rule_id", "?"), message)
                self.store.audit("responder", "respond_failed", getattr(finding, "rule_id", ""), error=message[:500])
        return result

    __call__ = handle

    def _respond(self, record: FindingRecord, result: Handled) -> None:
        historical = self.config.max_action_age.exceeded(record.age())
        if historical:
            self._mark_historical(record)
        playbooks = [p for p in self.config.playbooks if p.actions and triggered(self.store, p, record)]
        acted_on = bool(playbooks)
        chain = self._detected_at(record) if self.incidents.opens(record, acted_on) else {}
        with self._lock:  # grouping is read-then-write: one finding at a time in this process
            attached = self.incidents.attach(record, acted_on=acted_on, chain=chain)
        incident = attached.incident
        if incident is None:
            return  # context below the opening severity, with no incident to join: stored, nothing to do
        assert incident.id is not None
        result.incidents.append(incident.id)
        if historical and any(a.type in ("pause", "propose") for p in playbooks for a in p.actions):
            blocks, seconds = record.age() or (0, 0)
            self.incidents.note(incident.id, "historical", f"{record.rule_id} was found {blocks} block(s), {seconds} s after "
                                f"its block: history, reported and not acted on", finding_id=record.id)
            self.store.audit("responder", "historical_not_acted", record.rule_id, finding_id=record.id,
                             age_blocks=blocks, age_seconds=seconds)
        for playbook in playbooks:
            for action in playbook.actions:
                dry = playbook.dry_run or action.dry_run
                if historical and action.type != "notify":
                    continue  # history is evidence, never an emergency
                if action.type == "pause":
                    self._pause(action, record, incident, dry, result)
                elif action.type == "propose":
                    self._propose(action, record, incident, dry, result)
                else:
                    self._notify_open(playbook.name, action, record, incident, attached.opened, dry, result)
        if attached.escalated and incident.id in self._notify_names:
            self._publish(incident, "escalated", f"severity raised to {record.severity} by {record.rule_id}: {record.title}")

    def cover(self, finding: FindingRecord | Finding, addresses: Iterable[str]) -> Handled:
        """Pause here what a finding of another network names on this one (its `labels["targets"]`), in the incident
        that finding is in: a cross-chain route is paused on both its networks under one incident and one timeline.
        Only the pause and propose actions of the playbooks it triggers run here, on exactly these contracts; its
        own network notifies."""
        result = Handled()
        record = self._record(finding)
        wanted = {a.lower() for a in addresses}
        entries = [c for c in pausable(self.manifest) if c.address.lower() in wanted]
        if record.incident_id is None or not entries:
            return result
        with self.store.session() as s:
            incident = s.get(Incident, record.incident_id)
        if incident is None or self.config.max_action_age.exceeded(record.age()):
            return result  # history is evidence, never an emergency (its own network noted it)
        for playbook in (p for p in self.config.playbooks if p.actions and triggered(self.store, p, record)):
            for action in playbook.actions:
                dry = playbook.dry_run or action.dry_run
                if action.type == "pause":
                    self._pause(action, record, incident, dry, result, entries)
                elif action.type == "propose" and self.proposals is not None:
                    self._propose(action, record, incident, dry, result, entries)
        return result

    def _mark_historical(self, record: FindingRecord) -> None:
        record.historical = True
        with self.store.session() as s:
            row = s.get(FindingRecord, record.id) if record.id is not None else None
            if row is not None:
                row.historical = True
                s.add(row)

    def _detected_at(self, record: FindingRecord) -> dict[str, int]:
        """When a finding that marks an incident's detection was made, on the chain's clock: the block it is
        about (detection runs on the head; the daemon stored the block, no node read), or for a pending
        transaction the head as the node tells it now."""
        if record.block_number is None:
            return self.clock.head()
        return self.clock.at_block(record.block_number)

    # ------------------------------------------------------------------ actions
    def _pause(self, action: PlaybookAction, record: FindingRecord, incident: Incident, dry: bool, result: Handled,
               entries: list[ContractEntry] | None = None) -> None:
        """Pause the playbook's targets (or `entries`: contracts another network's finding names here)."""
        reason = f"watchdog incident #{incident.id}: {record.rule_id}"
        where = "" if record.network == self.network else f" on {self.network}"
        for _, plan in self._plans(action, record, incident, reason, "pause", entries):
            if dry:
                result.dry_run.append(self._preview(plan, incident))
                continue
            outcome = self.executor.submit(plan, incident_id=incident.id, trigger=_trigger(record),
                                           attack_tx=record.tx_hash if record.pending else None)
            result.pauses.append(outcome)
            if outcome.sent:
                self.incidents.note(incident.id, "pause", f"pause of {plan.contract}{where} sent in {outcome.tx_hash}",
                                    action_id=outcome.action_id, tx_hash=outcome.tx_hash, preemptive=record.pending,
                                    network=self.network)
                self._publish(incident, "action", f"pausing {plan.contract} ({plan.target}): tx {outcome.tx_hash}")

    def _plans(self, action: PlaybookAction, record: FindingRecord, incident: Incident, reason: str,
               kind: str, entries: list[ContractEntry] | None = None) -> list[tuple[Any, TxPlan]]:
        """The pause calls of exactly what the finding affects (see watchdog.respond.isolation), or of `entries`
        (what another network's finding names here); the blast radius noted on the incident first so signers see
        why each contract is paused and what it holds."""
        model = load_model(self.store, self.network)
        targets = ([Target(e, f"named by a finding on {record.network}") for e in entries] if entries is not None
                   else select_targets(self.manifest, action.targets, record.addresses, model))
        if targets:
            radius = blast_radius(targets, model, self.rpc.client, self.network)
            names = ", ".join(f"{r['contract']} ({r['why']})" for r in radius)
            self.incidents.note(incident.id, "isolation", f"{record.rule_id} affects {names}", blast_radius=radius,
                                learned=model is not None)
        return [(t.entry, p) for t in targets for p in t.plans(self.manifest, reason, kind)]

    def _preview(self, plan: Any, incident: Incident) -> str:
        """Dry run: read the state and simulate, send nothing."""
        message = ""
        try:
            done = self.executor.is_done(plan.check)
        except RpcError as exc:
            done, message = False, f"dry-run: cannot read the state of {plan.contract}: {exc}"
        if done:
            message = f"dry-run: {plan.contract} is already paused: nothing to send"
        elif not message:
            try:
                self.rpc.eth_call(plan.to, plan.data, self.signer.address if self.signer else None)
                verdict = "simulation ok"
            except CallReverted as exc:
                verdict = f"simulation reverts: {exc.reason or exc}"
            message = f"dry-run: would call {plan.decoded.get('function')} on {plan.to} to pause {plan.contract} ({verdict})"
        self.incidents.note(incident.id, "dry_run", message, to=plan.to, data=plan.data)
        self.store.audit("responder", "dry_run", plan.target, incident_id=incident.id, message=message)
        return message

    def _propose(self, action: PlaybookAction, record: FindingRecord, incident: Incident, dry: bool, result: Handled,
                 entries: list[ContractEntry] | None = None) -> None:
        if self.proposals is None:
            raise WatchdogError("a playbook proposes to the Safe but the manifest has no `safe`: add it or drop the propose action")
        reason = f"watchdog incident #{incident.id}: {record.rule_id}"
        for entry, plan in self._plans(action, record, incident, reason, "propose", entries):
            if dry:
                message = f"dry-run: would propose {plan.decoded.get('function')} on {entry.name} to Safe {self.proposals.safe}"
                self.incidents.note(incident.id, "dry_run", message)
                result.dry_run.append(message)
                continue
            proposal, created = self.proposals.propose(plan, evidence=incident_evidence(self.store, incident),
                                                       description=f"Pause {entry.name}: incident #{incident.id} ({record.title})",
                                                       incident_id=incident.id)
            result.proposals.append(proposal.id)  # type: ignore[arg-type]
            if created:
                text = (f"Safe proposal #{proposal.id} to pause {entry.name}: nonce {proposal.nonce}, safeTxHash "
                        f"{proposal.safe_tx_hash}, needs {proposal.threshold} signatures")
                self.incidents.note(incident.id, "propose", text, proposal_id=proposal.id, safe_tx_hash=proposal.safe_tx_hash)
                self._publish(incident, "action", text)

    def _notify_open(self, playbook: str, action: PlaybookAction, record: FindingRecord, incident: Incident,
                     opened: bool, dry: bool, result: Handled) -> None:
        assert incident.id is not None
        names = action.notifiers or list(self.notifications.notifiers)
        with self._lock:  # concurrent findings of one incident: one opening message
            known = self._notify_names.get(incident.id)
            if known is None and not opened:
                known = self._threads(incident.id)
            if known is not None and set(names) <= set(known):
                return  # this incident already has its thread: no storm
            if not dry:
                self._notify_names[incident.id] = sorted(set(known or []) | set(names))
        if dry:
            message = f"dry-run: would notify {', '.join(names) or 'nobody'} about incident #{incident.id}"
            self.incidents.note(incident.id, "dry_run", message)
            result.dry_run.append(message)
            return
        result.notified.append(playbook)
        self.incidents.note(incident.id, "notify", f"playbook {playbook} notifies {', '.join(names)}", playbook=playbook)
        text = (("[historical: found while catching up, not acted on] " if record.historical else "")
                + f"{record.description or record.title}\nrule {record.rule_id}, tx {record.tx_hash}, block {record.block_number}")
        self._publish(incident, "opened", text, names=names)

    def _threads(self, incident_id: int) -> list[str] | None:
        with self.store.session() as s:
            return incidents.thread_names(s, incident_id) or None

    def _publish(self, incident: Incident, kind: str, text: str, names: list[str] | None = None) -> None:
        assert incident.id is not None
        names = names or self._notify_names.get(incident.id) or self._threads(incident.id)
        if not names:
            return
        with self.store.session() as s:
            fresh = s.get(Incident, incident.id) or incident
        self.notifications.publish(Notice(
            incident_id=incident.id, network=fresh.network, protocol=fresh.protocol, severity=fresh.severity,
            status=fresh.status, kind=kind, title=fresh.title, text=text,
            fields={"addresses": fresh.addresses, "first_block": fresh.first_block},
            at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())), names)

    def _finished(self, action: Action) -> None:
        """Executor callback: a pause in place contains the incident."""
        if action.incident_id is None:
            return
        if action.status in (ActionStatus.MINED, ActionStatus.ALREADY_PAUSED):
            with self.store.session() as s:
                incident = s.get(Incident, action.incident_id)
            where = f" on {self.network}" if incident is not None and incident.network != self.network else ""
            text = (f"{action.contract or action.target}{where} paused in tx {action.tx_hash} (block {action.block_number})"
                    if action.status == ActionStatus.MINED else f"{action.contract or action.target}{where} was already paused")
            # on the chain's clock: the block of the pause, or the head when it was found in place
            chain = self.clock.at_block(action.block_number) if action.block_number is not None else self.clock.head()
            if self.incidents.contain(action.incident_id, text, action_id=action.id, tx_hash=action.tx_hash, **chain):
                with self.store.session() as s:
                    incident = s.get(Incident, action.incident_id)
                if incident is not None:
                    self._publish(incident, "contained", text)
        elif action.status in (ActionStatus.FAILED, ActionStatus.REVERTED):
            self.incidents.note(action.incident_id, "pause", f"{action.kind} of {action.contract or action.target} "
                                f"{action.status}: {action.error or action.tx_hash}", action_id=action.id)
            with self.store.session() as s:
                incident = s.get(Incident, action.incident_id)
            if incident is not None:
                self._publish(incident, "action", f"{action.kind} of {action.contract or action.target} {action.status}: {action.error or ''}")

    # ------------------------------------------------------------------ findings and evidence
    def _record(self, finding: FindingRecord | Finding, retract: bool = False) -> FindingRecord:
        """The stored row of a finding (stored here when handed over as a plain Finding)."""
        key = finding.dedup_key
        with self.store.session() as s:
            row = ledger.finding_by_key(s, key)
            if row is None and isinstance(finding, FindingRecord):
                return finding
            if row is None:
                assert isinstance(finding, Finding)
                row = FindingRecord(**ledger.to_row(finding))
            if retract:
                row.status = FindingStatus.RETRACTED
            s.add(row)
            s.flush()
            s.refresh(row)
        return row


def _trigger(record: FindingRecord) -> dict[str, Any]:
    return {"finding_id": record.id, "rule_id": record.rule_id, "tx_hash": record.tx_hash,
            "block": record.block_number, "pending": record.pending}
