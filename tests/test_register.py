"""tools.register against the Dialogflow v3 REST API, mocked with ``responses``.

``google.auth.default`` is replaced by fake credentials, so the real ``AuthorizedSession`` path
runs and every HTTP call it makes is seen here. Bodies are checked against the official
``Webhook`` / ``Page`` protos (strict JSON parsing), like the contract examples.
"""

import copy
import io
import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import google.auth
import google.auth.exceptions
import pytest
import responses
from google.auth.credentials import AnonymousCredentials, Credentials

from tools import register

PROJECT = "my-project"
AGENT = f"projects/{PROJECT}/locations/us-central1/agents/agent-1"
API = "https://us-central1-dialogflow.googleapis.com/v3"
WEBHOOKS_URL = f"{API}/{AGENT}/webhooks"
WEBHOOK_NAME = f"{AGENT}/webhooks/wh-1"
URI = "https://us-central1-my-project.cloudfunctions.net/cx-webhook"
PAGE = f"{AGENT}/flows/flow-1/pages/page-1"
PAGE_URL = f"{API}/{PAGE}"
SECRET = f"projects/{PROJECT}/secrets/cx-webhook-basic/versions/latest"
CONTRACT_EXAMPLES = Path(__file__).resolve().parent / "fixtures" / "contract" / "webhook_resource"


class TokenCredentials(Credentials):
    """Credentials with a recognisable bearer token, to prove it never reaches the output."""

    def __init__(self):
        super().__init__()
        self.token = "ya29.SECRET-TOKEN"

    def refresh(self, request):
        self.token = "ya29.SECRET-TOKEN"

    @property
    def expired(self):
        return False

    @property
    def valid(self):
        return True


@pytest.fixture
def adc(monkeypatch):
    """Fake Application Default Credentials; records the scopes asked for."""
    seen = {"scopes": None, "credentials": AnonymousCredentials()}

    def fake_default(scopes=None, **kwargs):
        seen["scopes"] = scopes
        return seen["credentials"], "adc-project"

    monkeypatch.setattr(google.auth, "default", fake_default)
    return seen


@pytest.fixture
def api():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def run(*argv):
    out = io.StringIO()
    code = register.main(list(argv), out=out)
    return code, out.getvalue()


def body_of(call):
    return json.loads(call.request.body)


def query_of(call):
    return parse_qs(urlsplit(call.request.url).query)


def assert_valid_webhook(body):
    from google.cloud.dialogflowcx_v3.types import Webhook

    Webhook.from_json(json.dumps(body), ignore_unknown_fields=False)


def assert_valid_page(body):
    from google.cloud.dialogflowcx_v3.types import Page

    Page.from_json(json.dumps(body), ignore_unknown_fields=False)


def stored_webhook(**generic):
    """A webhook as the API answers it after this tool created it."""
    return {
        "name": WEBHOOK_NAME,
        "displayName": "cx-webhook",
        "genericWebService": {
            "uri": URI,
            "webhookType": "STANDARD",
            "serviceAgentAuth": "ID_TOKEN",
            **generic,
        },
        "timeout": "5s",
    }


# -- webhook -----------------------------------------------------------------------------


def test_creates_the_webhook_when_absent(adc, api):
    other = {"name": f"{AGENT}/webhooks/other", "displayName": "legacy", "genericWebService": {"uri": URI}}
    api.get(WEBHOOKS_URL, json={"webhooks": [other], "nextPageToken": "page-2"})
    api.get(WEBHOOKS_URL, json={})
    api.post(WEBHOOKS_URL, json=stored_webhook())

    code, out = run("webhook", "--agent", AGENT, "--uri", URI)

    assert code == 0
    assert out == f"created {WEBHOOK_NAME} (cx-webhook -> {URI})\n"
    list_first, list_second, create = api.calls
    assert query_of(list_second)["pageToken"] == ["page-2"]
    assert "pageToken" not in query_of(list_first)
    body = body_of(create)
    assert body == {
        "displayName": "cx-webhook",
        "genericWebService": {"uri": URI, "webhookType": "STANDARD", "serviceAgentAuth": "ID_TOKEN"},
        "timeout": "5s",
    }
    assert_valid_webhook(body)
    assert all(call.request.headers["x-goog-user-project"] == PROJECT for call in api.calls)
    assert adc["scopes"] == ["https://www.googleapis.com/auth/cloud-platform"]


