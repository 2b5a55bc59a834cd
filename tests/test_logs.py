"""Structured logs: the Cloud Logging shape, trace headers, concurrency, redaction."""

import io
import json
import logging
import os
import threading

import pytest

from fulfillment import Response, logs
from fulfillment.app import WebhookApp
from fulfillment.config import Settings
from tests.conftest import cx_request

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture(autouse=True)
def suite_logging_afterwards():
    """Give the tests that follow the suite's logging back (conftest: JSON, every line at once).

    A test here that ends with ``configure({"LOG_LEVEL": "INFO"})`` left lines held for 20 ms,
    and the flusher thread then wrote them whenever it woke: into a later test's captured output,
    or between tests onto the terminal.
    """
    yield
    logs.flush_logs()
    logs.configure()


@pytest.mark.parametrize(
    ("headers", "trace", "span", "sampled"),
    [
        ({"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01"}, TRACE_ID, "00f067aa0ba902b7", True),
        ({"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-00"}, TRACE_ID, "00f067aa0ba902b7", False),
        ({"X-Cloud-Trace-Context": f"{TRACE_ID}/1;o=1"}, TRACE_ID, "0000000000000001", True),
        (
            {"X-Cloud-Trace-Context": f"{TRACE_ID}/12345678901234567890;o=0"},
            TRACE_ID,
            "ab54a98ceb1f0ad2",
            False,
        ),
        ({"X-Cloud-Trace-Context": TRACE_ID}, TRACE_ID, "", None),
        # traceparent wins over X-Cloud-Trace-Context; a broken traceparent falls back.
        (
            {"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01", "X-Cloud-Trace-Context": "abc/2;o=1"},
            TRACE_ID,
            "00f067aa0ba902b7",
            True,
        ),
        ({"traceparent": "garbage", "X-Cloud-Trace-Context": "abc/2;o=1"}, "abc", "0000000000000002", True),
        ({"traceparent": f"00-{'0' * 32}-00f067aa0ba902b7-01"}, "", "", None),
        # What W3C Trace Context calls invalid falls back to the other header: an all-zero
        # parent id, version ff, extra fields on version 00. A later version's extra
        # fields are read past. An all-zero Cloud Trace id is no trace.
        *(
            ({"traceparent": parent, "X-Cloud-Trace-Context": "abc/2;o=1"}, "abc", "0000000000000002", True)
            for parent in (
                f"00-{TRACE_ID}-{'0' * 16}-01",
                f"ff-{TRACE_ID}-00f067aa0ba902b7-01",
                f"00-{TRACE_ID}-00f067aa0ba902b7-01-extra",
            )
        ),
        ({"traceparent": f"01-{TRACE_ID}-00f067aa0ba902b7-01-extra"}, TRACE_ID, "00f067aa0ba902b7", True),
        ({"X-Cloud-Trace-Context": f"{'0' * 32}/123;o=1"}, "", "", None),
        ({"X-Cloud-Trace-Context": "0/123;o=1"}, "", "", None),
        ({}, "", "", None),
    ],
)
def test_trace_headers_map_to_cloud_logging_fields(headers, trace, span, sampled):
    full, span_id, is_sampled = logs.parse_trace(headers, "my-project")
    assert full == (f"projects/my-project/traces/{trace}" if trace else "")
    assert (span_id, is_sampled) == (span, sampled)


def test_decimal_span_ids_are_converted_to_16_hex_digits():
    _, span, _ = logs.parse_trace({"X-Cloud-Trace-Context": "abc/18446744073709551615;o=1"}, "p")
    assert span == "ffffffffffffffff"
    _, span, _ = logs.parse_trace({"X-Cloud-Trace-Context": "abc/18446744073709551616;o=1"}, "p")
    assert span == ""  # out of range: dropped, not wrapped


def test_without_a_project_the_trace_field_is_the_bare_trace_id():
    """As google-cloud-logging's CloudLoggingFilter writes it: unlinked, but searchable."""
    assert logs.parse_trace({"X-Cloud-Trace-Context": f"{TRACE_ID}/1;o=1"}, "")[0] == TRACE_ID
    assert logs.parse_trace({"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01"}, "")[0] == TRACE_ID
    assert logs.parse_trace({}, "")[0] == ""


