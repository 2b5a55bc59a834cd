"""Starting and stopping stores, the shared store, importing the package, the command line."""

import select
import socket
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

import demo_store
from demo_store import server as store_server
from tests.store.kit import TIMEOUT, Clock, answer, appointment, get, noon_today, weather

REPO = Path(__file__).resolve().parents[2]


def test_each_start_is_a_new_store_with_its_own_secrets(store):
    other = demo_store.start()
    try:
        assert other.url != store.url
        assert other.booking_token != store.booking_token
        assert other.weather_key != store.weather_key
        assert answer(weather(other, "Paris", key=store.weather_key), 401)
        assert answer(weather(other, "Paris"), 200)
    finally:
        other.stop()


def test_stop_closes_the_port_and_hangs_up_on_kept_alive_clients():
    stopped = demo_store.start()
    with requests.Session() as session:
        answer(session.get(stopped.url + "/healthz", timeout=TIMEOUT), 200)
        stopped.stop()
        stopped.stop()  # again: nothing happens
        assert not stopped.running
        with pytest.raises(requests.ConnectionError):
            session.get(stopped.url + "/healthz", timeout=TIMEOUT)
    with pytest.raises(requests.ConnectionError):
        requests.get(stopped.url + "/healthz", timeout=TIMEOUT)


def test_a_store_works_as_a_context_manager():
    with demo_store.start() as running:
        assert answer(get(running, "/healthz"), 200)
    assert not running.running


def test_shared_starts_one_store_for_all_threads(monkeypatch):
    monkeypatch.setattr(store_server, "_shared", None)
    started = []
    real_start = store_server.start

    def counting_start(*args, **kwargs):
        started.append(real_start(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(store_server, "start", counting_start)
    barrier = threading.Barrier(8)

    def call_shared(_):
        barrier.wait()
        return demo_store.shared()

    try:
        with ThreadPoolExecutor(8) as pool:
            stores = list(pool.map(call_shared, range(8)))
        assert len(started) == 1
        assert all(one is started[0] for one in stores)
        assert answer(get(stores[0], "/healthz"), 200)
    finally:
        for one in started:
            one.stop()


def test_shared_replaces_a_stopped_store(monkeypatch):
    stopped = demo_store.start()
    stopped.stop()
    monkeypatch.setattr(store_server, "_shared", stopped)
    replacement = demo_store.shared()
    try:
        assert replacement is not stopped
        assert replacement.running
        assert demo_store.shared() is replacement
    finally:
        replacement.stop()


def test_importing_the_package_starts_nothing():
    check = (
        "import sys, threading, demo_store\n"
        "assert threading.active_count() == 1, threading.enumerate()\n"
        "assert 'demo_store.server' not in sys.modules and 'sqlite3' not in sys.modules\n"
        "assert callable(demo_store.start) and 'demo_store.server' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", check], cwd=REPO, check=True, timeout=30)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_command_line_runs_a_store_until_terminated():
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "demo_store", "--port", str(port), "--weather-key", "fixed-key"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready, _, _ = select.select([process.stdout], [], [], 20)
        assert ready, "the store printed nothing"
        assert process.stdout.readline().strip() == f"demo store listening on http://127.0.0.1:{port}"
        token_line = process.stdout.readline()
        assert "Bearer" in token_line
        assert process.stdout.readline().strip().endswith(": fixed-key")
        url = f"http://127.0.0.1:{port}"
        assert answer(requests.get(url + "/healthz", timeout=TIMEOUT), 200) == {"status": "ok"}
        token = token_line.rsplit(" ", 1)[1].strip()
        body = appointment(Clock(noon_today()), 3, "09:30", "haircut")
        assert answer(
            requests.post(
                url + "/appointments",
                json=body,
                headers={"Authorization": f"Bearer {token}"},
                timeout=TIMEOUT,
            ),
            201,
        )
        headers = {"X-API-Key": "fixed-key"}
        assert answer(requests.get(url + "/weather/current?city=Oslo", headers=headers, timeout=TIMEOUT), 200)
        process.terminate()
        assert process.wait(timeout=10) == 0
        assert process.stdout.read() == ""  # the URL and keys are printed once
        assert process.stderr.read() == ""
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()


def test_the_command_line_reports_a_port_in_use():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "demo_store", "--port", str(port)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