def test_create_body_has_the_shape_of_the_contract_example(adc, api):
    example = json.loads(
        (CONTRACT_EXAMPLES / "synthetic_create_body_service_agent_id_token.json").read_text()
    )
    api.get(WEBHOOKS_URL, json={})
    api.post(WEBHOOKS_URL, json=stored_webhook())

    run("webhook", "--agent", AGENT, "--uri", example["genericWebService"]["uri"], "--timeout", "10s")

    body = body_of(api.calls[1])
    assert body["genericWebService"]["serviceAgentAuth"] == example["genericWebService"]["serviceAgentAuth"]
    assert body["genericWebService"]["webhookType"] == example["genericWebService"]["webhookType"]
    assert body["timeout"] == example["timeout"]
    assert set(body) <= set(example)


def test_global_agents_use_the_global_endpoint(adc, api):
    agent = f"projects/{PROJECT}/locations/global/agents/a"
    api.get(f"https://dialogflow.googleapis.com/v3/{agent}/webhooks", json={})
    api.post(f"https://dialogflow.googleapis.com/v3/{agent}/webhooks", json={"name": f"{agent}/webhooks/w"})

    code, _ = run("webhook", "--agent", agent, "--uri", URI)

    assert code == 0


def test_patches_only_the_fields_that_differ(adc, api):
    existing = stored_webhook()
    existing["genericWebService"]["uri"] = "https://old.example.com/hook"
    existing["genericWebService"]["requestHeaders"] = {"X-Webhook-Client": "dialogflow-cx"}
    api.get(WEBHOOKS_URL, json={"webhooks": [existing]})
    api.patch(f"{API}/{WEBHOOK_NAME}", json=stored_webhook())

    code, out = run("webhook", "--agent", AGENT, "--uri", URI, "--timeout", "12s")

    assert code == 0
    assert out == f"updated {WEBHOOK_NAME}: genericWebService.uri, timeout\n"
    patch = api.calls[1]
    assert query_of(patch)["updateMask"] == ["genericWebService.uri,timeout"]
    body = body_of(patch)
    assert body["genericWebService"]["uri"] == URI
    assert body["timeout"] == "12s"
    # Fields the tool does not manage travel unchanged.
    assert body["genericWebService"]["requestHeaders"] == {"X-Webhook-Client": "dialogflow-cx"}
    assert_valid_webhook(body)


def test_unchanged_webhook_gets_no_write(adc, api):
    # As the API may answer: defaults left out, enum unspecified, Duration with decimals.
    existing = {
        "name": WEBHOOK_NAME,
        "displayName": "cx-webhook",
        "genericWebService": {"uri": URI},
        "timeout": "5.000s",
    }
    api.get(WEBHOOKS_URL, json={"webhooks": [existing]})

    code, out = run("webhook", "--agent", AGENT, "--uri", URI)

    assert code == 0
    assert out == f"unchanged {WEBHOOK_NAME}\n"
    assert [call.request.method for call in api.calls] == ["GET"]


def test_switching_to_basic_auth_uses_a_secret_version_and_drops_plain_credentials(adc, api):
    existing = stored_webhook(username="cx", password="hunter2")
    api.get(WEBHOOKS_URL, json={"webhooks": [existing]})
    api.patch(f"{API}/{WEBHOOK_NAME}", json=stored_webhook())

    code, out = run("webhook", "--agent", AGENT, "--uri", URI, "--auth", "basic", "--basic-secret", SECRET)

    assert code == 0
    mask = query_of(api.calls[1])["updateMask"][0].split(",")
    assert mask == [
        "genericWebService.serviceAgentAuth",
        "genericWebService.username",
        "genericWebService.password",
        "genericWebService.secretVersionForUsernamePassword",
    ]
    generic = body_of(api.calls[1])["genericWebService"]
    assert generic["serviceAgentAuth"] == "NONE"
    assert generic["secretVersionForUsernamePassword"] == SECRET
    assert "password" not in generic and "username" not in generic
    assert "hunter2" not in out


