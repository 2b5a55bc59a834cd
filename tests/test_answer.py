"""``JSONAnswer``: the service's answers handed to Flask without its tuple-to-response work,
and still a complete Flask response wherever anything looks at it or changes it."""

import flask
import pytest

from fulfillment.http import JSONAnswer

BODY = b'{"fulfillmentResponse":{"messages":[{"text":{"text":["Hello."]}}]}}'


def serve(answer, *hooks):
    """A Flask app answering every method at "/" with ``answer()``, after-request ``hooks`` on."""
    app = flask.Flask(__name__)
    app.add_url_rule("/", "answer", lambda: answer(), methods=["GET", "HEAD", "POST"])
    for hook in hooks:
        app.after_request(hook)
    return app.test_client()


def test_what_the_server_is_handed_is_what_werkzeug_would_hand_it():
    ours = serve(lambda: JSONAnswer(BODY, 200, {"Content-Type": "application/json"})).post("/")
    werkzeugs = serve(lambda: (BODY, 200, {"Content-Type": "application/json"})).post("/")
    assert (ours.status, ours.data) == (werkzeugs.status, werkzeugs.data) == ("200 OK", BODY)
    assert sorted(ours.headers.items()) == sorted(werkzeugs.headers.items())
    assert ours.headers["Content-Length"] == str(len(BODY))


@pytest.mark.parametrize(
    ("status", "line"),
    [(200, "200 OK"), (400, "400 BAD REQUEST"), (503, "503 SERVICE UNAVAILABLE"), (599, "599 UNKNOWN")],
)
def test_the_status_line_is_spelled_as_werkzeug_spells_it(status, line):
    assert (
        serve(lambda: JSONAnswer(b"{}", status)).post("/").status
        == line
        == flask.Response(status=status).status
    )


def test_extra_headers_are_sent_and_ours_cannot_be_overridden_by_them():
    headers = {"Content-Type": "text/html", "Content-Length": "1", "Allow": "GET, HEAD, POST"}
    response = serve(lambda: JSONAnswer(b'{"a":1}', 405, headers)).post("/")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD, POST"
    assert response.headers.getlist("Content-Type") == ["application/json"]
    assert response.headers.getlist("Content-Length") == ["7"]


def test_head_gets_the_headers_and_no_body():
    response = serve(lambda: JSONAnswer(BODY)).head("/")
    assert response.status_code == 200 and response.data == b""
    assert response.headers["Content-Length"] == str(len(BODY))


def test_an_after_request_hook_that_changes_the_answer_is_honoured():
    def add_header(response):
        response.headers["X-Seen"] = "yes"
        return response

    def replace_body(response):
        response.set_data(b'{"replaced":true}')
        response.status_code = 202
        return response

    response = serve(lambda: JSONAnswer(BODY), add_header, replace_body).post("/")
    assert (response.status, response.data) == ("202 ACCEPTED", b'{"replaced":true}')
    assert response.headers["X-Seen"] == "yes"
    assert response.headers["Content-Length"] == str(len(b'{"replaced":true}'))


def test_close_callbacks_still_run():
    closed = []

    def on_close(response):
        response.call_on_close(lambda: closed.append(True))
        return response

    response = serve(lambda: JSONAnswer(BODY), on_close).post("/")
    response.close()
    assert response.data == BODY and closed == [True]


def test_the_service_answers_with_it(client, monkeypatch):
    # The fast way is the way every call takes: a change that fell back to werkzeug's
    # (a header read by a hook of ours) would quietly cost a third of the call again.
    seen = []
    original = JSONAnswer.__call__

    def spy(self, environ, start_response):
        seen.append(self._headers is None)
        return original(self, environ, start_response)

    monkeypatch.setattr(JSONAnswer, "__call__", spy)
    assert client.get("/").status_code == 200
    assert client.post("/", data="{", content_type="application/json").status_code == 400
    assert client.get("/favicon.ico").status_code == 404  # the framework's error, ours in JSON
    assert seen == [True, True, True]
