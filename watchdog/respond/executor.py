"""The one executor for state-changing transactions (pauses, Safe executions).

Never twice: an Action row unique per (network, kind, target, scope) is inserted before anything is
signed; whoever inserts it (or re-arms a finished one) is the only one to send. Every signed
transaction is recorded as an ActionAttempt before it is broadcast and updated after, so a restart
re-broadcasts or watches the recorded transaction instead of sending a new one.

Fast: reads the target state first (already done: no transaction), simulates at the latest state,
sends with EIP-1559 fees and re-prices on every new block (both fees +bump%, replacement rules need
+10%) up to an emergency cap. A pending attack's tip is outbid so the pause is ordered first.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from eth_utils import to_checksum_address
from sqlalchemy.exc import IntegrityError

from watchdog.errors import RpcError
from watchdog.keys import Signer
from watchdog.config.response import GWEI, ExecutorSettings
from watchdog.respond.plan import TxPlan
from watchdog.respond.incidents import aware
from watchdog.respond.rpc import CallReverted, Rpc
from watchdog.store import Store, actions, utcnow
from watchdog.store.responder import LIVE_ATTEMPTS, OPEN_ACTIONS, Action, ActionAttempt, ActionStatus, AttemptStatus

log = logging.getLogger(__name__)

REARMABLE = (ActionStatus.FAILED, ActionStatus.MINED, ActionStatus.REVERTED, ActionStatus.ALREADY_PAUSED,
             ActionStatus.ALREADY_DONE)
ORPHAN_SECONDS = 60  # a sent action without a new attempt for this long is watched again by the next trigger
NONCE_ERRORS = ("nonce too low", "nonce too high", "invalid nonce", "nonce has already been used", "replacement transaction underpriced")


@dataclass(slots=True)
class Outcome:
    action_id: int
    status: str
    tx_hash: str | None = None
    sent: bool = False  # this call signed and broadcast a transaction
    error: str | None = None


class Executor:
    def __init__(self, store: Store, rpc: Rpc, signer: Signer | None, network: str, chain_id: int,
                 settings: ExecutorSettings | None = None,
                 on_finish: Callable[[Action], None] | None = None) -> None:
        self.store = store
        self.rpc = rpc
        self.signer = signer
        self.network = network
        self.chain_id = chain_id
        self.settings = settings or ExecutorSettings()
        self.on_finish = on_finish
        self._nonce_lock = threading.Lock()  # one fresh nonce at a time from this process
        self._watchers: list[threading.Thread] = []
        self._watching: set[int] = set()  # actions re-priced by a watcher of this process
        self._stop = threading.Event()

    # ------------------------------------------------------------------ public
    def submit(self, plan: TxPlan, *, incident_id: int | None = None, trigger: dict[str, Any] | None = None,
               attack_tx: str | None = None, wait: bool = False) -> Outcome:
        """Run `plan` once: claim it, check, simulate, send, then watch until mined (in the background
        unless `wait`). A plan already claimed returns the existing action without sending."""
        action, won = self._claim(plan, incident_id, trigger or {})
        if not won:
            if attack_tx and action.status == ActionStatus.SENT:
                self._outbid(action, plan, attack_tx)
            if action.status == ActionStatus.SENT and self._orphaned(action):
                self._watch(action.id, plan_of(action), wait)  # type: ignore[arg-type]
            return Outcome(action.id, action.status, action.tx_hash)  # type: ignore[arg-type]
        outcome = self._run(action, plan, attack_tx)
        if outcome.status == ActionStatus.SENT:
            self._watch(action.id, plan, wait)  # type: ignore[arg-type]
            if wait:
                return self.outcome(action.id)  # type: ignore[arg-type]
        return outcome

    def resume(self, wait: bool = False) -> list[Outcome]:
        """After a restart: finish every open action of this network without sending a second transaction."""
        with self.store.session() as s:
            unfinished = actions.open_actions(s, self.network)
        outcomes = []
        for action in unfinished:
            plan = plan_of(action)
            attempts = self._attempts(action)
            if not attempts:
                outcome = self._run(action, plan, None)
            else:
                outcome = self._rebroadcast(action, attempts)
            if outcome.status == ActionStatus.SENT:
                self._watch(action.id, plan, wait)  # type: ignore[arg-type]
            outcomes.append(self.outcome(action.id) if wait else outcome)  # type: ignore[arg-type]
        return outcomes

    def outcome(self, action_id: int) -> Outcome:
        with self.store.session() as s:
            action = s.get(Action, action_id)
        assert action is not None
        return Outcome(action_id, action.status, action.tx_hash, error=action.error)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the background watchers; True when all finished."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in list(self._watchers):
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self._watchers)

    def stop(self) -> None:
        self._stop.set()
        self.wait(5)

    def is_done(self, check: dict[str, Any]) -> bool:
        """The on-chain read that tells the action is done (paused, Safe nonce moved on). Raises RpcError
        when the node cannot say: an unknown state never counts as "not done" (that could send twice)."""
        result = self.rpc.eth_call(check["to"], check["data"])
        value = int(result[:66], 16) if result and result != "0x" else 0  # the first returned word
        if "bit" in check:
            return bool(value >> check["bit"] & 1)
        return value > check["gt"] if "gt" in check else value != 0

    def _done_or_unknown(self, check: dict[str, Any]) -> bool:
        try:
            return self.is_done(check)
        except RpcError:
            return True

    # ------------------------------------------------------------------ claim
    def _claim(self, plan: TxPlan, incident_id: int | None, trigger: dict[str, Any]) -> tuple[Action, bool]:
        try:
            with self.store.session() as s:
                s.add(Action(network=self.network, kind=plan.kind, target=plan.target, scope=plan.scope,
                             contract=plan.contract, to=plan.to, data=plan.data, check=plan.check,
                             incident_id=incident_id, trigger=trigger))
            return self._load(plan), True
        except IntegrityError:
            pass
        existing = self._load(plan)
        rearm = existing.status == ActionStatus.FAILED or (existing.status in REARMABLE
                                                           and not self._done_or_unknown(plan.check))
        if rearm:
            with self.store.session() as s:
                won = actions.rearm(s, existing, to=plan.to, data=plan.data, check=plan.check,
                                    incident_id=incident_id, trigger=trigger)
            if won:
                return self._load(plan), True
            existing = self._load(plan)
        return existing, False

    def _load(self, plan: TxPlan) -> Action:
        with self.store.session() as s:
            action = actions.action_for(s, self.network, plan.kind, plan.target, plan.scope)
        assert action is not None, "an action is claimed before it is loaded"
        return action

    # ------------------------------------------------------------------ run
    def _run(self, action: Action, plan: TxPlan, attack_tx: str | None) -> Outcome:
        assert action.id is not None
        done_status = ActionStatus.ALREADY_PAUSED if plan.kind == "pause" else ActionStatus.ALREADY_DONE
        try:
            done = self.is_done(plan.check)
        except RpcError as exc:
            if action.generation > 0:  # it was done once: do not act twice on an unknown state
                return self._fail(action.id, f"cannot read the target's state before sending: {exc}")
            log.warning("%s %s: state unknown (%s); the simulation decides", plan.kind, plan.target, exc)
            done = False
        if done:
            self._finish(action.id, done_status, detail="state read before sending: nothing to do")
            return self.outcome(action.id)
        if self.signer is None:
            return self._fail(action.id, "no signing key configured for the responder: add [signers.responder]")
        try:
            self.rpc.eth_call(plan.to, plan.data, self.signer.address)
            gas = math.ceil(self.rpc.estimate_gas(plan.to, plan.data, self.signer.address) * self.settings.gas_margin)
        except CallReverted as exc:
            return self._fail(action.id, f"simulation at latest reverted: {exc.reason or exc}")
        except RpcError as exc:
            return self._fail(action.id, f"simulation failed: {exc}")
        max_fee, priority = self._initial_fees(attack_tx)
        attempt = self._send(action.id, action.generation, plan, gas, max_fee, priority, nonce=None)
        if attempt is None:
            if self._done_or_unknown(plan.check):
                self._finish(action.id, done_status, detail="paused meanwhile by someone else")
                return self.outcome(action.id)
            return self._fail(action.id, "could not broadcast the transaction (see the attempts)")
        return Outcome(action.id, ActionStatus.SENT, attempt.tx_hash, sent=True)

    def _initial_fees(self, attack_tx: str | None) -> tuple[int, int]:
        base = self.rpc.base_fee()
        priority = int(self.settings.min_priority_fee_gwei * GWEI)
        max_fee = 2 * base + priority
        if attack_tx:
            attack = self.rpc.transaction(attack_tx)
            if attack:
                attack_max = int(attack.get("maxFeePerGas") or attack.get("gasPrice") or "0x0", 16)
                attack_tip = int(attack.get("maxPriorityFeePerGas") or attack.get("gasPrice") or "0x0", 16)
                factor = self.settings.preemptive_factor
                priority = max(priority, int(attack_tip * factor) + GWEI)
                max_fee = max(2 * base + priority, int(attack_max * factor) + GWEI)
        cap = int(self.settings.emergency_cap_gwei * GWEI)
        max_fee = min(max_fee, cap)
        return max_fee, min(priority, max_fee)

    def _send(self, action_id: int, generation: int, plan: TxPlan, gas: int, max_fee: int, priority: int,
              nonce: int | None) -> ActionAttempt | None:
        """Sign, record, broadcast, record. A fresh nonce is the node's pending count, read again (resync)
        and retried after a nonce error; a fixed nonce (replacement) is not retried here. Returns the
        broadcast attempt or None."""
        assert self.signer is not None
        for _ in range(3):
            with self._nonce_lock:
                if nonce is None:
                    fresh = True
                    use = self.rpc.nonce(self.signer.address, "pending")
                else:
                    fresh, use = False, nonce
                tx = {"type": 2, "chainId": self.chain_id, "nonce": use, "to": to_checksum_address(plan.to), "data": plan.data,
                      "value": 0, "gas": gas, "maxFeePerGas": max_fee, "maxPriorityFeePerGas": priority}
                raw, tx_hash = self.signer.sign_transaction(tx)
                attempt = self._record_attempt(ActionAttempt(
                    action_id=action_id, generation=generation, sender=self.signer.address, nonce=use,
                    max_fee=max_fee, priority_fee=priority, gas=gas, tx_hash=tx_hash, raw_tx=raw))
                try:
                    self.rpc.send_raw(raw)
                except RpcError as exc:
                    message = str(exc)
                    if "already known" in message.lower() or "known transaction" in message.lower():
                        self._mark_sent(attempt, action_id)
                        return attempt
                    self._update_attempt(attempt.id, status=AttemptStatus.ERROR, error=message[:500])
                    log.warning("broadcast of %s (nonce %d) failed: %s", tx_hash, use, message)
                    if fresh and any(e in message.lower() for e in NONCE_ERRORS):
                        continue  # resync: the next round reads the node's count again
                    return None
            self._mark_sent(attempt, action_id)
            log.info("%s %s: sent %s (nonce %d, max fee %d, tip %d)", plan.kind, plan.target, tx_hash, use, max_fee, priority)
            return attempt
        return None

    # ------------------------------------------------------------------ watch
    def _watch(self, action_id: int, plan: TxPlan, wait: bool) -> None:
        since = self.rpc.block_number()  # read now: a block mined before the thread runs still counts
        self._watching.add(action_id)
        if wait:
            self._watch_loop(action_id, plan, since)
            return
        thread = threading.Thread(target=self._watch_loop, args=(action_id, plan, since), daemon=True,
                                  name=f"watch-action-{action_id}")
        self._watchers.append(thread)
        thread.start()

    def _watch_loop(self, action_id: int, plan: TxPlan, last_block: int) -> None:
        try:
            self._watch_blocks(action_id, plan, last_block)
        finally:
            self._watching.discard(action_id)

    def _watch_blocks(self, action_id: int, plan: TxPlan, last_block: int) -> None:
        waited = 0
        while not self._stop.is_set():
            try:
                with self.store.session() as s:
                    action = s.get(Action, action_id)
                if action is None or action.status not in OPEN_ACTIONS:
                    return
                attempts = self._attempts(action)
                # The head first, then the receipts: a transaction mined in any block up to `number` is seen
                # before a re-price is considered (a node may answer a send before its block is mined).
                number = self.rpc.block_number()
                if self._check_receipts(action, attempts, plan):
                    return
                if number > last_block:
                    last_block, waited = number, waited + number - last_block
                    if waited > self.settings.give_up_blocks:
                        log.error("action %d not mined after %d blocks: left open", action_id, waited)
                        self.store.audit("responder", "action_stuck", plan.target, action_id=action_id, blocks=waited)
                        return
                    self._reprice(action, attempts, plan)
            except RpcError as exc:  # the node hiccups: keep watching, the action stays open
                log.warning("watching action %d: %s", action_id, exc)
                time.sleep(self.settings.poll_seconds * 10)
            except Exception as exc:  # a watcher must never take the daemon down
                log.error("watching action %d failed: %s", action_id, exc)
                return
            time.sleep(self.settings.poll_seconds)

    def _check_receipts(self, action: Action, attempts: list[ActionAttempt], plan: TxPlan) -> bool:
        for attempt in attempts:
            receipt = self.rpc.receipt(attempt.tx_hash)
            if receipt and receipt.get("blockNumber"):
                ok = int(receipt.get("status", "0x1"), 16) == 1
                with self.store.session() as s:
                    for other in attempts:
                        row = s.get(ActionAttempt, other.id)
                        if row is not None and row.status in LIVE_ATTEMPTS:
                            row.status = AttemptStatus.MINED if other.id == attempt.id else AttemptStatus.REPLACED
                try:
                    done = self.is_done(plan.check)
                except RpcError:
                    done = False  # only tells a reverted pause from one that found the target paused
                status = ActionStatus.MINED if ok else (ActionStatus.ALREADY_PAUSED if done and plan.kind == "pause" else ActionStatus.REVERTED)
                self._finish(action.id, status, tx_hash=attempt.tx_hash,  # type: ignore[arg-type]
                             block=int(receipt["blockNumber"], 16),
                             detail=f"mined in block {int(receipt['blockNumber'], 16)}; done on chain: {done}")
                return True
        return False

    def _reprice(self, action: Action, attempts: list[ActionAttempt], plan: TxPlan) -> None:
        live = [a for a in attempts if a.status in LIVE_ATTEMPTS]
        if not live or self.signer is None or live[-1].sender != self.signer.address:
            return
        last = live[-1]
        bump = 1 + self.settings.bump_percent / 100
        cap = int(self.settings.emergency_cap_gwei * GWEI)
        base = self.rpc.base_fee()
        priority = max(math.ceil(last.priority_fee * bump), int(self.settings.min_priority_fee_gwei * GWEI))
        max_fee = min(max(math.ceil(last.max_fee * bump), 2 * base + priority), cap)
        priority = min(priority, max_fee)
        if max_fee < last.max_fee * 1.1 or priority < last.priority_fee * 1.1:
            # at the cap: no valid replacement; keep the last one in the pool
            if self.rpc.transaction(last.tx_hash) is None:
                self._broadcast_raw(last)
            return
        attempt = self._send(action.id, action.generation, plan, last.gas, max_fee, priority, nonce=last.nonce)  # type: ignore[arg-type]
        if attempt is None:
            # nonce used: by one of ours (a receipt shows up next round) or by something else
            if not self._check_receipts(action, self._attempts(action), plan) and self.rpc.nonce(last.sender, "latest") > last.nonce:
                if self._done_or_unknown(plan.check):
                    self._finish(action.id, ActionStatus.ALREADY_PAUSED if plan.kind == "pause" else ActionStatus.ALREADY_DONE,  # type: ignore[arg-type]
                                 detail="done by another transaction")
                else:
                    self._send(action.id, action.generation, plan, last.gas, max_fee, priority, nonce=None)  # type: ignore[arg-type]
        else:
            self.store.audit("responder", "action_repriced", plan.target, action_id=action.id,
                             tx_hash=attempt.tx_hash, replaces=last.tx_hash, max_fee=max_fee, priority_fee=priority)

    def _orphaned(self, action: Action) -> bool:
        """A sent action that nobody re-prices any more (its watcher gave up, or its process died)."""
        if action.id in self._watching:
            return False
        attempts = self._attempts(action)
        last = aware(attempts[-1].at) if attempts else aware(action.updated_at)
        return (utcnow() - last).total_seconds() > ORPHAN_SECONDS

    def _outbid(self, action: Action, plan: TxPlan, attack_tx: str) -> None:
        """Our pause is still pending and an attack shows up in the mempool: re-price it (same nonce) above
        the attack, so that it is ordered first."""
        live = [a for a in self._attempts(action) if a.status in LIVE_ATTEMPTS]
        if not live or self.signer is None or live[-1].sender != self.signer.address:
            return
        last = live[-1]
        max_fee, priority = self._initial_fees(attack_tx)
        max_fee, priority = max(max_fee, math.ceil(last.max_fee * 1.1)), max(priority, math.ceil(last.priority_fee * 1.1))
        cap = int(self.settings.emergency_cap_gwei * GWEI)
        if max_fee > cap or priority > max_fee:
            return
        if self._send(action.id, action.generation, plan, last.gas, max_fee, priority, nonce=last.nonce) is not None:  # type: ignore[arg-type]
            self.store.audit("responder", "action_outbid", plan.target, action_id=action.id, attack_tx=attack_tx,
                             max_fee=max_fee, priority_fee=priority)

    def _rebroadcast(self, action: Action, attempts: list[ActionAttempt]) -> Outcome:
        """Restart path: the recorded transaction is mined, in the pool, or broadcast again (same hash)."""
        plan = plan_of(action)
        if self._check_receipts(action, attempts, plan):
            return self.outcome(action.id)  # type: ignore[arg-type]
        live = [a for a in attempts if a.status in LIVE_ATTEMPTS]
        if live:
            last = live[-1]
            if self.rpc.transaction(last.tx_hash) is None:
                self._broadcast_raw(last)
            return Outcome(action.id, ActionStatus.SENT, last.tx_hash)  # type: ignore[arg-type]
        # every attempt failed to broadcast: start over (the state is read first)
        return self._run(action, plan, None)

    def _broadcast_raw(self, attempt: ActionAttempt) -> None:
        try:
            self.rpc.send_raw(attempt.raw_tx)
            self._update_attempt(attempt.id, status=AttemptStatus.SENT)
        except RpcError as exc:
            if "known" not in str(exc).lower():
                log.warning("re-broadcast of %s failed: %s", attempt.tx_hash, exc)

    # ------------------------------------------------------------------ store
    def _attempts(self, action: Action) -> list[ActionAttempt]:
        with self.store.session() as s:
            return actions.attempts(s, action)

    def _record_attempt(self, attempt: ActionAttempt) -> ActionAttempt:
        with self.store.session() as s:
            s.add(attempt)
            s.flush()
            s.refresh(attempt)
        return attempt

    def _update_attempt(self, attempt_id: int | None, **values: Any) -> None:
        with self.store.session() as s:
            row = s.get(ActionAttempt, attempt_id)
            if row is not None:
                for key, value in values.items():
                    setattr(row, key, value)

    def _mark_sent(self, attempt: ActionAttempt, action_id: int) -> None:
        attempt.status = AttemptStatus.SENT
        with self.store.session() as s:
            row = s.get(ActionAttempt, attempt.id)
            if row is not None:
                row.status = AttemptStatus.SENT
            action = s.get(Action, action_id)
            if action is not None and action.status == ActionStatus.PENDING:
                action.status = ActionStatus.SENT
                action.updated_at = utcnow()
        self.store.audit("responder", "tx_sent", attempt.tx_hash, action_id=action_id, nonce=attempt.nonce,
                         max_fee=attempt.max_fee, priority_fee=attempt.priority_fee, sender=attempt.sender)

    def _fail(self, action_id: int, error: str) -> Outcome:
        self._finish(action_id, ActionStatus.FAILED, error=error)
        return self.outcome(action_id)

    def _finish(self, action_id: int, status: str, *, tx_hash: str | None = None, block: int | None = None,
                error: str | None = None, detail: str = "") -> None:
        with self.store.session() as s:
            action = s.get(Action, action_id)
            assert action is not None
            action.status, action.error, action.updated_at = status, error, utcnow()
            if tx_hash:
                action.tx_hash, action.block_number = tx_hash, block
        log.info("action %d (%s %s): %s %s", action_id, action.kind, action.target, status, error or detail)
        self.store.audit("responder", f"{action.kind}_{status}", action.target, action_id=action_id,
                         tx_hash=tx_hash, block=block, error=error, detail=detail)
        if self.on_finish is not None:
            try:
                self.on_finish(action)
            except Exception as exc:
                log.error("after action %d: %s", action_id, exc)


def plan_of(action: Action) -> TxPlan:
    """Rebuild the plan of a stored action (restart)."""
    return TxPlan(action.kind, action.target, action.scope, action.to, action.data, dict(action.check), action.contract)
