"""Recovery that proves the fix: checks that must hold before a pause is lifted (evaluated live), a replay of the
incident's attack transactions on a fork of the current state with the pause lifted, and the Safe's unpause
drafted only when every check holds and the replay fails."""

from watchdog.recovery.plan import RecoveryOptions, markdown_lines, recover

__all__ = ["RecoveryOptions", "markdown_lines", "recover"]