def test_header_auth_references_the_secret_like_the_contract_example(adc, api):
    example = json.loads(
        (CONTRACT_EXAMPLES / "synthetic_create_body_basic_auth_secret_headers.json").read_text()
    )
    header_secret = example["genericWebService"]["secretVersionsForRequestHeaders"]["X-Api-Key"][
        "secretVersion"
    ]
    api.get(WEBHOOKS_URL, json={})
    api.post(WEBHOOKS_URL, json=stored_webhook())

    code, _ = run(
        "webhook",
        "--agent",
        AGENT,
        "--uri",
        URI,
        "--auth",
        "id-token,header",
        "--header-name",
        "X-Api-Key",
        "--header-secret",
        header_secret,
    )

    assert code == 0
    body = body_of(api.calls[1])
    assert_valid_webhook(body)
    assert (
        body["genericWebService"]["secretVersionsForRequestHeaders"]
        == (example["genericWebService"]["secretVersionsForRequestHeaders"])
    )
    assert body["genericWebService"]["serviceAgentAuth"] == "ID_TOKEN"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--uri", "http://insecure.example.com"], "https://"),
        (["--uri", URI, "--timeout", "31s"], "at most 30 s"),
        (["--uri", URI, "--auth", "basic"], "--basic-secret"),
        (["--uri", URI, "--auth", "basic,id-token", "--basic-secret", SECRET], "Authorization header"),
        (
            ["--uri", URI, "--auth", "basic", "--basic-secret", "cx:hunter2"],
            "projects/P/secrets/S/versions/V",
        ),
        (["--uri", URI, "--auth", "header", "--header-name", "X-Key"], "--header-secret"),
        (["--uri", URI, "--auth", "none,id-token"], "cannot be combined"),
    ],
)
def test_bad_arguments_are_exit_2_before_any_call(adc, api, capsys, extra, message):
    code, _ = run("webhook", "--agent", AGENT, *extra)

    assert code == 2
    assert message in capsys.readouterr().err
    assert adc["scopes"] is None, "credentials looked up before the arguments were checked"
    assert len(api.calls) == 0


def test_there_is_no_plaintext_password_option(adc):
    with pytest.raises(SystemExit) as exit_info:
        register.main(["webhook", "--agent", AGENT, "--uri", URI, "--password", "hunter2"])
    assert exit_info.value.code == 2


def test_missing_credentials_are_exit_2(monkeypatch, api, capsys):
    def no_credentials(scopes=None, **kwargs):
        raise google.auth.exceptions.DefaultCredentialsError("Could not automatically determine credentials.")

    monkeypatch.setattr(google.auth, "default", no_credentials)

    code, _ = run("webhook", "--agent", AGENT, "--uri", URI)

    assert code == 2
    assert "gcloud auth application-default login" in capsys.readouterr().err


def test_api_errors_show_the_api_message_and_never_the_token(adc, api, capsys):
    adc["credentials"] = TokenCredentials()
    api.get(
        WEBHOOKS_URL,
        status=403,
        json={
            "error": {
                "code": 403,
                "message": "Caller does not have required permission to use project my-project.",
                "status": "PERMISSION_DENIED",
            }
        },
    )

    code, out = run("webhook", "--agent", AGENT, "--uri", URI)

    assert code == 1
    err = capsys.readouterr().err
    assert "HTTP 403 PERMISSION_DENIED" in err
    assert "Caller does not have required permission to use project my-project." in err
    assert api.calls[0].request.headers["Authorization"] == "Bearer ya29.SECRET-TOKEN"
    assert "SECRET-TOKEN" not in err + out