def test_records_carry_severity_message_trace_labels_and_tracebacks(captured):
    headers = {"X-Cloud-Trace-Context": f"{TRACE_ID}/1;o=1"}
    with logs.call_context(headers, project="p", labels={"tag": "lookup-order"}):
        logging.getLogger("handlers.orders").warning("order system slow: %d ms", 900)
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logging.getLogger("handlers.orders").exception("failed")
    first, second = captured()
    assert first["severity"] == "WARNING" and first["message"] == "order system slow: 900 ms"
    assert first[logs.TRACE] == f"projects/p/traces/{TRACE_ID}"
    assert first[logs.SPAN_ID] == "0000000000000001" and first[logs.TRACE_SAMPLED] is True
    assert first[logs.LABELS] == {"tag": "lookup-order"}
    assert second["severity"] == "ERROR" and "RuntimeError: (message withheld" in second["stack_trace"]
    assert "\n" not in json.dumps(second)  # one line


def test_a_traceback_keeps_frames_and_types_but_no_message_that_may_quote_the_caller(captured):
    def parse_quantity(said):
        return int(said)

    said = "Ada Lovelace, 4111 1111 1111 1111"  # what a caller said, as a handler gets it
    try:
        try:
            parse_quantity(said)
        except ValueError as err:
            raise LookupError(f"no quantity in {err}") from err
    except LookupError:
        logging.getLogger("handlers.orders").exception("failed")
    [line] = captured()
    trace = line["stack_trace"]
    assert "Ada" not in trace and "4111" not in trace
    assert trace.startswith("Traceback (most recent call last):\n")
    assert "in parse_quantity\n    return int(said)\n" in trace
    assert "ValueError: (message withheld" in trace
    assert "The above exception was the direct cause of the following exception:" in trace
    assert trace.rstrip().endswith("LookupError: (message withheld: it may quote caller data)")


def test_a_line_stays_one_line_for_every_reader_whatever_a_request_held():
    # str.splitlines ends a line at each of these; Cloud Logging splits on \n only.
    odd = "tag\u2028with\u2029breaks\x85and\x0b\x0c\x1c\x1d\x1e\r\n é 日本 😀"
    formatter = logs.JsonFormatter()
    record = logging.LogRecord("fulfillment.call", logging.INFO, "", 0, odd, None, None)
    record.fields = {"call": {"tag": odd, "session_id": odd}}
    with logs.call_context(None, labels={"tag": odd}):
        line = formatter.format(record)
    assert line.isascii() and line.splitlines() == [line]
    entry = json.loads(line)
    assert entry["message"] == entry["call"]["tag"] == entry[logs.LABELS]["tag"] == odd


def test_text_format_is_one_readable_line():
    record = logging.LogRecord(
        "fulfillment.call", logging.INFO, __file__, 1, "lookup-order 200 ok", None, None
    )
    record.fields = {"call": {"tag": "lookup-order", "latency_ms": 3.2}}
    with logs.call_context(None, labels={"tag": "lookup-order"}):
        line = logs.TextFormatter().format(record)
    assert "\n" not in line and "INFO" in line and "[lookup-order]" in line and "latency_ms" in line


def test_a_line_break_from_a_request_cannot_forge_a_text_line():
    forged = "lookup-order\n12:00:00 ERROR   [admin] payment refunded\r\u2028\x0b\x1c\x85\x1b[2K"
    record = logging.LogRecord("fulfillment.call", logging.INFO, __file__, 1, f"{forged} 200 ok", None, None)
    record.fields = {"call": {"tag": forged, "session_id": forged}}
    with logs.call_context(None, labels={"tag": forged}):
        line = logs.TextFormatter().format(record)
    assert line.splitlines() == [line]
    assert "\x1b" not in line
    assert "lookup-order\\n12:00:00 ERROR" in line and "\\r\\u2028\\x0b\\x1c\\x85\\x1b[2K" in line


