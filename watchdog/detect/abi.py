"""The ABI helpers rules use (topic and selector hashes, event specs, typed calls, ERC-20 transfers): the
chain codec, re-exported where rules look for it."""

from watchdog.chain.abi import (
    TRANSFER_TOPIC, AbiRegistry, EventSpec, decode_result, encode_call, parse_call, selector, topic, transfer_of,
)

__all__ = ["TRANSFER_TOPIC", "AbiRegistry", "EventSpec", "decode_result", "encode_call", "parse_call", "selector",
           "topic", "transfer_of"]