# -- tag ---------------------------------------------------------------------------------


def page_resource():
    return {
        "name": PAGE,
        "displayName": "Order Lookup",
        "entryFulfillment": {"messages": [{"text": {"text": ["One moment while I look that up..."]}}]},
        "transitionRoutes": [
            {
                "name": "route-1",
                "intent": f"{AGENT}/intents/intent-track",
                "triggerFulfillment": {"messages": [{"text": {"text": ["Tracking."]}}]},
            },
            {
                "name": "route-2",
                "condition": "$session.params.order_id != null",
                "targetPage": f"{AGENT}/flows/flow-1/pages/done",
            },
        ],
    }


def test_tags_the_entry_fulfillment_and_keeps_its_messages(adc, api):
    api.get(WEBHOOKS_URL, json={"webhooks": [stored_webhook()]})
    api.get(PAGE_URL, json=page_resource())
    api.patch(PAGE_URL, json={})

    code, out = run("tag", "--page", PAGE, "--webhook", "cx-webhook", "--tag", "lookup-order")

    assert code == 0
    assert out == "tagged page 'Order Lookup' entry fulfillment: tag lookup-order\n"
    patch = api.calls[2]
    assert query_of(patch)["updateMask"] == ["entryFulfillment"]
    body = body_of(patch)
    assert body["entryFulfillment"] == {
        "messages": [{"text": {"text": ["One moment while I look that up..."]}}],
        "webhook": WEBHOOK_NAME,
        "tag": "lookup-order",
    }
    assert body["transitionRoutes"] == page_resource()["transitionRoutes"]
    assert_valid_page(body)


@pytest.mark.parametrize(
    ("route", "index"),
    [("intent-track", 0), (f"{AGENT}/intents/intent-track", 0), ("$session.params.order_id != null", 1)],
)
def test_tags_the_matching_route(adc, api, route, index):
    api.get(PAGE_URL, json=page_resource())
    api.patch(PAGE_URL, json={})

    code, _ = run(
        "tag",
        "--page",
        PAGE,
        "--webhook",
        WEBHOOK_NAME,
        "--tag",
        "track-order",
        "--route",
        route,
        "--unserved",
    )

    assert code == 0
    patch = api.calls[1]
    assert query_of(patch)["updateMask"] == ["transitionRoutes"]
    routes = body_of(patch)["transitionRoutes"]
    expected = page_resource()["transitionRoutes"]
    expected[index]["triggerFulfillment"] = {
        **expected[index].get("triggerFulfillment", {}),
        "webhook": WEBHOOK_NAME,
        "tag": "track-order",
    }
    assert routes == expected
    assert_valid_page(body_of(patch))


def test_already_tagged_page_gets_no_write(adc, api):
    page = page_resource()
    page["entryFulfillment"].update(webhook=WEBHOOK_NAME, tag="lookup-order")
    api.get(PAGE_URL, json=page)

    code, out = run("tag", "--page", PAGE, "--webhook", WEBHOOK_NAME, "--tag", "lookup-order")

    assert code == 0
    assert out.startswith("unchanged page 'Order Lookup' entry fulfillment")
    assert [call.request.method for call in api.calls] == ["GET"]


def test_retagging_says_what_the_tag_was(adc, api):
    page = page_resource()
    page["entryFulfillment"].update(webhook=WEBHOOK_NAME, tag="lookup-ordr")
    api.get(PAGE_URL, json=page)
    api.patch(PAGE_URL, json={})

    code, out = run("tag", "--page", PAGE, "--webhook", WEBHOOK_NAME, "--tag", "lookup-order")

    assert code == 0
    assert "(was lookup-ordr)" in out


