"""What the backend client's tests share: where ``responses`` hooks in, the store's fake
address, how late a deadline-bounded call may return, the ``store`` backend, and a
connection that never opened."""

import requests
import urllib3.exceptions

from fulfillment.backend import backend

# responses replaces the send() of the transport adapter our backend session mounts.
TRANSPORT = "fulfillment.transport.PooledAdapter.send"

STORE = "http://store.test"
# How late a deadline-bounded call may return: thread wake-ups and the loopback round trip.
TOLERANCE_S = 0.2


def store():
    return backend("store", spoken_name="our order system")


def _never_connected():
    refused = urllib3.exceptions.NewConnectionError(None, "Connection refused")
    return requests.exceptions.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/", reason=refused))
