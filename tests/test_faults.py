"""Fault injection: a real backend misbehaves; the caller still gets a true answer, in time, once.

The store backend is ``FaultServer``, a real HTTP server on loopback, so hangs, trickles,
resets and refused connections happen on real sockets. The webhook is the real router and the
real ``lookup-order`` and ``process-return`` handlers, served over the HTTP face, with
``WEBHOOK_TIMEOUT_S=2`` (a 1.25 s budget for backends) to keep the tests fast.

For every fault: 200, a response the proto accepts, the right ``webhook_outcome`` and sentence,
and the answer inside Dialogflow's timeout. For the side effect (a return is a POST): the fault
server counts POSTs; a timeout or reset after the POST left must not send it again within the
call, a repeated call for a finished turn must not send it again at all, and a repeat after a
failure may send it again only with the same ``Idempotency-Key``.
"""

import itertools
import os
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import flask
import pytest
import requests

from fulfillment.app import WebhookApp
from fulfillment.backend import reset
from fulfillment.config import Settings
from handlers import orders
from tests.conftest import ROOT, assert_valid_response, cx_request, outcome_of, post, texts_of
from tests.fault_server import FaultServer, Reply, closed_port_url

WEBHOOK_TIMEOUT_S = 2.0
BUDGET_S = WEBHOOK_TIMEOUT_S - Settings.safety_margin_s  # what backends may use: 1.25 s
# How far past the budget an answer may come: building it, thread wake-ups, the loopback hop.
# It must still be inside WEBHOOK_TIMEOUT_S, which is what Dialogflow waits.
SLACK_S = 0.5

# No order_id: each test asks for an order number of its own, and an answer naming another
# order is refused (handlers check what the backend echoes).
ORDER = {
    "status": "shipped",
    "tracking_number": "1Z999",
    "estimated_delivery": "2026-11-30",
}
RETURN_CREATED = {"return_id": "RET-77", "refund_amount": 89.99, "currency": "USD"}

UNAVAILABLE = "our order system isn't answering right now"
TIMEOUT = "our order system is taking too long to answer"
UNREADABLE = "our order system gave me an answer I couldn't read"

_order_numbers = itertools.count(2000)


@pytest.fixture(scope="module")
def server():
    with FaultServer() as running:
        yield running


@pytest.fixture
def order_id():
    """A fresh order id per test, so routes and hit counts on the shared server never mix."""
    return f"ORD-{next(_order_numbers)}"


def serve(webhook):
    """A client for ``webhook`` behind Flask, as functions-framework serves ``main.webhook``."""
    flask_app = flask.Flask("faults")
    flask_app.add_url_rule(
        "/", "webhook", lambda: webhook.handle_http(flask.request), methods=["GET", "POST"]
    )
    return flask_app


@pytest.fixture
def http(server, monkeypatch):
    """The real handlers, a 2 s webhook timeout, the store backend at the fault server."""
    for name in list(os.environ):
        if name.startswith("BACKEND_") or name == "DEMO_STORE":
            monkeypatch.delenv(name)
    monkeypatch.setenv("BACKEND_STORE_URL", server.url)
    monkeypatch.setenv("DEMO_STORE", "off")  # a wrong URL must fail, not fall back to the demo
    reset()
    webhook = WebhookApp(
        settings=Settings.from_env({"AUTH_MODES": "none", "WEBHOOK_TIMEOUT_S": str(WEBHOOK_TIMEOUT_S)})
    )
    webhook.tag("lookup-order")(orders.lookup_order)
    webhook.tag("process-return", side_effects=True)(orders.process_return)
    assert webhook.settings.budget_s == pytest.approx(BUDGET_S)
    flask_app = serve(webhook)
    yield flask_app
    reset()


def ask(flask_app, tag, params, response_id=None):
    """One webhook call; ``(answer, seconds)``. Any status but 200 fails the test."""
    body = cx_request(tag, params, response_id=response_id or f"turn-{uuid.uuid4()}")
    started = time.monotonic()
    response = post(flask_app.test_client(), body)
    elapsed = time.monotonic() - started
    assert response.status_code == 200, (response.status_code, response.data[:300])
    return assert_valid_response(response.data), elapsed


def posts_to(server, path):
    return [seen for seen in server.seen if seen.method == "POST" and seen.path == path]


# --- reads: lookup-order -----------------------------------------------------------------------

