"""The responder's JSON-RPC client: failover between endpoints, revert reasons, no API key in errors."""

from __future__ import annotations

import pytest

from watchdog.devnet import Anvil
from watchdog.devnet.anvil import free_port
from watchdog.errors import RpcError
from watchdog.respond.rpc import CallReverted, Rpc


def test_a_dead_endpoint_fails_over_to_the_next(anvil: Anvil) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v3/secret-api-key"
    rpc = Rpc([dead, anvil.url])
    assert rpc.block_number() == anvil.block_number()
    dead_health, live_health = rpc.client.health()
    assert not dead_health["healthy"] and live_health["healthy"]  # the live endpoint is preferred from now on
    with pytest.raises(RpcError) as info:
        Rpc(dead).block_number()
    assert "secret-api-key" not in str(info.value) and "127.0.0.1" in str(info.value)


def test_revert_reason_is_decoded(anvil: Anvil) -> None:
    # a contract whose code is REVERT with Error("no") in memory
    payload = bytes.fromhex("08c379a0") + (32).to_bytes(32, "big") + (2).to_bytes(32, "big") + b"no".ljust(32, b"\0")
    code = b"".join(bytes([0x7F]) + payload[i:i + 32].ljust(32, b"\0") + bytes([0x60, i, 0x52]) for i in range(0, len(payload), 32))
    code += bytes([0x60, len(payload), 0x60, 0x00, 0xFD])
    target = "0x" + "12" * 20
    anvil.rpc("anvil_setCode", [target, "0x" + code.hex()])
    with pytest.raises(CallReverted) as info:
        Rpc(anvil.url).eth_call(target, "0x")
    assert info.value.reason == "no"
