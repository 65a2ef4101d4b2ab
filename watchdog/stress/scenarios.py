"""What-if scenarios: written on the command line (`shock:WETH:-30%`) or in a TOML file (`[[scenario]]` tables), and
resolved against the protocol model into moves of prices, feeds that stop, contracts paused and time that passes.

| scenario | command line | what happens on the fork |
|---|---|---|
| price shock | `shock:ASSET:MOVE[,MOVE...]` | every source of the asset moves by MOVE: feeds set, pools moved by real swaps |
| feed stops | `stop:FEED[:MOVE]` | the feed publishes nothing while time passes and the asset moves by MOVE on its other sources |
| pause | `pause:CONTRACT[:ASSET:MOVE]` | one protocol (a contract or a protocol name) is paused, optionally while an asset moves |
| route halted | `halt:ENDPOINT[:MOVE]` | a bridge route's endpoints are paused and the feeds it relays stop while the asset moves |

MOVE is a percentage (`-30%`, `+15%`, or `-30`).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from watchdog.errors import ConfigError

KINDS = ("shock", "stop", "pause", "halt")
MOVE = re.compile(r"^[+-]?\d+(\.\d+)?%?$")


@dataclass
class Scenario:
    """One scenario as written: its kind, the contract or asset it names, the asset's move, the time it lasts."""

    kind: str
    target: str
    move: float = 0.0              # relative move of the asset (-0.3: 30% down)
    asset: str | None = None       # pause: the asset that moves while paused (shock: the target)
    hold: int | None = None        # seconds that pass with the scenario in place (None: the kind's default)
    name: str = ""
    price: float | None = None     # instead of a move: the asset's price to set (an incident's reference price)
    accounts: list[str] = field(default_factory=list)  # accounts to evaluate beside those found in the logs

    def __post_init__(self) -> None:
        if not self.name:
            self.name = label(self)


def label(s: Scenario) -> str:
    move = f"{s.move:+.0%}" if s.price is None else f"to {s.price:,.6g}"
    if s.kind == "shock":
        return f"{s.target} {move}"
    if s.kind == "stop":
        return f"{s.target} stops" + (f", asset {s.move:+.0%}" if s.move else "")
    if s.kind == "pause":
        return f"{s.target} paused" + (f", {s.asset} {move}" if s.asset else "")
    return f"route {s.target} halted" + (f", asset {s.move:+.0%}" if s.move else "")


def parse_move(text: str, where: str) -> float:
    value = text.strip()
    if not MOVE.match(value):
        raise ConfigError(f"{where}: {text!r} is not a move: write a percentage such as -30% or +15%")
    move = float(value.rstrip("%")) / 100
    if move <= -1:
        raise ConfigError(f"{where}: a move of {text} takes the price to zero or below: use a move above -100%")
    return move


def parse(text: str) -> list[Scenario]:
    """`shock:WETH:-30%` and the other forms of the module's table; several moves give several scenarios."""
    parts = [p.strip() for p in text.split(":")]
    kind = parts[0].lower()
    usage = {"shock": "shock:ASSET:MOVE", "stop": "stop:FEED[:MOVE]", "pause": "pause:CONTRACT[:ASSET:MOVE]",
             "halt": "halt:ENDPOINT[:MOVE]"}
    if kind not in KINDS:
        raise ConfigError(f"scenario {text!r}: unknown kind {parts[0]!r}: use one of {', '.join(usage.values())}")
    shape = {"shock": (3, 3), "stop": (2, 3), "pause": (2, 4), "halt": (2, 3)}[kind]
    if not shape[0] <= len(parts) <= shape[1] or not all(parts) or (kind == "pause" and len(parts) == 3):
        raise ConfigError(f"scenario {text!r}: write it as {usage[kind]}")
    target = parts[1]
    if kind == "pause":
        if len(parts) == 2:
            return [Scenario(kind, target)]
        return [Scenario(kind, target, parse_move(m, f"scenario {text!r}"), asset=parts[2]) for m in parts[3].split(",")]
    if len(parts) == 2:
        return [Scenario(kind, target)]
    return [Scenario(kind, target, parse_move(m, f"scenario {text!r}")) for m in parts[2].split(",")]


def load(path: Path) -> list[Scenario]:
    """The `[[scenario]]` tables of a TOML file: kind, target, move (or moves), asset, hold, name."""
    try:
        raw = tomllib.loads(Path(path).read_text())
    except OSError as exc:
        raise ConfigError(f"scenario file {path} cannot be read ({exc.strerror}): fix the path") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    tables = raw.get("scenario")
    if not isinstance(tables, list) or not tables:
        raise ConfigError(f"{path}: no [[scenario]] table: add one with kind, target and move")
    out: list[Scenario] = []
    for n, table in enumerate(tables):
        out += _from_table(table, f"{path}: scenario {n + 1}")
    return out


def _from_table(table: dict[str, Any], where: str) -> list[Scenario]:
    known = {"kind", "target", "move", "moves", "asset", "hold", "name"}
    extra = sorted(set(table) - known)
    if extra:
        raise ConfigError(f"{where}: unknown key {extra[0]!r}: use {', '.join(sorted(known))}")
    kind = str(table.get("kind", "")).lower()
    if kind not in KINDS:
        raise ConfigError(f"{where}: kind {table.get('kind')!r}: use one of {', '.join(KINDS)}")
    target = table.get("target")
    if not isinstance(target, str) or not target:
        raise ConfigError(f"{where}: `target` is missing: name the asset, feed, contract or bridge endpoint")
    hold = table.get("hold")
    if hold is not None and (not isinstance(hold, int) or isinstance(hold, bool) or hold < 0):
        raise ConfigError(f"{where}: hold {hold!r}: write a whole number of seconds, 0 or more")
    moves = table.get("moves", [table["move"]] if "move" in table else [])
    if not isinstance(moves, list) or not all(isinstance(m, str) for m in moves):
        raise ConfigError(f"{where}: write moves as quoted percentages: move = \"-30%\" or moves = [\"-10%\", \"-20%\"]")
    if kind == "shock" and not moves:
        raise ConfigError(f"{where}: a shock needs `move` (e.g. \"-30%\")")
    asset = table.get("asset")
    if kind == "pause" and moves and not asset:
        raise ConfigError(f"{where}: a pause with a move needs `asset`: the asset that moves while paused")
    name = str(table.get("name", ""))
    scenarios = [Scenario(kind, target, parse_move(str(m), where), asset=asset, hold=hold) for m in moves or ["0%"]]
    if name:
        for s in scenarios:
            s.name = name if len(scenarios) == 1 else f"{name} ({s.move:+.0%})"
    return scenarios