READ_FAULTS = {
    # name: (replies, outcome, words the caller hears)
    "slow but within the budget": ([Reply(json=ORDER, delay_s=0.6)], "ok", "has shipped"),
    "404": ([Reply(status=404, json={"code": "not-found"})], "not-found", "couldn't find order"),
    "hung": ([Reply(hang=True)], "timeout", TIMEOUT),
    "headers then a byte every 100 ms": ([Reply(json=ORDER, trickle_ms=100)], "timeout", TIMEOUT),
    "status line a byte every 100 ms": ([Reply(json=ORDER, trickle_ms=100, trickle_headers=True)], "timeout", TIMEOUT),
    "closed before answering": ([Reply(close_before_answer=True)], "unavailable", UNAVAILABLE),
    "reset mid-body": ([Reply(json={**ORDER, "pad": "x" * 4000}, reset_mid_body=True)], "unavailable", UNAVAILABLE),
    "500": ([Reply(status=500, json={"error": "boom"})], "unavailable", UNAVAILABLE),
    "502": ([Reply(status=502, body=b"<html>Bad gateway</html>", content_type="text/html")], "unavailable", UNAVAILABLE),
    "503 with a long Retry-After": ([Reply(status=503, headers={"Retry-After": "120"})], "unavailable", UNAVAILABLE),
    "501": ([Reply(status=501)], "unavailable", UNAVAILABLE),
    "503 once, then fine": ([Reply(status=503), Reply(json=ORDER)], "ok", "has shipped"),
    "malformed JSON": ([Reply(body=b'{"status": "shipped",')], "bad-backend-data", UNREADABLE),
    "HTML with 200": ([Reply(body=b"<html>Sign in</html>", content_type="text/html")], "bad-backend-data", UNREADABLE),
    "a list instead of an object": ([Reply(json=["shipped"])], "bad-backend-data", UNREADABLE),
    "status of the wrong type": ([Reply(json={**ORDER, "status": 3})], "bad-backend-data", UNREADABLE),
    "no status": ([Reply(json={"order_id": "ORD-0"})], "bad-backend-data", UNREADABLE),
    "tracking number of the wrong type": ([Reply(json={**ORDER, "tracking_number": {"n": 1}})], "bad-backend-data", UNREADABLE),
    "204 without a body": ([Reply(status=204, content_type="")], "bad-backend-data", UNREADABLE),
    "redirect": ([Reply(status=302, headers={"Location": "http://127.0.0.1:9/"})], "bad-backend-data", UNREADABLE),
    "a 10 MB body": ([Reply(size=10 * 1024 * 1024)], "bad-backend-data", UNREADABLE),
    "an endless body": ([Reply(endless=True)], "bad-backend-data", UNREADABLE),
}  # fmt: skip


@pytest.mark.parametrize("fault", READ_FAULTS, ids=str)
def test_a_backend_fault_on_a_read_ends_in_a_true_answer_in_time(http, server, order_id, fault):
    replies, outcome, words = READ_FAULTS[fault]
    server.route(f"/orders/{order_id}", *replies)

    answer, elapsed = ask(http, "lookup-order", {"order_id": order_id})

    assert outcome_of(answer) == outcome, texts_of(answer)
    assert words in texts_of(answer)[0]
    assert elapsed < WEBHOOK_TIMEOUT_S, f"answered after {elapsed:.2f} s"
    if outcome == "timeout":
        # It waited for the backend as long as the budget allowed, not less, and no longer.
        assert BUDGET_S - 0.1 <= elapsed <= BUDGET_S + SLACK_S


def test_a_refused_connection_is_unavailable_at_once(http, monkeypatch, order_id):
    monkeypatch.setenv("BACKEND_STORE_URL", closed_port_url())
    reset()

    answer, elapsed = ask(http, "lookup-order", {"order_id": order_id})

    assert outcome_of(answer) == "unavailable" and UNAVAILABLE in texts_of(answer)[0]
    assert elapsed < 0.6  # two quick retries with backoff, never a wait for a timeout


def test_a_backend_whose_name_never_resolves_is_a_timeout_in_time(http, server, monkeypatch, order_id):
    """DNS that does not answer: the name lookup is inside the call's deadline too."""
    import socket

    real = socket.getaddrinfo
    released = threading.Event()

    def hung_dns(host, port, *args):
        if host != "store.hung-dns.test":
            return real(host, port, *args)
        if args[3:4] and args[3] & socket.AI_NUMERICHOST:
            raise socket.gaierror(socket.EAI_NONAME, "not an address")
        released.wait(30)  # then fails, without asking a real DNS server
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", hung_dns)
    monkeypatch.setenv("BACKEND_STORE_URL", server.url.replace("127.0.0.1", "store.hung-dns.test"))
    reset()
    try:
        answer, elapsed = ask(http, "lookup-order", {"order_id": order_id})
    finally:
        released.set()

    assert outcome_of(answer) == "timeout" and TIMEOUT in texts_of(answer)[0]
    assert elapsed < BUDGET_S + SLACK_S


