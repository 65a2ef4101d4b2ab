"""The scan worker: `python -m watchdog.scan.worker` reads a request on stdin and writes JSON on stdout.

It runs under the limits of watchdog.scan.limits; a user error comes back as {"error": "one line"}.
"""

from __future__ import annotations

import json
import sys

from watchdog.errors import WatchdogError


def main() -> None:
    request = json.load(sys.stdin)
    try:
        from watchdog.scan import analyze  # slither is heavy: import it inside the limits

        response = analyze.run(request)
    except WatchdogError as exc:
        response = {"error": str(exc)}
    except RecursionError:
        response = {"error": "the sources nest too deeply for analysis (recursion limit): scan smaller files"}
    except Exception as exc:  # slither crashes on exotic input; report it as one line, not a trace
        response = {"error": f"analysis failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}
    sys.stdout.write(json.dumps(response))


if __name__ == "__main__":
    main()
