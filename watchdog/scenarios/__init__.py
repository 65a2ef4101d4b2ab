"""The one catalogue of attack and benign scenarios on the test worlds, used by tests, drills and the demo.

A scenario (`Scenario`) is written once: `prepare(world, state)` deploys, funds and configures (mined at once,
before any watchdog runs), and `steps(player, state)` plays the attack or the traffic through a `Player`:
`send` a call from a dev account, `pass_time`, `next_block`. Two players share that step code:

- at once, on an automining chain, for tests: `play_attack(scenario, world, **params)` returns an AttackResult
  (its transaction, success, the attacker's profit, the pool before and after, each payoff step) and
  `play_traffic(scenario, world, **params)` a TrafficResult (transactions by kind);
- on the drill's block clock: watchdog.drill.phase.AttackPhase records every step and waits for the watchdog
  between blocks (`watchdog drill`, `watchdog demo`).

Scenarios declare the world they run on; `catalogue(world)` holds a world's scenarios, how it counts an attack's
take (`Books`), and the honest traffic drills play before an attack. The demo world's are in
watchdog.scenarios.demo, with the price math and market moves they all share (watchdog.scenarios.demo.market).
"""

from watchdog.scenarios.base import Books, Catalogue, Player, Scenario, State, Step
from watchdog.scenarios.player import ImmediatePlayer
from watchdog.scenarios.catalogue import CATALOGUES, catalogue
from watchdog.scenarios.play import AttackResult, Payoff, TrafficResult, play_attack, play_traffic

__all__ = ["CATALOGUES", "AttackResult", "Books", "Catalogue", "ImmediatePlayer", "Payoff", "Player", "Scenario",
           "State", "Step", "TrafficResult", "catalogue", "play_attack", "play_traffic"]
