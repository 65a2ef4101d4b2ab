"""Errors a user can act on: one line naming what is wrong and how to fix it."""


class WatchdogError(Exception):
    """Base for every error shown to the user as one line (no stack trace); exit code 2."""

    exit_code = 2


class ConfigError(WatchdogError):
    """The configuration (TOML, manifest, ABI) is malformed."""


class ToolchainError(WatchdogError):
    """A required tool (anvil, forge, solc-js, slither) is missing or broken."""


class RpcError(WatchdogError):
    """A JSON-RPC endpoint failed or answered with an error."""