def test_a_server_that_starts_dropping_requests_on_a_kept_alive_connection_is_unavailable(
    http, server, order_id
):
    """The read is sent again on a new connection, which is dropped too (found by --long)."""
    server.route(f"/orders/{order_id}", Reply(json=ORDER), Reply(close_before_answer=True))

    first, _ = ask(http, "lookup-order", {"order_id": order_id})
    second, elapsed = ask(http, "lookup-order", {"order_id": order_id})

    assert outcome_of(first) == "ok"
    assert outcome_of(second) == "unavailable" and UNAVAILABLE in texts_of(second)[0]
    assert elapsed < WEBHOOK_TIMEOUT_S


def test_a_10_mb_answer_is_not_downloaded(http, server, order_id):
    path = f"/orders/{order_id}"
    server.route(path, Reply(size=10 * 1024 * 1024))

    ask(http, "lookup-order", {"order_id": order_id})

    time.sleep(0.05)  # let the server notice the closed connection
    assert server.body_bytes_sent[path] < 10 * 1024 * 1024


def test_after_a_hung_backend_the_next_call_is_served_normally(http, server, order_id):
    server.route(f"/orders/{order_id}", Reply(hang=True), Reply(json=ORDER))

    first, _ = ask(http, "lookup-order", {"order_id": order_id})
    second, elapsed = ask(http, "lookup-order", {"order_id": order_id})

    assert outcome_of(first) == "timeout"
    assert outcome_of(second) == "ok" and elapsed < 0.5


# --- the side effect: process-return ---------------------------------------------------------------

POST_FAULTS = {
    "hung after the POST arrived": (Reply(hang=True), "timeout", TIMEOUT),
    "reset mid-body": (Reply(status=201, json={**RETURN_CREATED, "pad": "x" * 4000}, reset_mid_body=True),
                       "unavailable", UNAVAILABLE),
    "closed before answering": (Reply(close_before_answer=True), "unavailable", UNAVAILABLE),
    "503": (Reply(status=503, json={"error": "busy"}), "unavailable", UNAVAILABLE),
    "500": (Reply(status=500), "unavailable", UNAVAILABLE),
    "a byte every 100 ms": (Reply(status=201, json=RETURN_CREATED, trickle_ms=100), "timeout", TIMEOUT),
    "malformed JSON": (Reply(status=201, body=b'{"return_id": '), "bad-backend-data", UNREADABLE),
}  # fmt: skip


def return_params(order_id):
    return {"order_id": order_id, "item_id": "SKU-100", "return_reason": "too big"}


@pytest.mark.parametrize("fault", POST_FAULTS, ids=str)
def test_a_fault_after_the_post_left_never_sends_it_twice_within_the_call(http, server, order_id, fault):
    reply, outcome, words = POST_FAULTS[fault]
    path = f"/orders/{order_id}/returns"
    server.route(path, reply)

    answer, elapsed = ask(http, "process-return", return_params(order_id))

    assert outcome_of(answer) == outcome
    # It may have happened: the caller is not told to try again (words: what a read would say).
    assert words not in texts_of(answer)[0]
    assert texts_of(answer)[0].startswith("I'm sorry, I couldn't get a confirmation from our order system")
    assert elapsed < WEBHOOK_TIMEOUT_S
    assert len(posts_to(server, path)) == 1


def test_a_slow_post_within_the_budget_succeeds_once(http, server, order_id):
    path = f"/orders/{order_id}/returns"
    server.route(path, Reply(status=201, json=RETURN_CREATED, delay_s=0.6))

    answer, elapsed = ask(http, "process-return", return_params(order_id))

    assert outcome_of(answer) == "ok" and "RET-77" in texts_of(answer)[0]
    assert elapsed < WEBHOOK_TIMEOUT_S
    assert len(posts_to(server, path)) == 1


def test_a_repeated_call_for_a_finished_turn_is_answered_without_posting_again(http, server, order_id):
    path = f"/orders/{order_id}/returns"
    server.route(path, Reply(status=201, json=RETURN_CREATED))
    turn = f"turn-{uuid.uuid4()}"

    first, _ = ask(http, "process-return", return_params(order_id), response_id=turn)
    again, _ = ask(http, "process-return", return_params(order_id), response_id=turn)
    other_turn, _ = ask(http, "process-return", return_params(order_id))

    assert first == again and outcome_of(first) == "ok"
    assert outcome_of(other_turn) == "ok"
    sent = posts_to(server, path)
    assert len(sent) == 2  # the first turn once, the other turn once
    assert sent[0].headers["Idempotency-Key"] != sent[1].headers["Idempotency-Key"]


