"""``python -m router``: the platform's router in the foreground, for ``deisctl up``.

Starts both nginx masters (routing tier and edge) with ``$DEIS_HOME/router`` as prefix on
``DEIS_ROUTER_PORT``, and stops them both on SIGTERM/SIGINT or when either one dies.
"""
from __future__ import annotations

import logging
import signal
import sys
import threading

from deiscore import settings as platform_settings
from router.router import Router


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return Router.from_settings(platform_settings.load()).serve(stop)


if __name__ == "__main__":
    sys.exit(main())
