"""Liquidation priced by a single oracle, with no fallback source and no deviation bound."""

from __future__ import annotations

from slither.core.declarations import Function
from slither.detectors.abstract_detector import AbstractDetector, DetectorClassification
from slither.slithir.operations import HighLevelCall

from watchdog.scan import ir

PRICE_READS = {
    "latestRoundData", "latestAnswer", "getPrice", "getAssetPrice", "getUnderlyingPrice", "price",
    "consult", "peek", "read", "getRate", "latestPrice", "getLatestPrice", "priceOf",
}
BOUND_HINTS = ("deviation", "anchor", "maxdiff", "bound", "tolerance")


class SingleOracleLiquidation(AbstractDetector):
    ARGUMENT = "wd-single-oracle-liquidation"
    HELP = "Liquidation priced by a single oracle without fallback or deviation bound"
    IMPACT = DetectorClassification.MEDIUM
    CONFIDENCE = DetectorClassification.MEDIUM
    WIKI = "https://docs.chain.link/data-feeds/selecting-data-feeds#risk-mitigation"
    WIKI_TITLE = "Single-oracle liquidation"
    WIKI_DESCRIPTION = "Liquidations rely on one price source; when it is manipulated, broken or stale, healthy accounts are liquidated (or bad debt is left unliquidated)."
    WIKI_EXPLOIT_SCENARIO = "A single feed reports a wrong price for one block; a bot liquidates healthy positions at a discount."
    WIKI_RECOMMENDATION = "Cross-check a second source and bound the deviation between them, or fall back to another source when the primary fails."
    BUG_CLASS = "oracle: single point of failure in liquidations"
    EXAMPLE = "function liquidate(address u) external { uint p = feed.latestAnswer(); ... }  // no second source"
    REFERENCES = (
        "https://docs.chain.link/data-feeds/selecting-data-feeds#risk-mitigation",
    )

    def _detect(self) -> list:
        results = []
        for contract in self.compilation_unit.contracts_derived:
            for function in contract.functions_entry_points:
                if "liquidat" not in function.name.lower() or function.view or function.pure:
                    continue
                functions = ir.reachable(function)
                sources = self._price_sources(functions)
                if len(sources) == 1 and not self._bounded(functions) and not self._source_falls_back(functions):
                    info = [function, f" liquidates on the price of a single oracle ({next(iter(sources))}) with no fallback or deviation bound\n"]
                    results.append(self.generate_result(info))
        return results

    @staticmethod
    def _price_sources(functions: list[Function]) -> set[str]:
        return {
            ir.destination_name(op)
            for f in functions
            for node in f.nodes
            for op in node.irs
            if isinstance(op, HighLevelCall) and str(op.function_name) in PRICE_READS
        }

    def _source_falls_back(self, functions: list[Function]) -> bool:
        """The oracle called is implemented in the scanned code and reads a second source itself (an
        aggregator with a fallback oracle, such as Aave's AaveOracle)."""
        names = {
            str(op.function_name)
            for f in functions
            for node in f.nodes
            for op in node.irs
            if isinstance(op, HighLevelCall) and str(op.function_name) in PRICE_READS
        }
        implementations = [f for _, f in ir.declared_functions(self.compilation_unit) if f.name in names]
        return any(len(self._price_sources(ir.reachable(f))) >= 2 for f in implementations)

    @staticmethod
    def _bounded(functions: list[Function]) -> bool:
        """A condition reads a deviation/anchor bound, or a price read sits in a try/catch with a fallback."""
        for node in ir.conditional_nodes(functions):
            if any(ir.name_has(v.name, BOUND_HINTS) for v in node.variables_read if v is not None and v.name):
                return True
        return any(node.type.name == "TRY" for f in functions for node in f.nodes)
