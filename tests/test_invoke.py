"""tools.invoke against a tiny threaded HTTP server on the loopback that answers canned replies."""

import io
import json
import re
import socket
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import google.oauth2.id_token
import pytest

from tools import invoke

AGENT = "projects/p/locations/global/agents/a"

RICH_REPLY = {
    "fulfillmentResponse": {
        "messages": [
            {"text": {"text": ["Your order ORD-1001 has shipped.", "ORD-1001 is on its way."]}},
            {"outputAudioText": {"ssml": "<speak>Your order has <emphasis>shipped</emphasis>.</speak>"}},
            {
                "payload": {
                    "richContent": [
                        [
                            {"type": "info", "title": "ORD-1001"},
                            {"type": "chips", "options": [{"text": "Track"}, {"text": "Return"}]},
                        ]
                    ]
                }
            },
            {"liveAgentHandoff": {"metadata": {"reason": "asked"}}},
            {"telephonyTransferCall": {"phoneNumber": "+15555550123"}, "channel": "phone"},
        ],
        "mergeBehavior": "REPLACE",
    },
    "sessionInfo": {
        "parameters": {
            "order_id": "ORD-1001",
            "order_status": "shipped",
            "return_id": None,
            "webhook_outcome": "ok",
        }
    },
    "pageInfo": {"formInfo": {"parameterInfo": [{"displayName": "quantity", "state": "INVALID"}]}},
    "targetPage": f"{AGENT}/flows/f/pages/shipped",
}


class CannedServer:
    """Answers every POST with ``status`` and ``body``; remembers what it was sent."""

    def __init__(self):
        self.status, self.body, self.content_type = 200, RICH_REPLY, "application/json"
        self.headers = {}
        self.received = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers["Content-Length"])
                server.received.append(
                    {"headers": dict(self.headers), "body": json.loads(self.rfile.read(length))}
                )
                payload = server.body if isinstance(server.body, bytes) else json.dumps(server.body).encode()
                self.send_response(server.status)
                self.send_header("Content-Type", server.content_type)
                self.send_header("Content-Length", str(len(payload)))
                for name, value in server.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def server():
    canned = CannedServer()
    yield canned
    canned.close()


def run(*argv):
    out = io.StringIO()
    code = invoke.main([str(arg) for arg in argv], out=out)
    return code, out.getvalue()


def test_reads_the_answer_out_like_a_person(server):
    code, out = run("lookup-order", "order_id=ORD-1001", "--url", server.url, "--session", "s-42")

    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"POST {server.url}  tag=lookup-order  session=s-42"
    assert re.fullmatch(r"HTTP 200 OK in \d+ ms", lines[1])
    assert lines[2:] == [
        "Messages (5, replacing the messages queued so far):",
        "  say: Your order ORD-1001 has shipped. | ORD-1001 is on its way.",
        "  speak (SSML): <speak>Your order has <emphasis>shipped</emphasis>.</speak>",
        '  rich content: info "ORD-1001", chips (2)',
        '  hand off to a live agent with {"reason": "asked"}',
        "  transfer the call to +15555550123  [channel phone]",
        "Session parameters:",
        '  set order_status = "shipped"',
        "  removed return_id",
        "  (1 unchanged: order_id)",
        "Invalidated form parameters (Dialogflow re-prompts): quantity",
        f"Transition: to page {AGENT}/flows/f/pages/shipped",
        "webhook_outcome: ok",
    ]


def test_sends_a_complete_webhook_request(server):
    code, _ = run(
        "check-inventory",
        "product_id=SKU-1",
        "quantity=2",
        "gift=true",
        "price=9.5",
        'colors=["red","blue"]',
        "note=",
        "zip=01234",
        "--text",
        "do you have it in red",
        "--url",
        server.url,
    )

    assert code == 0
    [request] = server.received
    body = request["body"]
    assert request["headers"]["Content-Type"] == "application/json"
    assert body["fulfillmentInfo"] == {"tag": "check-inventory"}
    assert uuid.UUID(body["detectIntentResponseId"]).version == 4
    assert body["sessionInfo"]["parameters"] == {
        "product_id": "SKU-1",
        "quantity": 2,
        "gift": True,
        "price": 9.5,
        "colors": ["red", "blue"],
        "note": "",
        "zip": "01234",
    }
    assert re.fullmatch(
        r"projects/[^/]+/locations/global/agents/[^/]+/sessions/invoke-[0-9a-f]{12}",
        body["sessionInfo"]["session"],
    )
    assert re.fullmatch(
        r"projects/[^/]+/locations/global/agents/[^/]+/flows/[^/]+/pages/[^/]+",
        body["pageInfo"]["currentPage"],
    )
    assert body["languageCode"] == "en"
    assert body["text"] == "do you have it in red"
    from google.cloud.dialogflowcx_v3.types import WebhookRequest

    WebhookRequest.from_json(json.dumps(body), ignore_unknown_fields=False)


def test_sends_a_request_file_as_is_with_overrides(server, tmp_path):
    request = {
        "detectIntentResponseId": "bb39ec0f-67ad-51e2-9580-f126f7d71201",
        "fulfillmentInfo": {"tag": "lookup-order"},
        "sessionInfo": {"session": f"{AGENT}/sessions/example", "parameters": {"order_id": "ORD-1002"}},
        "text": "where is my order",
        "languageCode": "en",
    }
    path = tmp_path / "lookup-order.json"
    path.write_text(json.dumps(request))

    assert run("--file", path, "--url", server.url)[0] == 0
    assert run("--file", path, "order_id=ORD-9", "--url", server.url)[0] == 0

    plain, overridden = (received["body"] for received in server.received)
    assert plain == request
    assert overridden["sessionInfo"]["parameters"] == {"order_id": "ORD-9"}
    assert overridden["fulfillmentInfo"] == {"tag": "lookup-order"}


