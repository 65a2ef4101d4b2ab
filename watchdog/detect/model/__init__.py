"""The protocol model: what each watched protocol consumes, holds and owes, learned from the chain (views,
round histories, balances), shown by `watchdog protocol show`, and read by the rules and the responder."""

from watchdog.detect.model.graph import Holder, ProtocolModel, Source, Use
from watchdog.detect.model.probe import Prober, price_of

__all__ = ["Holder", "Prober", "ProtocolModel", "Source", "Use", "price_of"]
