"""Run the demo store in the foreground: ``python -m demo_store --port 8081``.

It prints its URL and credentials once, then serves until Ctrl-C or SIGTERM:

    $ python -m demo_store --port 8081
    demo store listening on http://127.0.0.1:8081
    booking token (POST /appointments, "Authorization: Bearer <token>"): 3Jw...
    weather key (GET /weather/current, "X-API-Key: <key>"): q8Z...
"""

import argparse
import logging
import signal
import sys
import threading

from demo_store.server import start


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m demo_store", description="Run the demo store API.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument(
        "--port", type=int, default=8081, help="port to listen on, 0 for any (default: %(default)s)"
    )
    # Fixed credentials let a webhook started separately be configured once; by default they
    # are random on every start.
    parser.add_argument("--booking-token", help="bearer token for POST /appointments (default: random)")
    parser.add_argument("--weather-key", help="X-API-Key for GET /weather/current (default: random)")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        store = start(args.host, args.port, booking_token=args.booking_token, weather_key=args.weather_key)
    except OSError as error:
        parser.exit(1, f"cannot listen on {args.host}:{args.port}: {error}\n")
    print(f"demo store listening on {store.url}")
    print(f'booking token (POST /appointments, "Authorization: Bearer <token>"): {store.booking_token}')
    print(f'weather key (GET /weather/current, "X-API-Key: <key>"): {store.weather_key}', flush=True)

    stop_requested = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop_requested.set())
    try:
        stop_requested.wait()
    except KeyboardInterrupt:
        pass
    finally:
        store.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