def test_configure_reads_level_and_format():
    handler = logs.configure({"LOG_LEVEL": "warning", "LOG_FORMAT": "text"})
    try:
        assert logging.getLogger().level == logging.WARNING
        assert isinstance(handler.formatter, logs.TextFormatter)
        again = logs.configure({})
        assert sum(getattr(h, "_fulfillment", False) for h in logging.getLogger().handlers) == 1
        assert isinstance(again.formatter, logs.JsonFormatter)
    finally:
        logs.configure({"LOG_LEVEL": "INFO"})
    with pytest.raises(ValueError, match="LOG_LEVEL"):
        logs.configure({"LOG_LEVEL": "LOUD"})
    with pytest.raises(ValueError, match="LOG_FORMAT must be json or text; got 'txt'"):
        logs.configure({"LOG_FORMAT": "txt"})


SECRETS = ("jane.doe@example.com", "4111 1111 1111 1111", "Jane Doe", "my home is 12 Elm St")


def http_request(body, headers):
    """A real werkzeug request, as functions-framework hands one to the function."""
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request

    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Request(
        EnvironBuilder(
            method="POST", data=data, headers={"Content-Type": "application/json", **headers}
        ).get_environ()
    )


def test_other_formatters_still_get_every_field_of_a_record():
    # configure() once turned off logging's process-wide thread and process lookups; then
    # gunicorn's own error log ("[%(process)d]") failed on every record it wrote, a worker
    # timeout included, and printed "--- Logging error ---" instead.
    import gunicorn.glogging

    logs.configure({"LOG_LEVEL": "INFO"})
    formatter = logging.Formatter(
        gunicorn.glogging.Logger.error_fmt
        + " %(thread)d %(threadName)s %(processName)s %(filename)s:%(lineno)d"
    )
    record = logging.getLogger("gunicorn.error").makeRecord(
        "gunicorn.error", logging.CRITICAL, __file__, 1, "WORKER TIMEOUT (pid:%s)", (42,), None
    )

    line = formatter.format(record)
    assert f"[{os.getpid()}] [CRITICAL] WORKER TIMEOUT (pid:42)" in line
    assert f"{threading.get_ident()} MainThread MainProcess" in line


