"""Forensics of one transaction: the decoded call tree, token and coin flows netted per address (priced in the
quote asset where a price source is known), the price sources it moved, the contracts it created, the attacker
cluster behind it, and a root-cause line drawn from the rules' evidence."""

from watchdog.forensics.report import investigate, markdown_lines, of_findings

__all__ = ["investigate", "markdown_lines", "of_findings"]