def test_concurrent_repeats_of_one_turn_post_once(http, server, order_id):
    path = f"/orders/{order_id}/returns"
    server.route(path, Reply(status=201, json=RETURN_CREATED, delay_s=0.3))
    turn = f"turn-{uuid.uuid4()}"

    with ThreadPoolExecutor(4) as pool:
        answers = list(
            pool.map(lambda _: ask(http, "process-return", return_params(order_id), turn)[0], range(4))
        )

    assert all(answer == answers[0] for answer in answers) and outcome_of(answers[0]) == "ok"
    assert len(posts_to(server, path)) == 1


def test_a_repeat_after_a_timeout_is_answered_from_memory_not_posted_again(http, server, order_id):
    # A timeout says nothing about whether the backend acted: the turn's answer repeats, the
    # write does not. (Across instances, the idempotency key lets the backend act once.)
    path = f"/orders/{order_id}/returns"
    server.route(path, Reply(hang=True), Reply(status=201, json=RETURN_CREATED))
    turn = f"turn-{uuid.uuid4()}"

    first, _ = ask(http, "process-return", return_params(order_id), response_id=turn)
    again, elapsed = ask(http, "process-return", return_params(order_id), response_id=turn)

    assert outcome_of(first) == "timeout" and again == first and elapsed < 1.0
    assert len(posts_to(server, path)) == 1


def test_a_refused_post_is_retried_only_because_it_never_left(http, monkeypatch, order_id):
    monkeypatch.setenv("BACKEND_STORE_URL", closed_port_url())
    reset()

    answer, elapsed = ask(http, "process-return", return_params(order_id))

    assert outcome_of(answer) == "unavailable" and elapsed < 1.0


# --- under load, through a real functions-framework server (pytest --long) ------------------------


@pytest.mark.slow
def test_many_concurrent_calls_against_a_hung_backend_all_answer_in_time(server, tmp_path):
    """32 calls at once, each stuck on a hung backend, through gunicorn with THREADS=32: every
    one answers 200 ``timeout`` within Dialogflow's timeout, and the service then recovers."""
    hung_order, fine_order = f"ORD-{next(_order_numbers)}", f"ORD-{next(_order_numbers)}"
    server.route(f"/orders/{hung_order}", Reply(hang=True))
    server.route(f"/orders/{fine_order}", Reply(json=ORDER))
    port = 18900 + os.getpid() % 90
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("BACKEND_", "AUTH_"))},
        "BACKEND_STORE_URL": server.url,
        "AUTH_MODES": "none",
        "WEBHOOK_TIMEOUT_S": str(WEBHOOK_TIMEOUT_S),
        "THREADS": "32",
    }
    launcher = os.path.join(os.path.dirname(sys.executable), "functions-framework")
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [launcher, "--source", "main.py", "--target", "webhook", "--port", str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 20
        while True:
            try:
                requests.get(url, timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, (tmp_path / "server.log").read_text()[-2000:]
                time.sleep(0.1)

        def call(order):
            body = cx_request("lookup-order", {"order_id": order}, response_id=f"turn-{uuid.uuid4()}")
            started = time.monotonic()
            response = requests.post(url, json=body, timeout=10)
            return response.status_code, response.json(), time.monotonic() - started

        barrier = threading.Barrier(32)

        def together(order):
            barrier.wait()
            return call(order)

        with ThreadPoolExecutor(32) as pool:
            results = list(pool.map(together, [hung_order] * 32))
        assert all(status == 200 for status, _, _ in results)
        assert all(outcome_of(answer) == "timeout" for _, answer, _ in results)
        slowest = max(elapsed for _, _, elapsed in results)
        assert slowest < WEBHOOK_TIMEOUT_S, f"slowest answer {slowest:.2f} s"

        status, answer, elapsed = call(fine_order)
        assert status == 200 and outcome_of(answer) == "ok" and elapsed < 0.5
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=10)
        log.close()


@pytest.mark.slow
def test_a_long_mix_of_faults_never_breaks_the_answer(http, server):
    """Fifteen rounds of every read fault in turn, on one client and connection pool:
    no fault leaves anything behind (a poisoned pooled connection, a stuck lock) that breaks a
    later call. Faults that cost most of the budget run five times each; the rest run all along."""
    costly_runs = {}
    for number in range(15 * len(READ_FAULTS)):
        fault = list(READ_FAULTS)[number % len(READ_FAULTS)]
        replies, outcome, words = READ_FAULTS[fault]
        if replies[0].hang or replies[0].trickle_ms or replies[0].delay_s:
            costly_runs[fault] = costly_runs.get(fault, 0) + 1
            if costly_runs[fault] > 5:
                continue
        order = f"ORD-{next(_order_numbers)}"
        server.route(f"/orders/{order}", *replies)
        answer, elapsed = ask(http, "lookup-order", {"order_id": order})
        assert outcome_of(answer) == outcome and words in texts_of(answer)[0], (number, fault)
        assert elapsed < WEBHOOK_TIMEOUT_S, (number, fault, elapsed)