def test_concurrent_calls_keep_their_own_trace_and_session_and_redact_values(captured):
    webhook = WebhookApp(
        settings=Settings.from_env(
            {"AUTH_MODES": "none", "GOOGLE_CLOUD_PROJECT": "p", "LOG_ALLOW_PARAMS": "order_id"}
        )
    )
    barrier = threading.Barrier(8)

    @webhook.tag("echo")
    def echo(request):
        barrier.wait(timeout=5)  # all eight calls are in flight at once
        logging.getLogger("handlers.test").info("handling %s", request.session_id)
        return Response("ok")

    def call(i):
        body = cx_request(
            "echo",
            {"email": SECRETS[0], "card": SECRETS[1], "name": SECRETS[2], "order_id": f"ORD-{i}", "n": i},
            text=SECRETS[3],
        )
        body["sessionInfo"]["session"] = f"projects/p/locations/l/agents/a/sessions/session-{i}"
        headers = {"traceparent": f"00-{i:032x}-{i:016x}-01", "Authorization": "Bearer secret-token-value"}
        webhook.handle_http(http_request(body, headers))

    threads = [threading.Thread(target=call, args=(i,)) for i in range(1, 9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    records = captured()
    handled = [r for r in records if r["message"].startswith("handling")]
    summaries = [r for r in records if r.get("call")]
    assert len(handled) == 8 and len(summaries) == 8
    for record in handled:
        i = int(record["message"].rsplit("-", 1)[1])
        assert record[logs.TRACE] == f"projects/p/traces/{i:032x}"
        assert record[logs.LABELS]["session_id"] == f"session-{i}"
    for record in summaries:
        call = record["call"]
        i = int(call["session_id"].rsplit("-", 1)[1])
        assert record[logs.TRACE] == f"projects/p/traces/{i:032x}" and record[logs.SPAN_ID] == f"{i:016x}"
        assert call["tag"] == "echo" and call["status"] == 200 and call["outcome"] == "ok"
        assert call["query_kind"] == "text" and call["language"] == "en"
        assert call["detect_intent_response_id"] and call["latency_ms"] >= 0
        assert call["session_params"]["order_id"] == f"ORD-{i}"  # allowlisted
        assert call["session_params"]["email"] == logs.REDACTED
        assert call["session_params"]["n"] == logs.REDACTED
    text = json.dumps(records)
    for secret in (*SECRETS, "secret-token-value"):
        assert secret not in text


@pytest.mark.parametrize(
    "value",
    ["jane@example.com", 42, 4.5, True, {"amount": 10, "currency": "USD"}, ["a", "b"], {"year": 2026}],
)
def test_redaction_holds_for_every_value_kind(value):
    assert logs.redact_params({"p": value}, allowed=frozenset()) == {"p": logs.REDACTED}
    allowed = logs.redact_params({"p": value}, allowed=frozenset({"p"}))
    # Allowed scalars pass; structures never do, even when allowed.
    assert allowed["p"] == (value if not isinstance(value, (dict, list)) else logs.REDACTED)


def test_a_bad_request_is_logged_without_the_values_it_quotes(captured):
    webhook = WebhookApp(settings=Settings.from_env({"AUTH_MODES": "none"}))
    body = {"fulfillmentInfo": {"tag": "x"}, "sentimentAnalysisResult": {"score": "jane@example.com"}}

    answer, status, _ = webhook.handle_http(http_request(body, {}))

    assert status == 400 and b"jane@example.com" in answer  # the caller may read its own value back
    (summary,) = [line for line in captured() if line.get("call")]
    assert (
        summary["call"]["error"] == 'not a WebhookRequest: sentimentAnalysisResult.score: not a number: "…"'
    )
    assert "jane" not in json.dumps(captured())


@pytest.mark.parametrize(
    "body",
    [
        {"sentimentAnalysisResult": {"score": 4111111111111111e30}},  # past a 32-bit float
        {"pageInfo": {"formInfo": {"parameterInfo": [{"displayName": "card", "state": 4111111111111111}]}}},
    ],
    ids=["float", "enum"],
)
def test_a_bad_request_is_logged_without_the_number_it_quotes(captured, body):
    webhook = WebhookApp(settings=Settings.from_env({"AUTH_MODES": "none"}))

    answer, status, _ = webhook.handle_http(http_request(body, {}))

    # The caller reads its own number back (the float as 4.111111111111111e+45).
    assert status == 400 and b"4111111111111111" in answer.replace(b".", b"")
    (summary,) = [line for line in captured() if line.get("call")]
    assert "… is out of range" in summary["call"]["error"]
    assert "41111" not in json.dumps(captured()).replace(".", "")


def test_a_bad_request_is_logged_without_the_keys_inside_a_parameter(captured):
    # A free-form value nested past protobuf's depth limit: the caller's 400 names the path;
    # the log names the parameter (the agent's own name) and none of the keys inside its value,
    # which are whatever the caller gave.
    webhook = WebhookApp(settings=Settings.from_env({"AUTH_MODES": "none"}))
    nested = 1
    for _ in range(120):
        nested = [nested]
    body = cx_request("lookup-order", params={"customer": {"ada_lovelace_078051120": nested}})

    answer, status, _ = webhook.handle_http(http_request(body, {}))

    assert status == 400 and b"ada_lovelace_078051120" in answer
    (summary,) = [line for line in captured() if line.get("call")]
    assert summary["call"]["error"].startswith(
        "not a WebhookRequest: sessionInfo.parameters.customer…: nested too deeply"
    )
    assert "ada" not in json.dumps(captured())


def test_a_refused_call_is_still_found_by_its_tag_session_and_turn(captured):
    webhook = WebhookApp(settings=Settings.from_env({"AUTH_MODES": "none"}))
    body = cx_request("lookup-order", params={"email": "jane@example.com"}, response_id="turn-7")
    body["sessionInfo"]["session"] = "projects/p/locations/global/agents/a/environments/e/sessions/sess-42"
    body["sentimentAnalysisResult"] = {"score": "high"}  # a wrong type: refused

    _, status, _ = webhook.handle_http(http_request(body, {}))

    (summary,) = [line for line in captured() if line.get("call")]
    assert status == 400 and summary["message"] == "lookup-order 400 bad-request"
    assert summary[logs.LABELS] == {"tag": "lookup-order", "session_id": "sess-42"}
    call = summary["call"]
    assert (call["tag"], call["session_id"], call["detect_intent_response_id"]) == (
        "lookup-order",
        "sess-42",
        "turn-7",
    )
    assert "jane" not in json.dumps(captured())  # identifiers only, never a parameter


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        json.dumps({"fulfillmentInfo": {"tag": 7}, "sessionInfo": ["x"], "text": 1}).encode(),
        json.dumps({"fulfillmentInfo": "lookup-order", "sessionInfo": {"session": None}, "text": 1}).encode(),
    ],
)
def test_a_refused_body_names_only_the_identifiers_it_holds_as_strings(captured, body):
    webhook = WebhookApp(settings=Settings.from_env({"AUTH_MODES": "none"}))

    _, status, _ = webhook.handle_http(http_request(body, {}))

    (summary,) = [line for line in captured() if line.get("call")]
    assert status == 400 and summary["message"] == "POST 400 bad-request"
    assert not {"tag", "session_id", "detect_intent_response_id"} & summary["call"].keys()
    assert logs.LABELS not in summary


