"""A Chainlink feed read on an L2 without checking the sequencer-uptime feed (and its grace period)."""

from __future__ import annotations

import os

from slither.detectors.abstract_detector import AbstractDetector, DetectorClassification

from watchdog.scan import ir

# Identifiers that say a contract is written for a rollup. `watchdog scan --l2` sets WATCHDOG_SCAN_L2=1
# to treat every contract as deployed on an L2.
L2_HINTS = {"sequencer", "arbitrum", "optimism", "l2", "rollup", "uptime"}


class L2SequencerUnchecked(AbstractDetector):
    ARGUMENT = "wd-l2-sequencer"
    HELP = "L2 price feed used without a sequencer-uptime check"
    IMPACT = DetectorClassification.MEDIUM
    CONFIDENCE = DetectorClassification.MEDIUM
    WIKI = "https://docs.chain.link/data-feeds/l2-sequencer-feeds"
    WIKI_TITLE = "Missing L2 sequencer-uptime check"
    WIKI_DESCRIPTION = "On a rollup, prices stop updating while the sequencer is down and look valid when it comes back; the sequencer-uptime feed and a grace period must gate their use."
    WIKI_EXPLOIT_SCENARIO = "After a sequencer outage, positions are liquidated at prices that were stale for hours before users could react."
    WIKI_RECOMMENDATION = "Read the sequencer-uptime feed: require answer == 0 (up) and block.timestamp - startedAt > GRACE_PERIOD."
    BUG_CLASS = "oracle: L2 sequencer downtime"
    EXAMPLE = "feed.latestRoundData() on Arbitrum with no sequencer-uptime feed and grace period"
    REFERENCES = (
        "https://docs.chain.link/data-feeds/l2-sequencer-feeds",
    )

    def _detect(self) -> list:
        results = []
        for contract in self.compilation_unit.contracts_derived:
            if not self._on_l2(contract):
                continue
            reads = [
                (function, node, call)
                for function in contract.functions_and_modifiers
                for node, call in ir.high_level_calls(function, {"latestRoundData"})
            ]
            if reads and not any(self._is_uptime_check(function, call) for function, _, call in reads):
                function, node, _ = reads[0]
                info = [contract, " reads prices at ", node, " but never checks the sequencer-uptime feed and its grace period\n"]
                results.append(self.generate_result(info))
        return results

    @staticmethod
    def _on_l2(contract) -> bool:
        if os.environ.get("WATCHDOG_SCAN_L2") == "1":
            return True
        names = [contract.name, *(v.name for v in contract.state_variables)]
        return any(L2_HINTS.intersection(ir.words(name)) for name in names)

    @staticmethod
    def _is_uptime_check(function, call) -> bool:
        """answer (status) and startedAt (grace period) of the same read both gate execution; on a feed named
        as the sequencer's, updatedAt may carry the status change instead (Aave's sequencer oracle)."""
        components = ir.unpacked(function, call)
        scope = ir.reachable(function)
        stamps = (2, 3) if ir.name_has(ir.destination_name(call), ("sequencer", "uptime")) else (2,)
        status = 1 in components and ir.checked(components[1], scope)
        return status and any(i in components and ir.checked(components[i], scope) for i in stamps)
