"""A lagging endpoint is a slow node, not a reorg: the follower never retracts findings because an endpoint
answers "no such block"; it waits for a caught-up endpoint, demotes the lagging one, and carries on."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures.chain.chainkit import Chain, findings, make_follower, values
from fixtures.chain.proxy import FlakyProxy

from watchdog.chain.rpc import RpcClient, RpcLagging
from watchdog.devnet import Anvil
from watchdog.store import FindingStatus


def test_an_endpoint_behind_the_checkpoint_is_waited_for_not_rolled_back(fresh_anvil: Anvil, tmp_path: Path) -> None:
    chain = Chain(fresh_anvil)
    for value in (1, 2, 3):
        chain.transfer(value)
    good = make_follower(fresh_anvil, chain, tmp_path)
    good.run_until()
    checkpoint = good.checkpoint
    good.close()

    proxy = FlakyProxy(fresh_anvil.url, stale_head=checkpoint - 3)  # the only endpoint now lags 3 blocks
    try:
        lagging = make_follower(fresh_anvil, chain, tmp_path, store=good.store, rpc=RpcClient(proxy.url, retries=0))
        with pytest.raises(RpcLagging, match=f"reached block {checkpoint}"):
            lagging.step()
        assert lagging.checkpoint == checkpoint
        assert lagging.metrics.registry.get_sample_value("watchdog_reorgs_total", {"network": "local"}) is None
        assert all(r.status == FindingStatus.ACTIVE for r in findings(good.store))

        chain.transfer(4)
        proxy.stale_head = None  # the node caught up
        lagging.run_until()
        assert values(findings(good.store)) == [1, 2, 3, 4]  # nothing retracted, nothing stored twice
        assert all(r.status == FindingStatus.ACTIVE for r in findings(good.store))
    finally:
        proxy.close()


def test_a_lagging_endpoint_is_demoted_and_the_caught_up_one_followed(fresh_anvil: Anvil, tmp_path: Path) -> None:
    chain = Chain(fresh_anvil)
    start = fresh_anvil.block_number()
    proxy = FlakyProxy(fresh_anvil.url, stale_head=start)  # the primary stays at the start, forever behind
    try:
        rpc = RpcClient([proxy.url, fresh_anvil.url])
        follower = make_follower(fresh_anvil, chain, tmp_path, rpc=rpc)
        follower.run_until()
        for value in range(1, 6):
            chain.transfer(value)
            follower.run_until(fresh_anvil.block_number())
        assert values(findings(follower.store)) == [1, 2, 3, 4, 5]
        assert follower.checkpoint == fresh_anvil.block_number()
        assert follower.metrics.registry.get_sample_value("watchdog_reorgs_total", {"network": "local"}) is None
        health = {h["url"]: h for h in rpc.health()}
        assert health[proxy.url]["lagging"] and not health[fresh_anvil.url]["lagging"]
        assert rpc._ranked()[0].url == fresh_anvil.url  # the primary is demoted while it lags
    finally:
        proxy.close()