def test_a_status_request_is_summed_up_without_an_outcome(captured):
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request

    webhook = WebhookApp(settings=Settings.from_env({"AUTH_MODES": "none"}))

    _, status, _ = webhook.handle_http(Request(EnvironBuilder(method="GET").get_environ()))

    (summary,) = [line for line in captured() if line.get("call")]
    assert status == 200 and summary["message"] == "GET 200"


def test_a_refused_bodys_identifiers_are_clipped(captured):
    webhook = WebhookApp(settings=Settings.from_env({"AUTH_MODES": "none"}))
    body = cx_request("t" * 5000)
    body["sessionInfo"]["session"] = "projects/p/locations/global/agents/a/sessions/" + "s" * 5000
    body["text"] = 1

    webhook.handle_http(http_request(body, {}))

    (summary,) = [line for line in captured() if line.get("call")]
    assert summary["call"]["tag"] == "t" * 100 and summary["call"]["session_id"] == "s" * 100


def test_backend_paths_lose_their_identifiers():
    assert logs.redact_path("/orders/ORD-1001/returns") == "/orders/:id/returns"
    assert logs.redact_path("/customers?email=jane@example.com") == "/customers"
    assert logs.redact_path("/accounts/ACC-12345678/transactions") == "/accounts/:id/transactions"
    # Ids without a digit: once logged as they came.
    assert logs.redact_path("/members/a b") == "/members/:id"
    assert logs.redact_path("/members/True/points") == "/members/:id/points"
    assert logs.redact_path("/customers/Jane.Doe") == "/customers/:id"
    assert logs.redact_path("/v1/weather/current") == "/v1/weather/current"


@pytest.mark.parametrize("unbuffered", ["1", ""], ids=["PYTHONUNBUFFERED", "buffered"])
def test_long_lines_from_many_threads_stay_whole_on_a_pipe(unbuffered):
    """Lines far over a pipe's atomic-write size, from 8 threads, each arrive whole."""
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    script = (
        "import logging, threading\n"
        "from fulfillment import logs\n"
        "logs.configure({'LOG_FORMAT': 'json'})\n"
        "blob = 'y' * 60_000\n"
        "def work(i):\n"
        "    for _ in range(10):\n"
        "        logging.getLogger('t').info('n%d', i, extra={'fields': {'blob': blob}})\n"
        "threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]\n"
        "[t.start() for t in threads]; [t.join() for t in threads]\n"
    )
    env = {**os.environ, "PYTHONUNBUFFERED": unbuffered, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, timeout=60, check=True)
    lines = out.stdout.decode().splitlines()
    assert len(lines) == 80
    assert all(json.loads(line)["blob"] == "y" * 60_000 for line in lines)


