"""The ABI helpers rules use (topic and selector hashes, event specs, typed calls and their data, ERC-20
transfers): the chain codec, re-exported where rules look for it."""

from watchdog.chain.abi import (
    TRANSFER_TOPIC, AbiRegistry, EventSpec, decode_input, decode_result, decode_values, encode_call, parse_call, selector,
    topic, transfer_of,
)

__all__ = ["TRANSFER_TOPIC", "AbiRegistry", "EventSpec", "decode_input", "decode_result", "decode_values", "encode_call",
           "parse_call", "selector", "topic", "transfer_of"]
