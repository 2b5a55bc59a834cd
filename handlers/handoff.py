"""Hand the conversation to a person.

On the phone (Phone Gateway sends the caller id), with ``HANDOFF_PHONE_NUMBER`` set, the call
is transferred to that number; on every channel, a ``liveAgentHandoff`` message tells the
integration to bring in an agent, with the reason and what the conversation was about, so
the person who picks up does not have to ask again.
"""

import os

from fulfillment import Response
from fulfillment.values import as_text
from handlers import app

# What the receiving agent gets to see: the ids and statuses the conversation found (never
# what the caller said), with handoff_reason as the flow set it.
CONTEXT_PARAMS = ("order_id", "order_status", "return_id", "customer_id", "account_id", "confirmation_id")


@app.tag("transfer-to-agent")
def transfer_to_agent(request):
    reason = as_text(request.param("handoff_reason")) or "caller asked for a person"
    # Ids and statuses are scalars: a structure in their place is no topic, and echoed whole
    # it would cost a copy and a walk of up to MAX_REQUEST_BYTES in fit().
    context = {
        name: value
        for name in CONTEXT_PARAMS
        if (value := request.param(name)) is not None and not isinstance(value, (dict, list))
    }
    reply = Response("Let me connect you with a member of our team. One moment, please.").handoff(
        reason=reason, **context
    )
    phone = os.environ.get("HANDOFF_PHONE_NUMBER", "").strip()
    if phone and request.caller_id:
        reply.transfer_call(phone)
    return reply.set(handoff_requested=True)
