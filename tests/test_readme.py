"""The README's "Adding a tag" example, run as written: forks copy it."""

import re

import pytest
import responses

import handlers
from fulfillment.app import WebhookApp
from fulfillment.backend import Client, reset
from fulfillment.config import Settings
from tests.conftest import ROOT, assert_valid_response, cx_request, outcome_of, texts_of


@pytest.fixture
def readme_app(monkeypatch):
    """A fresh app for the example to register on, and its backend at a mocked URL."""
    text = (ROOT / "README.md").read_text()
    example = re.search(r"```python\n(# handlers/loyalty\.py\n.*?)```", text, re.DOTALL)
    assert example, "the README's 'Adding a tag' example is gone: update this test"
    app = WebhookApp(settings=Settings.from_env({"AUTH_MODES": "none"}))
    monkeypatch.setattr(handlers, "app", app)  # what `from handlers import app` picks up
    reset(Client(env={"BACKEND_LOYALTY_URL": "https://loyalty.test"}))
    exec(compile(example[1], "README.md (handlers/loyalty.py)", "exec"), {"__name__": "handlers.loyalty"})  # noqa: S102
    yield app
    reset()


@pytest.mark.parametrize("said", ["M-1234", "m 1234", "M-1234.", "M-١٢٣٤"])
def test_the_readme_example_reads_a_member_id_however_it_is_said(readme_app, said):
    with responses.RequestsMock(target="fulfillment.transport.PooledAdapter.send") as mocked:
        mocked.get("https://loyalty.test/members/M-1234", json={"points": 1200})
        answer = assert_valid_response(readme_app.resolve(cx_request("points-balance", {"member_id": said})))

    assert texts_of(answer) == ["You have 1200 points."]
    assert answer["sessionInfo"]["parameters"]["points"] == 1200


def test_the_readme_example_asks_again_and_says_a_miss(readme_app):
    with responses.RequestsMock(target="fulfillment.transport.PooledAdapter.send") as mocked:
        mocked.get("https://loyalty.test/members/M-9999", status=404, json={"error": "no such member"})
        asked = readme_app.resolve(cx_request("points-balance", {"member_id": "M-1?a=b"}))
        assert outcome_of(asked) == "invalid-input" and len(mocked.calls) == 0  # never in a path
        missed = readme_app.resolve(cx_request("points-balance", {"member_id": "M-9999"}))

    assert texts_of(missed) == ["I couldn't find member M-9999. Could you check the number?"]
    assert missed["sessionInfo"]["parameters"]["points"] is None  # answers= clears it


def test_the_readme_example_never_reads_out_another_members_points(readme_app):
    with responses.RequestsMock(target="fulfillment.transport.PooledAdapter.send") as mocked:
        mocked.get("https://loyalty.test/members/M-1234", json={"member_id": "M-5678", "points": 9})
        answer = readme_app.resolve(cx_request("points-balance", {"member_id": "M-1234"}))

    assert outcome_of(answer) == "bad-backend-data"
    assert "9" not in texts_of(answer)[0]


def test_the_readme_validator_judges_what_was_said_and_nothing_before(readme_app):
    def form(**parameter):
        return {"formInfo": {"parameterInfo": [{"displayName": "member_id", **parameter}]}}

    unanswered = readme_app.resolve(cx_request("validate-member-id", pageInfo=form(state="EMPTY")))
    wrong = readme_app.resolve(
        cx_request("validate-member-id", pageInfo=form(state="FILLED", value="banana", justCollected=True))
    )
    right = readme_app.resolve(
        cx_request("validate-member-id", pageInfo=form(state="FILLED", value="m 1234", justCollected=True))
    )

    assert texts_of(unanswered) == [] and outcome_of(unanswered) == "no-input"
    assert texts_of(wrong) == ["That isn't a membership number. It starts with M, like M-1234."]
    assert assert_valid_response(wrong)["pageInfo"]["formInfo"]["parameterInfo"][0]["state"] == "INVALID"
    assert wrong["sessionInfo"]["parameters"]["member_id"] is None
    assert right["sessionInfo"]["parameters"] == {"member_id": "M-1234", "webhook_outcome": "ok"}
