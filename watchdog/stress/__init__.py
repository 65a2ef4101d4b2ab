"""What-if scenarios on a local fork of the chain's current state: a price shock of an asset on every source the
protocol model knows, a feed that stops, a protocol paused, a bridge route halted; for each, the positions that
become liquidatable, the liquidations executed and their collateral sold through the real pools, bad debt, what
covers it, and each protocol's value at risk in the quote asset.

    report = StressRun(manifest, rpc_url).run(parse("shock:WETH:-30%"))
"""

from watchdog.stress.engine import StressOptions, StressRun
from watchdog.stress.scenarios import Scenario, load, parse

__all__ = ["Scenario", "StressOptions", "StressRun", "load", "parse"]
