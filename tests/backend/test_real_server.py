"""The backend client against ``FaultServer``, a real HTTP server on loopback, because
hangs, trickles and resets only happen on real sockets: deadlines, broken bodies, size caps,
pooling and threads."""

import gzip
import json
import threading
import time

import pytest
import requests

from fulfillment.backend import backend_calls, reset
from fulfillment.deadline import Deadline
from fulfillment.errors import BackendError, BadBackendData, NotFound, Timeout, Unavailable
from tests.backend.kit import TOLERANCE_S, store
from tests.fault_server import Reply, closed_port_url


def test_hung_backend_times_out_at_the_deadline(real):
    real.route("/hang", Reply(hang=True))

    started = time.monotonic()
    with Deadline(0.5), pytest.raises(Timeout) as caught:
        store().get_json("/hang")

    assert 0.45 <= time.monotonic() - started <= 0.5 + TOLERANCE_S
    assert caught.value.system == "our order system"


def test_per_backend_timeout_caps_each_attempt(real, monkeypatch):
    monkeypatch.setenv("BACKEND_STORE_TIMEOUT_S", "0.2")
    monkeypatch.setenv("BACKEND_STORE_RETRIES", "0")
    real.route("/hang-capped", Reply(hang=True))

    started = time.monotonic()
    with Deadline(3.0), pytest.raises(Timeout):
        store().get_json("/hang-capped")

    assert time.monotonic() - started <= 0.2 + TOLERANCE_S


def test_trickling_body_is_cut_at_the_deadline(real):
    # Headers at once, then a byte every 100 ms: every single read succeeds in time, so only
    # a bound on the whole call stops it (the body alone would take 4 s).
    real.route("/trickle", Reply(trickle_ms=100, body=b'{"padding": "' + b"x" * 30 + b'"}'))

    started = time.monotonic()
    with backend_calls() as calls, Deadline(0.5), pytest.raises(Timeout):
        store().get_json("/trickle")

    assert time.monotonic() - started <= 0.5 + TOLERANCE_S
    assert calls[0]["attempts"] == 1  # the deadline left no room for a retry


def test_trickling_headers_are_cut_at_the_deadline(real):
    real.route("/trickle-head", Reply(trickle_ms=50, trickle_headers=True, body=b"{}"))

    started = time.monotonic()
    with Deadline(0.5), pytest.raises(Timeout):
        store().get_json("/trickle-head")

    assert time.monotonic() - started <= 0.5 + TOLERANCE_S


def test_the_client_recovers_after_a_timeout(real):
    real.route("/trickle-then-ok", Reply(trickle_ms=100, body=b"{}" * 20))
    real.route("/fine", Reply(json={"ok": True}))

    with Deadline(0.3), pytest.raises(Timeout):
        store().get_json("/trickle-then-ok")

    assert store().get_json("/fine") == {"ok": True}


def test_reset_mid_body_is_unavailable_and_a_read_retries_it(real, no_backoff):
    # Unavailable, not BadBackendData: the transport broke, the backend did not send a wrong
    # answer; the same read a moment later can succeed, which is what Unavailable promises.
    body = json.dumps({"items": ["x" * 40] * 100}).encode()
    real.route("/reset-once", Reply(reset_mid_body=True, body=body), Reply(body=body))
    real.route("/reset-always", Reply(reset_mid_body=True, body=body))

    assert store().get_json("/reset-once") == json.loads(body)
    with pytest.raises(Unavailable) as caught:
        store().post_json("/reset-always", {})
    assert type(caught.value) is Unavailable and caught.value.status == 200
    assert real.hits("/reset-always") == 1


def test_concurrent_misses_of_one_cached_key_make_one_fetch(real):
    from concurrent.futures import ThreadPoolExecutor

    real.route("/weather/current", Reply(json={"temp_c": 4}, delay_s=0.3))

    def ask(_):
        return store().get_json("/weather/current", params={"city": "Oslo"}, cache_ttl=60)

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(ask, range(10)))

    assert answers == [{"temp_c": 4}] * 10
    assert real.hits("/weather/current") == 1  # billed per call: one call


@pytest.mark.parametrize(("status", "error", "hits"), [(404, NotFound, 1), (503, Unavailable, 3)])
def test_concurrent_misses_of_one_cached_key_share_its_failure_too(real, no_backoff, status, error, hits):
    # An unknown city, or a weather API that is down: ten callers at once are one call (and
    # its retries), not ten; each still hears the failure, and it is not cached.
    from concurrent.futures import ThreadPoolExecutor

    path = f"/weather/current-{status}"  # hits are counted per path, for the server's life
    real.route(path, Reply(status=status, json={"error": "x"}, delay_s=0.3))

    def ask(_):
        with backend_calls() as calls:
            try:
                store().get_json(path, params={"city": "Atlantis"}, cache_ttl=60)
            except BackendError as err:
                return type(err), len(calls)
        return None, len(calls)

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(ask, range(10)))

    assert answers == [(error, 1)] * 10  # each call's log line still names the backend call
    assert real.hits(path) == hits


