"""Chain listeners: JSON-RPC client, block follower (checkpointed, reorg-safe), mempool follower."""