class _Stdout:
    """A stand-in for ``sys.stdout`` with a binary buffer, as ``LineWriter`` expects."""

    def __init__(self):
        self.buffer = io.BytesIO()

    def lines(self):
        return self.buffer.getvalue().decode().splitlines()


@pytest.fixture
def stdout():
    return _Stdout()


def _wait_for(condition, timeout_s=2.0):
    import time

    end = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < end:
        time.sleep(0.005)
    return condition()


def test_a_quiet_service_writes_each_line_at_once(stdout):
    writer = logs.LineWriter(hold_s=60, stream=stdout)
    writer.write("first\n")
    assert stdout.lines() == ["first"]


def test_lines_close_together_wait_then_go_out_together_in_order(stdout):
    writer = logs.LineWriter(hold_s=0.05, stream=stdout)
    writer.write("1\n")
    writer.write("2\n")
    writer.write("3\n")
    assert stdout.lines() == ["1"]  # 2 and 3 came within the hold
    assert _wait_for(lambda: stdout.lines() == ["1", "2", "3"])  # the flusher wrote them


def test_a_warning_is_written_at_once_after_the_lines_before_it(stdout):
    writer = logs.LineWriter(hold_s=60, stream=stdout)
    writer.write("a\n")
    writer.write("b\n")
    writer.write("warning\n", urgent=True)
    assert stdout.lines() == ["a", "b", "warning"]


def test_no_more_than_64_kib_waits(stdout):
    writer = logs.LineWriter(hold_s=60, stream=stdout)
    writer.write("start\n")
    line = "x" * 1023 + "\n"
    for _ in range(63):
        writer.write(line)
    assert stdout.lines() == ["start"]
    writer.write(line)  # the 64th KiB
    assert len(stdout.lines()) == 65


def test_flush_logs_and_a_zero_hold_write_everything(stdout):
    writer = logs.LineWriter(hold_s=60, stream=stdout)
    writer.write("a\n")
    writer.write("b\n")
    writer.flush()
    assert stdout.lines() == ["a", "b"]
    unheld = logs.LineWriter(hold_s=0, stream=stdout)
    for n in range(5):
        unheld.write(f"{n}\n")
    assert stdout.lines() == ["a", "b", "0", "1", "2", "3", "4"]


def test_log_flush_ms_sets_the_hold():
    try:
        logs.configure({"LOG_FLUSH_MS": "0"})
        assert logs._LINES.hold_s == 0
        with pytest.raises(ValueError, match="LOG_FLUSH_MS"):
            logs.configure({"LOG_FLUSH_MS": "soon"})
        # A hold of minutes would keep a call's line from anyone watching it live.
        with pytest.raises(ValueError, match="LOG_FLUSH_MS must be between 0 and 1000"):
            logs.configure({"LOG_FLUSH_MS": "60000"})
        logs.configure({"LOG_FLUSH_MS": "1000"})
        assert logs._LINES.hold_s == 1
        logs.configure({})
        assert logs._LINES.hold_s == logs.DEFAULT_FLUSH_MS / 1000
    finally:
        logs.configure({"LOG_LEVEL": "INFO"})


def test_a_burst_of_calls_is_all_written_whole_and_in_time(stdout):
    """Under load lines are gathered; every one still arrives whole within the hold."""
    writer = logs.LineWriter(hold_s=0.02, stream=stdout)
    threads = [
        threading.Thread(
            target=lambda i=i: [writer.write(json.dumps({"t": i, "n": n}) + "\n") for n in range(200)]
        )
        for i in range(8)
    ]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert _wait_for(lambda: len(stdout.lines()) == 1600)
    records = [json.loads(line) for line in stdout.lines()]
    for i in range(8):  # each thread's lines in the order it wrote them
        assert [r["n"] for r in records if r["t"] == i] == list(range(200))


def test_a_text_only_stdout_gets_each_line_at_once_in_its_own_write():
    """A wrapper around stdout may read one line per write, in the context of its call."""

    class TextOnly:
        def __init__(self):
            self.writes = []

        def write(self, text):
            self.writes.append(text)

        def flush(self):
            pass

    stream = TextOnly()
    writer = logs.LineWriter(hold_s=60, stream=stream)
    writer.write('{"n":1}\n')
    writer.write('{"n":2}\n')  # within the hold, yet not held: the stream is text-only
    assert stream.writes == ['{"n":1}\n', '{"n":2}\n']