def test_a_body_cut_short_of_its_content_length_is_unavailable_and_a_read_retries_it(real, no_backoff):
    # Complete-looking JSON, then the connection ends 500 bytes early: not an answer.
    body = b'{"status": "shipped"}'
    short = Reply(body=body, send_length=False, headers={"Content-Length": str(len(body) + 500)})
    real.route("/short-once", short, Reply(body=body))
    real.route("/short-always", short)

    assert store().get_json("/short-once") == {"status": "shipped"}
    assert real.hits("/short-once") == 2
    with pytest.raises(Unavailable):
        store().get_json("/short-always")


def test_a_content_length_that_is_not_a_number_is_ignored_not_a_crash(real, no_backoff):
    # "²" passes str.isdigit() and fails int(). http.client ignores such a length and reads
    # to the end of the connection; the size cap must not raise a ValueError first.
    reply = Reply(json={"status": "shipped"}, send_length=False, headers={"Content-Length": "²"})
    real.route("/superscript", reply)

    assert store().get_json("/superscript") == {"status": "shipped"}


def test_connection_closed_before_answering_is_unavailable(real, no_backoff):
    real.route("/drop", Reply(close_before_answer=True))

    with pytest.raises(Unavailable) as caught:
        store().get_json("/drop")

    assert type(caught.value) is Unavailable and caught.value.status is None
    assert real.hits("/drop") == 3


def test_connection_refused_is_unavailable_fast(monkeypatch):
    monkeypatch.setenv("BACKEND_STORE_URL", closed_port_url())
    monkeypatch.setenv("BACKEND_STORE_RETRIES", "0")

    started = time.monotonic()
    with pytest.raises(Unavailable) as caught:
        store().get_json("/orders/ORD-1")

    assert type(caught.value) is Unavailable
    assert time.monotonic() - started < 0.1


def test_post_with_key_retries_a_refused_connection_and_without_key_does_not(monkeypatch, no_backoff):
    monkeypatch.setenv("BACKEND_STORE_URL", closed_port_url())

    with backend_calls() as calls:
        for key in ("k" * 32, None):
            with pytest.raises(Unavailable):
                store().post_json("/orders/ORD-1/returns", {}, idempotency_key=key)

    assert [c["attempts"] for c in calls] == [3, 1]


def test_huge_declared_body_is_refused_without_reading_it(real):
    real.route("/huge", Reply(size=10 * 1024 * 1024))

    started = time.monotonic()
    with pytest.raises(BadBackendData):
        store().get_json("/huge")

    assert time.monotonic() - started < 0.5
    time.sleep(0.05)  # let the server notice the closed connection
    assert real.body_bytes_sent["/huge"] < 10 * 1024 * 1024


def test_endless_body_is_cut_at_the_cap_not_at_the_deadline(real):
    # No Content-Length and no end: only counting the bytes as they come can stop this.
    real.route("/endless", Reply(endless=True))

    started = time.monotonic()
    with Deadline(3.0), pytest.raises(BadBackendData):
        store().get_json("/endless")

    assert time.monotonic() - started < 1.0


def test_compressed_body_is_capped_after_decompression(real):
    bomb = gzip.compress(b" " * (5 * 1024 * 1024), compresslevel=1)
    real.route("/bomb", Reply(body=bomb, headers={"Content-Encoding": "gzip"}))

    with pytest.raises(BadBackendData):
        store().get_json("/bomb")


def test_wrong_content_type_from_a_real_server(real):
    real.route("/html", Reply(body=b"<html>Sign in</html>", content_type="text/html; charset=utf-8"))

    with pytest.raises(BadBackendData):
        store().get_json("/html")


def test_connections_are_pooled_and_reused(real):
    real.route("/pooled", Reply(json={"n": 1}))
    store().get_json("/pooled")  # warm: one connection
    before = real.connections

    for _ in range(20):
        store().get_json("/pooled")

    assert real.connections == before


def test_32_threads_share_one_session(real, monkeypatch):
    created = []

    class CountingSession(requests.Session):
        def __init__(self):
            created.append(self)
            super().__init__()

    monkeypatch.setattr(requests, "Session", CountingSession)
    reset()
    real.route("/busy", Reply(json={"ok": True}, delay_s=0.02))
    before = real.connections
    start = threading.Barrier(32)
    results, errors = [], []

    def worker():
        start.wait()
        try:
            for _ in range(4):
                results.append(store().get_json("/busy"))
        except Exception as err:
            errors.append(err)

    threads = [threading.Thread(target=worker) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(results) == 128 and all(r == {"ok": True} for r in results)
    assert len(created) == 1
    assert real.connections - before <= 32  # each thread reuses its pooled connection
