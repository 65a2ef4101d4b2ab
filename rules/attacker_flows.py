"""attacker-flows: what an attacker cluster does with money, before and after the exploit. The accounts and
contracts other findings named as actors are followed (every transaction they send or receive is judged, whatever
it calls): money coming in from outside the cluster (not a watched contract's payout) is its funding, money going
out to a fresh address (no code, no coin before the block) or through a watched bridge is its laundering. Both
chain on the attack's incident; they never pause anything (there is nothing left to stop), they tell responders
where the funds went."""

from __future__ import annotations

from watchdog.detect import Check, Context, Rule, Severity

BRIDGE_HINTS = ("bridge", "bridged_from")  # manifest keys that mark a bridge's endpoints


class AttackerFlows(Rule):
    id = "attacker-flows"
    title = "Attacker cluster moved funds"
    severity = Severity.LOW
    confidence = 0.7
    description = ("Funds moved by accounts that other findings named as an attack's actors: funding coming into the "
                   "cluster, and laundering out of it to fresh addresses or through a bridge.")
    references = ("Attack stages seen in real exploits: funding (often from a mixer), preparation, exploitation, "
                  "laundering (fresh addresses, mixers, bridges)",)
    params = {"min_value": 1_000.0}  # quote units; smaller moves are not reported (native coin unpriced: always)
    checks = {
        "funding": Check("Attacker cluster funded", Severity.LOW, ("min_value",),
                         "Native coin or a watched token came into a cluster member from outside the cluster and "
                         "from no watched contract (a protocol's payout or a flash loan is not funding)."),
        "laundering": Check("Attacker cluster moved funds out", Severity.MEDIUM, ("min_value",),
                            "A cluster member sent native coin or a watched token to a fresh address or a watched "
                            "bridge; low when the member was named only by findings below high."),
    }

    def on_tx(self, ctx: Context):
        cluster = ctx.cluster
        if not cluster or ctx.pending or (ctx.tx.status == 0):
            return
        moves = [(ctx.tx.sender, ctx.tx.to, None, ctx.tx.value)] if ctx.tx.value and ctx.tx.to else []
        moves += [(m.sender, m.recipient, m.token, m.value) for m in ctx.transfers()]
        for sender, recipient, token, amount in moves:
            value = ctx.value(token, amount) if token else None
            if token and value is not None and value < ctx.params_of("funding")["min_value"]:
                continue
            what = f"{amount} units of {self._name(ctx, token)}" if token else f"{amount / 1e18:g} of the native coin"
            if recipient in cluster and sender not in cluster and ctx.registry.get(sender) is None and ctx.enabled("funding"):
                yield self._report(ctx, "funding", recipient, sender, what, token, amount, value, cluster[recipient],
                                   f"{recipient} (named by {cluster[recipient]['why']}) received {what} from {sender}")
            elif sender in cluster and recipient not in cluster and ctx.enabled("laundering"):
                where = self._laundering_target(ctx, recipient)
                if where is None:
                    continue
                yield self._report(ctx, "laundering", sender, recipient, what, token, amount, value, cluster[sender],
                                   f"{sender} (named by {cluster[sender]['why']}) sent {what} to {where} {recipient}")

    @staticmethod
    def _laundering_target(ctx: Context, recipient: str) -> str | None:
        watched = ctx.registry.get(recipient)
        if watched is not None:
            return "the bridge" if any(hint in watched.extra for hint in BRIDGE_HINTS) else None
        fresh = (ctx.native_balance(recipient, ctx.before) or 0) == 0 and ctx.code(recipient, ctx.before) == "0x"
        return "the fresh address" if fresh else None

    @staticmethod
    def _name(ctx: Context, token: str | None) -> str:
        watched = ctx.registry.get(token) if token else None
        return watched.name if watched else token or "native coin"

    @staticmethod
    def _report(ctx: Context, check: str, member: str, other: str, what: str, token: str | None, amount: int,
                value: float | None, named: dict, description: str):
        severity = None
        if check == "laundering" and Severity(named.get("severity", "info")) < Severity.HIGH:
            severity = Severity.LOW
        return ctx.finding(
            check=check, severity=severity, title=f"Attacker cluster {check}: {what}",
            description=description + (f" (worth {value:,.0f})" if value is not None else "") + ".",
            addresses=[member, other],
            evidence={"member": member, "counterparty": other, "token": token, "amount": str(amount), "value": value,
                      "member_named_by": named.get("why"), "member_since_block": named.get("since")},
            labels={"stage": check, "actor": member}, key=f"{member}:{other}:{token}",
        )