def test_raw_prints_the_json(server):
    code, out = run("lookup-order", "--url", server.url, "--raw")

    assert code == 0
    assert json.loads(out) == RICH_REPLY


def test_an_empty_answer_reads_as_no_change(server):
    server.body = {}

    code, out = run("greet", "--url", server.url)

    assert code == 0
    assert out.splitlines()[2:] == [
        "Messages: none",
        "Session parameters: no change",
        "Transition: none (the agent's own routes decide)",
        "webhook_outcome: (not set)",
    ]


def test_a_snake_case_answer_reads_like_its_camel_case_twin(server):
    # proto3 JSON parses both spellings; Google's own validation sample answers with page_info.
    server.body = {
        "fulfillment_response": {"messages": [{"text": {"text": ["That order number looks wrong."]}}]},
        "page_info": {"form_info": {"parameter_info": [{"display_name": "order_id", "state": "INVALID"}]}},
        "session_info": {"parameters": {"order_id": None, "webhook_outcome": "invalid-input"}},
    }

    code, out = run("validate-order-id", "--url", server.url)

    assert code == 0
    assert out.splitlines()[2:] == [
        "Messages (1):",
        "  say: That order number looks wrong.",
        "Session parameters:",
        "  removed order_id",
        "Invalidated form parameters (Dialogflow re-prompts): order_id",
        "Transition: none (the agent's own routes decide)",
        "webhook_outcome: invalid-input",
    ]


def test_non_200_prints_the_json_error_and_exits_1(server):
    server.status, server.body = 401, {"error": {"code": 401, "message": "missing or invalid credentials"}}

    code, out = run("lookup-order", "--url", server.url)

    assert code == 1
    assert "HTTP 401 Unauthorized" in out
    assert json.loads(out.split("\n", 2)[2]) == server.body


def test_a_200_that_is_not_json_exits_1(server):
    server.body, server.content_type = b"<html>oops</html>", "text/html"

    code, out = run("lookup-order", "--url", server.url)

    assert code == 1
    assert "<html>oops</html>" in out
    assert "not a JSON object" in out


def test_a_redirect_is_the_answer_not_a_detour(server):
    # urllib would follow it with a GET, and the service's GET status (200) would read as a
    # successful call; Dialogflow follows no redirect (Cloud Run answers http:// with one).
    server.status, server.body = 302, b""
    server.headers = {"Location": "https://elsewhere.example/"}

    code, out = run("lookup-order", "--url", server.url)

    assert code == 1 and len(server.received) == 1
    assert "HTTP 302 Found, to https://elsewhere.example/: Dialogflow does not follow redirects" in out


def test_nan_and_infinity_are_sent_as_the_words_not_as_numbers(server):
    # Python's json reads them as floats and writes them back bare, which is not JSON: the
    # service answers 400 to such a body, and Dialogflow never sends one.
    code, _ = run("lookup-order", "order_id=NaN", "limit=Infinity", "--url", server.url)

    assert code == 0
    assert server.received[0]["body"]["sessionInfo"]["parameters"] == {"order_id": "NaN", "limit": "Infinity"}


def test_connection_refused_is_exit_2_with_a_hint(capsys):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The port is closed again: nothing listens there.

    code, out = run("lookup-order", "--url", f"http://127.0.0.1:{port}")

    assert code == 2
    assert out == ""
    err = capsys.readouterr().err
    assert "connection refused" in err
    assert "./dev.sh serve" in err


def test_id_token_is_minted_for_the_url(server, monkeypatch):
    audiences = []

    def fake_fetch_id_token(request, audience):
        audiences.append(audience)
        return "header.payload.signature"

    monkeypatch.setattr(google.oauth2.id_token, "fetch_id_token", fake_fetch_id_token)

    assert run("lookup-order", "--url", f"{server.url}/?debug=1", "--id-token")[0] == 0
    assert (
        run("lookup-order", "--url", server.url, "--audience", "https://r-p.cloudfunctions.net/cx-webhook")[0]
        == 0
    )

    assert audiences == [f"{server.url}/", "https://r-p.cloudfunctions.net/cx-webhook"]
    assert [received["headers"]["Authorization"] for received in server.received] == [
        "Bearer header.payload.signature"
    ] * 2


def test_extra_headers_are_sent(server):
    code, _ = run("lookup-order", "--url", server.url, "--header", "X-Webhook-Key: s3cret")

    assert code == 0
    assert server.received[0]["headers"]["X-Webhook-Key"] == "s3cret"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["lookup-order", "=oops"], "is not name=value"),
        ([], "give a tag"),
        (["lookup-order", "--header", "no colon"], "'Name: value'"),
        (["lookup-order", "--url", "file:///etc/passwd"], "http:// or https://"),
    ],
)
def test_bad_arguments_are_exit_2(capsys, argv, message):
    code, _ = run(*argv)

    assert code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("header", ["X-Webhook-Token=s3cret-value", "X-Webhook-Token s3cret-value"])
def test_a_malformed_header_is_refused_without_echoing_its_value(capsys, header):
    code, _ = run("lookup-order", "--header", header)

    assert code == 2
    err = capsys.readouterr().err
    assert "'Name: value'" in err and "X-Webhook-Token" in err and "s3cret" not in err
