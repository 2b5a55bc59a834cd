"""Handoff (``handlers/handoff.py``): transfer-to-agent."""

import pytest

from tests.conftest import outcome_of
from tests.tags.kit import resolve, session_params

# --- transfer-to-agent ----------------------------------------------------------------------------


HANDOFF_SENTENCE = "Let me connect you with a member of our team. One moment, please."


def test_transfer_to_agent_hands_off_with_the_reason_and_the_topics_of_the_call(backends):
    answer = resolve(
        "transfer-to-agent",
        {
            "handoff_reason": "billing question",
            "order_id": "ORD-1002",
            "account_id": "ACC-12345678",
            "customer_email": "ada@example.com",
        },
    )

    assert answer["fulfillmentResponse"]["messages"] == [
        {"text": {"text": [HANDOFF_SENTENCE]}},
        {
            "liveAgentHandoff": {
                "metadata": {
                    "reason": "billing question",
                    "order_id": "ORD-1002",
                    "account_id": "ACC-12345678",
                }
            }
        },
    ]
    assert session_params(answer) == {"handoff_requested": True, "webhook_outcome": "ok"}
    assert len(backends.calls) == 0


@pytest.mark.parametrize(
    ("number", "caller_id", "transferred"),
    [
        ("+15555550123", "+15555550100", True),
        ("+15555550123", None, False),
        (None, "+15555550100", False),
        ("   ", "+15555550100", False),
    ],
    ids=["phone call with a number", "chat with a number", "phone call without a number", "blank number"],
)
def test_transfer_to_agent_transfers_only_a_phone_call_and_only_to_a_configured_number(
    backends, monkeypatch, number, caller_id, transferred
):
    if number is not None:
        monkeypatch.setenv("HANDOFF_PHONE_NUMBER", number)
    payload = {"payload": {"telephony": {"caller_id": caller_id}}} if caller_id else {}

    answer = resolve("transfer-to-agent", {}, **payload)

    messages = answer["fulfillmentResponse"]["messages"]
    assert messages[:2] == [
        {"text": {"text": [HANDOFF_SENTENCE]}},
        {"liveAgentHandoff": {"metadata": {"reason": "caller asked for a person"}}},
    ]
    assert messages[2:] == (
        [{"telephonyTransferCall": {"phoneNumber": "+15555550123"}}] if transferred else []
    )
    assert outcome_of(answer) == "ok"
    assert len(backends.calls) == 0