def test_lines_go_past_functions_frameworks_execution_id_wrapper_unaltered(stdout):
    """LOG_EXECUTION_ID=true swaps stdout for a wrapper that re-encodes every line, adds a
    decimal span id and cannot be written in batches; our lines already carry its label."""
    from functions_framework.execution_id import LoggingHandlerAddExecutionId

    writer = logs.LineWriter(hold_s=60, stream=LoggingHandlerAddExecutionId(stdout))
    writer.write('{"n":1,"logging.googleapis.com/spanId":"0000000000003039"}\n')
    writer.write('{"n":2}\n')  # within the hold: gathered, as on any binary stdout
    assert stdout.lines() == ['{"n":1,"logging.googleapis.com/spanId":"0000000000003039"}']
    writer.flush()
    assert stdout.lines()[1:] == ['{"n":2}']


def test_configure_drops_functions_frameworks_second_copy_of_each_record():
    from functions_framework import execution_id

    root = logging.getLogger()
    echo = logging.StreamHandler(execution_id.logging_stream)  # what LOG_EXECUTION_ID adds
    other = logging.StreamHandler(io.StringIO())
    root.addHandler(echo)
    root.addHandler(other)
    try:
        logs.configure({})
        assert echo not in root.handlers
        assert other in root.handlers  # anyone else's handler stays
    finally:
        root.removeHandler(echo)
        root.removeHandler(other)
        logs.configure({"LOG_LEVEL": "INFO"})


def test_with_log_execution_id_each_record_is_one_line_labelled_with_its_execution_id():
    """The service as Cloud Functions runs it when deployed with gcloud (LOG_EXECUTION_ID=true)."""
    import subprocess
    import sys
    from pathlib import Path

    code = """
import json, sys, functions_framework
app = functions_framework.create_app("webhook", "main.py")
body = json.dumps({"fulfillmentInfo": {"tag": "validate-order-id"},
                   "sessionInfo": {"session": "projects/p/locations/l/agents/a/sessions/s-1",
                                   "parameters": {"order_id": "ORD-1001"}}})
headers = {"Content-Type": "application/json", "Function-Execution-Id": "exec-1",
           "X-Cloud-Trace-Context": "105445aa7843bc8bf206b12000100000/12345;o=1"}
assert app.test_client().post("/", data=body, headers=headers).status_code == 200
"""
    env = {
        **{k: v for k, v in __import__("os").environ.items() if not k.startswith(("LOG_", "AUTH_"))},
        "LOG_EXECUTION_ID": "true",
        "LOG_PROJECT_ID": "my-project",
        "AUTH_MODES": "none",
    }
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).parent.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert all("severity" in record for record in records), result.stdout  # no bare copies
    [summary] = [record for record in records if record.get("logger") == "fulfillment.call"]
    assert summary["message"] == "validate-order-id 200 ok"
    assert summary[logs.LABELS] == {"execution_id": "exec-1", "tag": "validate-order-id", "session_id": "s-1"}
    assert summary[logs.SPAN_ID] == "0000000000003039"  # hex, as LogEntry wants: 12345
    assert summary[logs.TRACE] == "projects/my-project/traces/105445aa7843bc8bf206b12000100000"


# --- The call's summary line: written directly when only our handler would see it ------------


@pytest.fixture
def our_handler_only(monkeypatch, stdout):
    """The service's logging as deployed: our handler alone on the root, writing to ``stdout``.
    Entered inside the test, because pytest puts its own capturing handlers on the root for
    each phase of a test."""
    import contextlib

    monkeypatch.setattr(logs, "_LINES", logs.LineWriter(hold_s=0, stream=stdout))

    @contextlib.contextmanager
    def alone():
        root = logging.getLogger()
        saved = root.handlers[:]
        root.handlers.clear()
        try:
            logs.configure({"LOG_LEVEL": "INFO", "LOG_FLUSH_MS": "0"})
            yield
        finally:
            root.handlers[:] = saved
            logs.configure({"LOG_LEVEL": "INFO"})

    return alone