@pytest.mark.parametrize(
    ("route", "message"),
    [("no-such-intent", "no route of page 'Order Lookup' matches"), ("route", "Routes: intent=")],
)
def test_unknown_route_lists_the_routes(adc, api, capsys, route, message):
    api.get(PAGE_URL, json=page_resource())

    code, _ = run(
        "tag", "--page", PAGE, "--webhook", WEBHOOK_NAME, "--tag", "t", "--route", route, "--unserved"
    )

    assert code == 2
    assert message in capsys.readouterr().err


def test_unknown_webhook_display_name_says_how_to_register(adc, api, capsys):
    api.get(WEBHOOKS_URL, json={"webhooks": []})

    code, _ = run("tag", "--page", PAGE, "--webhook", "cx-webhook", "--tag", "lookup-order")

    assert code == 2
    assert "python -m tools.register webhook" in capsys.readouterr().err


def test_missing_page_is_reported_with_the_api_message(adc, api, capsys):
    api.get(
        PAGE_URL,
        status=404,
        json={"error": {"code": 404, "message": f"Page '{PAGE}' does not exist.", "status": "NOT_FOUND"}},
    )

    code, _ = run("tag", "--page", PAGE, "--webhook", WEBHOOK_NAME, "--tag", "lookup-order")

    assert code == 1
    err = capsys.readouterr().err
    assert "HTTP 404 NOT_FOUND" in err
    assert "does not exist" in err


# -- idempotency against a stateful fake of the API --------------------------------------


class FakeDialogflow:
    """Just enough of the v3 API to store webhooks and pages and honour ``updateMask``."""

    def __init__(self, mock):
        self.webhooks = {}
        self.pages = {PAGE: page_resource()}
        self.writes = []
        mock.add_callback("GET", re.compile(re.escape(WEBHOOKS_URL) + r"(\?.*)?$"), self.list_webhooks)
        mock.add_callback("POST", WEBHOOKS_URL, self.create_webhook)
        mock.add_callback("GET", re.compile(re.escape(PAGE_URL) + r"(\?.*)?$"), self.get_page)
        mock.add_callback("PATCH", re.compile(re.escape(API) + r"/.+"), self.patch)

    def list_webhooks(self, request):
        return 200, {}, json.dumps({"webhooks": list(self.webhooks.values())})

    def create_webhook(self, request):
        body = json.loads(request.body)
        body["name"] = f"{AGENT}/webhooks/wh-{len(self.webhooks) + 1}"
        self.webhooks[body["name"]] = body
        self.writes.append(("POST", body["name"]))
        return 200, {}, json.dumps(body)

    def get_page(self, request):
        return 200, {}, json.dumps(self.pages[PAGE])

    def patch(self, request):
        url = urlsplit(request.url)
        name = url.path.removeprefix("/v3/")
        store = self.webhooks if "/webhooks/" in name else self.pages
        resource, body = store[name], json.loads(request.body)
        for path in parse_qs(url.query)["updateMask"][0].split(","):
            *parents, leaf = path.split(".")
            source, target = body, resource
            for key in parents:
                source = source.get(key, {})
                target = target.setdefault(key, {})
            if leaf in source:
                target[leaf] = copy.deepcopy(source[leaf])
            else:
                target.pop(leaf, None)
        self.writes.append(("PATCH", name))
        return 200, {}, json.dumps(resource)


def test_running_everything_twice_writes_only_once(adc):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake = FakeDialogflow(mock)
        commands = [
            ["webhook", "--agent", AGENT, "--uri", URI],
            [
                "webhook",
                "--agent",
                AGENT,
                "--uri",
                URI,
                "--timeout",
                "8s",
                "--auth",
                "basic",
                "--basic-secret",
                SECRET,
            ],
            ["tag", "--page", PAGE, "--webhook", "cx-webhook", "--tag", "lookup-order"],
            [
                "tag",
                "--page",
                PAGE,
                "--webhook",
                "cx-webhook",
                "--tag",
                "track-order",
                "--route",
                "intent-track",
                "--unserved",
            ],
        ]
        first = [run(*command) for command in commands]
        writes_after_first = list(fake.writes)
        second = [run(*command[:]) for command in commands[1:]]

    assert [code for code, _ in first + second] == [0] * 7
    assert [method for method, _ in writes_after_first] == ["POST", "PATCH", "PATCH", "PATCH"]
    assert fake.writes == writes_after_first, "the second run wrote something"
    assert all(out.startswith("unchanged") for _, out in second)
    [webhook] = fake.webhooks.values()
    assert webhook["genericWebService"]["secretVersionForUsernamePassword"] == SECRET
    assert webhook["timeout"] == "8s"
    page = fake.pages[PAGE]
    assert page["entryFulfillment"]["tag"] == "lookup-order"
    assert page["transitionRoutes"][0]["triggerFulfillment"]["tag"] == "track-order"


