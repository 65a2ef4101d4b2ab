"""The scan worker: `python -m watchdog.scan.worker` reads a request on stdin and writes JSON on stdout.

It runs under the limits of watchdog.scan.limits, from reading the sources to the last detector; a user error
comes back as {"error": "one line"} ("input": true when the sources themselves are at fault).
"""

from __future__ import annotations

import json
import sys

from watchdog.errors import WatchdogError
from watchdog.scan.sources import ScanInputError


def main() -> None:
    request = json.load(sys.stdin)
    try:
        from watchdog.scan.scanner import scan_sources

        response = scan_sources(request)
    except ScanInputError as exc:
        response = {"error": str(exc), "input": True}
    except WatchdogError as exc:
        response = {"error": str(exc)}
    except RecursionError:
        response = {"error": "the sources nest too deeply for analysis (recursion limit): scan smaller files"}
    except Exception as exc:  # slither crashes on exotic input; report it as one line, not a trace
        response = {"error": f"analysis failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}
    sys.stdout.write(json.dumps(response))


if __name__ == "__main__":
    main()
