"""The HTTP face, in-process through functions-framework: statuses, errors, fixtures."""

import copy
import json

import pytest

from tests.conftest import CONTRACT_EXAMPLES, ROOT, assert_valid_response, post

REQUEST_FIXTURES = sorted(
    [*CONTRACT_EXAMPLES.glob("cx_requests/*.json"), *CONTRACT_EXAMPLES.glob("synthetic/request_*.json")]
)
INVALID_RESPONSE_FIXTURES = [
    CONTRACT_EXAMPLES / "cx_responses/node_configure_optional_form_param.json",
    CONTRACT_EXAMPLES / "cx_responses/pds_v3beta1_optional_or_required_value_17.json",
]


def json_error(response, status):
    assert response.status_code == status, response.data
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.get_json()
    assert set(body) == {"error"} and body["error"]["code"] and body["error"]["message"]
    assert b"Traceback" not in response.data and b"<html" not in response.data.lower()
    return body["error"]


@pytest.mark.parametrize("path", REQUEST_FIXTURES, ids=lambda p: p.name)
def test_every_contract_request_answers_200_under_its_own_tag(client, path):
    response = post(client, path.read_bytes())
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert_valid_response(response.data)


def test_every_contract_request_answers_200_under_every_registered_tag(client, app):
    for path in REQUEST_FIXTURES:
        for tag in app.tags:
            body = json.loads(path.read_text())
            body.setdefault("fulfillmentInfo", {})["tag"] = tag
            response = post(client, body)
            assert response.status_code == 200, (path.name, tag, response.data)
            assert_valid_response(response.data)


@pytest.mark.parametrize("path", INVALID_RESPONSE_FIXTURES, ids=lambda p: p.name)
def test_the_strict_check_rejects_the_invalid_response_fixtures(path):
    with pytest.raises(Exception, match=r"VALID|parameterInfo|displayName|Parse|parse"):
        assert_valid_response(path.read_bytes())


def test_flask_still_reads_the_body_we_read_past_it():
    """The service reads the body straight from the server's input, then hands it to werkzeug's
    cache: ``request.get_data()`` in a fork's hook gives the body, not the drained input."""
    import flask
    import functions_framework

    flask_app = functions_framework.create_app(target="webhook", source=str(ROOT / "main.py"))
    seen = []

    @flask_app.after_request
    def read_the_body(response):
        seen.append(flask.request.get_data())
        return response

    body = (CONTRACT_EXAMPLES / "cx_requests" / "pds_configure_session_parameters_test.json").read_bytes()
    response = post(flask_app.test_client(), body)
    assert response.status_code == 200
    assert seen == [body]


def test_get_answers_a_small_status(client, app):
    response = client.get("/")
    assert response.status_code == 200
    assert response.get_json() == {
        "service": app.settings.service,
        "version": app.version,
        "status": "ok",
        "tags": list(app.tags),
    }


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"{not json", "JSON"),
        (b"", "JSON"),
        (b"[1, 2]", "object"),
        (b'"a string"', "object"),
        (b"null", "object"),
        (b'{"fulfillmentInfo": {"tag": 7}}', "fulfillmentInfo.tag"),
        (b'{"sessionInfo": {"parameters": ["a"]}}', "sessionInfo.parameters"),
        (b'{"text": "a", "transcript": "b"}', ""),
        (b'{"a": 1, "a": 2}', "uplicate"),
        (b'{"languageCode": NaN}', ""),
        (b"\xff\xfe{}", ""),
        (b"[" * 5000 + b"]" * 5000, ""),
    ],
)
def test_broken_bodies_answer_400_json(client, data, fragment):
    error = json_error(post(client, data), 400)
    assert fragment in error["message"]


