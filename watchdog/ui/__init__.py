"""The web page for signers and responders: incidents with their timeline and attack stages, findings with
evidence, what each affected protocol holds at risk, Safe proposals with the safeTxHash recomputed in the page,
recovery plans. Read-only without a token; every write (acknowledge, note, resolve) needs the token and is
audited. `create_app` gives the Starlette app (mount it anywhere), `UiServer` serves it in a thread."""

from watchdog.ui.app import create_app
from watchdog.ui.server import UiServer

__all__ = ["UiServer", "create_app"]