# -- credentials and answers that are not the API's ----------------------------------------


class _CredentialsFailingToRefresh(Credentials):
    def __init__(self, error):
        super().__init__()
        self.token, self.error = None, error

    def refresh(self, request):
        raise self.error


def _register_with(monkeypatch, credentials):
    monkeypatch.setattr(google.auth, "default", lambda scopes=None, **kw: (credentials, "adc-project"))
    return register.main(["webhook", "--agent", AGENT, "--uri", URI], out=io.StringIO())


@pytest.mark.parametrize(
    ("error", "status", "said"),
    [
        # A login that needs renewing: the most common case on a laptop.
        (
            google.auth.exceptions.RefreshError("Reauthentication is needed."),
            2,
            "gcloud auth application-default login",
        ),
        (
            google.auth.exceptions.TransportError("Failed to resolve 'oauth2.googleapis.com'"),
            1,
            "cannot reach",
        ),
    ],
    ids=["needs-login", "token-endpoint-unreachable"],
)
def test_credentials_that_cannot_be_refreshed_are_an_error_line(monkeypatch, capsys, error, status, said):
    with responses.RequestsMock(assert_all_requests_are_fired=False):
        assert _register_with(monkeypatch, _CredentialsFailingToRefresh(error)) == status
    err = capsys.readouterr().err
    assert err.startswith("error:") and said in err and "Traceback" not in err


def test_a_2xx_answer_that_is_not_json_is_an_error_line(monkeypatch, capsys):
    with responses.RequestsMock() as api:
        api.get(WEBHOOKS_URL, body="<html>sign in to the wifi</html>", status=200, content_type="text/html")
        assert _register_with(monkeypatch, AnonymousCredentials()) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and "not JSON" in err


@pytest.mark.parametrize(
    ("tag", "hint"),
    [("lookup-ordr", "did you mean 'lookup-order'?"), ("xyzzy", "it serves account-balance, ")],
)
def test_a_tag_the_service_does_not_serve_is_refused_before_any_call(adc, api, capsys, tag, hint):
    code, out = run("tag", "--page", PAGE, "--webhook", "cx-webhook", "--tag", tag)

    assert code == 2 and out == ""
    err = capsys.readouterr().err
    assert f"does not serve the tag {tag!r}" in err and hint in err
    assert len(api.calls) == 0


def test_a_tag_another_webhook_answers_is_tagged_with_unserved(adc, api):
    api.get(WEBHOOKS_URL, json={"webhooks": [stored_webhook()]})
    api.get(PAGE_URL, json=page_resource())
    api.patch(PAGE_URL, json={})

    code, out = run("tag", "--page", PAGE, "--webhook", "cx-webhook", "--tag", "loyalty-points", "--unserved")

    assert code == 0 and "tag loyalty-points" in out
    assert body_of(api.calls[2])["entryFulfillment"]["tag"] == "loyalty-points"


def test_a_service_whose_tags_cannot_be_read_says_why_and_how_to_go_on(adc, api, capsys):
    with pytest.raises(register.UsageError) as refused:
        register.check_served("lookup-order", module_name="no_such_handlers")

    assert "ModuleNotFoundError" in str(refused.value) and "--unserved" in str(refused.value)
    assert "--served-tags" not in str(refused.value)  # the audit's flag, not this tool's