FIELDS = {"call": {"tag": "lookup-order", "outcome": "ok", "status": 200, "note": 'é\n"q"'}}


def _both_ways(our_handler_only, monkeypatch, stdout, level):
    """The summary line written by log_fields, then by a LogRecord through the handler."""
    import time

    monkeypatch.setattr(time, "time", lambda: 1764000000.123456)
    summary_log = logging.getLogger("fulfillment.call")
    trace = {"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01"}
    with our_handler_only(), logs.call_context(trace, project="p", labels={"tag": "t"}):
        logs.log_fields(summary_log, level, "lookup-order 200 ok", FIELDS)
        record = summary_log.makeRecord(summary_log.name, level, "", 0, "lookup-order 200 ok", None, None)
        record.fields = FIELDS
        summary_log.handle(record)
    print("LINES", stdout.lines())
    return stdout.lines()


@pytest.mark.parametrize("level", [logging.INFO, logging.WARNING, logging.ERROR])
def test_the_summary_line_is_the_line_the_handler_writes(our_handler_only, monkeypatch, stdout, level):
    direct, through_the_handler = _both_ways(our_handler_only, monkeypatch, stdout, level)
    assert direct == through_the_handler
    assert json.loads(direct)["severity"] == logging.getLevelName(level)


def test_the_summary_line_skips_the_record_only_when_nobody_else_listens(our_handler_only, monkeypatch):
    made = []
    real = logging.Logger.makeRecord
    monkeypatch.setattr(
        logging.Logger, "makeRecord", lambda self, *a, **k: made.append(1) or real(self, *a, **k)
    )
    summary_log = logging.getLogger("fulfillment.call")
    with our_handler_only():
        logs.log_fields(summary_log, logging.INFO, "m", FIELDS)
        assert made == []

        for listener in (logging.getLogger(), logging.getLogger("fulfillment"), summary_log):
            extra = logging.NullHandler()
            listener.addHandler(extra)
            try:
                logs.log_fields(summary_log, logging.INFO, "m", FIELDS)
            finally:
                listener.removeHandler(extra)
        summary_log.addFilter(lambda record: True)
        try:
            logs.log_fields(summary_log, logging.INFO, "m", FIELDS)
        finally:
            summary_log.filters.clear()
    assert made == [1, 1, 1, 1]


def test_caplog_sees_the_summary_record_with_its_fields(caplog):
    with caplog.at_level(logging.INFO, logger="fulfillment.call"):
        logs.log_fields(logging.getLogger("fulfillment.call"), logging.INFO, "lookup-order 200 ok", FIELDS)
    [record] = [r for r in caplog.records if r.name == "fulfillment.call"]
    assert record.getMessage() == "lookup-order 200 ok" and record.fields == FIELDS


def test_a_summary_line_waits_like_any_line_whatever_its_severity(our_handler_only, stdout):
    """A misrouted agent's flood of unknown-tag ERROR summaries is gathered; an error record
    of the call itself is not held back."""
    summary_log = logging.getLogger("fulfillment.call")
    with our_handler_only():
        logs._LINES.hold_s = 60
        logs.log_fields(summary_log, logging.INFO, "first", FIELDS)  # quiet until now: at once
        logs.log_fields(summary_log, logging.ERROR, "nope 200 unknown-tag", FIELDS)
        extra = logging.NullHandler()  # someone else listens: the record goes through our handler
        summary_log.addHandler(extra)
        try:
            logs.log_fields(summary_log, logging.WARNING, "POST 400 bad-request", FIELDS)
        finally:
            summary_log.removeHandler(extra)
        assert [json.loads(line)["message"] for line in stdout.lines()] == ["first"]
        logging.getLogger("fulfillment").error("the backend answered nonsense")
        messages = [json.loads(line)["message"] for line in stdout.lines()]
    assert messages == [
        "first",
        "nope 200 unknown-tag",
        "POST 400 bad-request",
        "the backend answered nonsense",
    ]