def test_wrong_methods_answer_405_with_allow(client):
    for method in ("put", "delete", "patch"):
        response = getattr(client, method)("/", data="{}", headers={"Content-Type": "application/json"})
        json_error(response, 405)
        assert response.headers["Allow"] == "GET, HEAD, POST"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_wrong_content_types_answer_415(client, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    json_error(client.post("/", data=b"{}", headers=headers), 415)


def test_json_with_a_charset_is_fine(client):
    response = client.post("/", data=b"{}", headers={"Content-Type": "application/json; charset=utf-8"})
    assert response.status_code == 200


def test_oversized_bodies_answer_413_without_being_read(client, app):
    limit = app.settings.max_request_bytes
    big = json.dumps({"sessionInfo": {"parameters": {"blob": "x" * limit}}})
    json_error(post(client, big), 413)


def test_a_number_too_large_for_a_float_is_echoed_as_json(client):
    # 1e999 is valid JSON, and the proto parser reads it as infinity. Echoed back (here into
    # the handoff's metadata), it must still be JSON: Python's parser would take a bare
    # Infinity, Dialogflow's would not.
    body = b'{"fulfillmentInfo":{"tag":"transfer-to-agent"},"sessionInfo":{"parameters":{"order_id":1e999}}}'
    response = post(client, body)
    assert response.status_code == 200
    answer = json.loads(response.data, parse_constant=lambda word: pytest.fail(f"{word} is not JSON"))
    handoff = answer["fulfillmentResponse"]["messages"][1]["liveAgentHandoff"]
    assert handoff["metadata"]["order_id"] == "Infinity"
    assert_valid_response(response.data)


def test_a_deep_but_valid_parameter_echoed_into_a_handoff_still_answers_valid_json(client):
    # 48 levels parse in sessionInfo.parameters; in the handoff's metadata, one message level
    # further down, they would not, and Dialogflow would refuse the whole answer.
    value = "ORD-1001"
    for _ in range(48):
        value = {"a": value}
    body = {
        "fulfillmentInfo": {"tag": "transfer-to-agent"},
        "sessionInfo": {"parameters": {"order_id": value}},
    }
    response = post(client, body)
    assert response.status_code == 200
    answer = assert_valid_response(response.data)
    assert "liveAgentHandoff" in answer["fulfillmentResponse"]["messages"][1]


def test_an_unknown_field_nested_as_deep_as_json_allows_is_never_a_500(client):
    # A side-effecting tag digests the body for its replay key by encoding it again, a few
    # frames deeper than decoding it took; near the interpreter's limit that used to be a
    # RecursionError, and a 500. Which depth hits it depends on the stack, so scan.
    body = json.dumps({"fulfillmentInfo": {"tag": "process-return"}, "detectIntentResponseId": "turn-1"})
    statuses = {
        post(client, body[:-1] + ', "futureField": ' + "[" * depth + "]" * depth + "}").status_code
        for depth in range(850, 1001)
    }
    assert statuses <= {200, 400}, statuses


def test_a_content_length_of_unicode_digits_is_a_400(client):
    # "²".isdigit() is true and int("²") raises: gunicorn refuses such a header itself, the
    # development server and other WSGI servers pass it on. (The test client would correct
    # the header, so the environ is made by hand.)
    from werkzeug.test import EnvironBuilder, run_wsgi_app

    environ = EnvironBuilder(method="POST", data=b"{}", content_type="application/json").get_environ()
    environ["CONTENT_LENGTH"] = "²"
    body, status, _headers = run_wsgi_app(client.application, environ, buffered=True)
    assert status.startswith("400 ")
    assert json.loads(b"".join(body))["error"]["message"].startswith("Content-Length must be a whole number")


def test_framework_errors_are_json_too(client):
    json_error(client.get("/favicon.ico"), 404)
    json_error(client.get("/robots.txt"), 404)


def test_a_request_under_another_path_is_still_served(client):
    assert post(client, {"fulfillmentInfo": {"tag": "x"}}).status_code == 200
    response = client.post("/webhook", data="{}", headers={"Content-Type": "application/json"})
    assert response.status_code == 200


def test_unknown_fields_and_snake_case_are_accepted(client):
    body = json.loads((CONTRACT_EXAMPLES / "synthetic/request_all_fields_text_query.json").read_text())
    odd = copy.deepcopy(body)
    odd["someFutureField"] = {"x": [1, 2]}
    odd["messages"][0]["source"] = "VIRTUAL_AGENT"
    odd["fulfillment_info"] = odd.pop("fulfillmentInfo")
    assert_valid_response(post(client, odd).data)


def test_without_gunicorn_its_error_pages_are_left_alone(monkeypatch):
    import sys

    from fulfillment.http import json_server_errors

    monkeypatch.setitem(sys.modules, "gunicorn", None)  # as on Windows, or another server
    assert json_server_errors() is False


def test_gunicorn_is_taught_to_keep_to_connection_close_once(monkeypatch):
    import sys

    from gunicorn.http.wsgi import Response

    from fulfillment.http import honour_connection_close

    monkeypatch.setattr(Response, "process_headers", Response.process_headers)  # undone after
    honour_connection_close()  # main.py has run it already, or this does
    wrapped = Response.process_headers
    assert honour_connection_close() is False and Response.process_headers is wrapped  # not twice

    answer = Response(req=None, sock=None, cfg=None)
    answer.process_headers([("Content-Type", "application/json"), ("Connection", "close")])
    assert answer.must_close and answer.headers == [("Content-Type", "application/json")]
    kept = Response(req=None, sock=None, cfg=None)
    kept.process_headers([("Content-Type", "application/json")])
    assert not kept.must_close

    monkeypatch.setitem(sys.modules, "gunicorn.http.wsgi", None)  # another server
    assert honour_connection_close() is False
