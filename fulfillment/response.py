"""Build a Dialogflow CX v3 ``WebhookResponse``.

A handler says what the caller hears and what changes, in the order a person would say it:

    >>> reply = (Response()
    ...          .say("Your order ORD-1 has shipped.")
    ...          .set(order_status="shipped")
    ...          .remove("return_id"))
    >>> reply.to_dict()["sessionInfo"]
    {'parameters': {'order_status': 'shipped', 'return_id': None, 'webhook_outcome': 'ok'}}

Every method returns the response, so calls chain. Only what a webhook may set is offered
(docs/CONTRACT.md §2 and §4), and only valid enum names are emitted.

Session parameter ``webhook_outcome`` is set on every answer (``ok`` unless a handler or the
router says otherwise), so the flow can branch with a condition such as
``$session.params.webhook_outcome = "unavailable"``.
"""

import json
import logging

from fulfillment._json import compact_encoder

OUTCOME_PARAM = "webhook_outcome"

log = logging.getLogger("fulfillment")

# Symbolic pages that CX resolves inside the current flow (flows/<F>/pages/<SYMBOL>).
END_SESSION = "END_SESSION"
END_FLOW = "END_FLOW"
PREVIOUS_PAGE = "PREVIOUS_PAGE"
CURRENT_PAGE = "CURRENT_PAGE"
START_PAGE = "START_PAGE"


class Response:
    """A WebhookResponse under construction. ``to_dict(request)`` renders it."""

    __slots__ = ("_messages", "_merge", "_params", "_invalid", "_target", "_payload", "outcome")

    def __init__(self, *texts):
        self._messages = []
        self._merge = None
        self._params = {}
        self._invalid = {}
        self._target = None  # ("page" | "flow", name)
        self._payload = None
        self.outcome = "ok"
        if texts:
            self.say(*texts)

    # -- what the caller hears -----------------------------------------------------------

    def say(self, *variants, channel=None):
        """A text message. Several variants: Dialogflow picks one at random."""
        if not variants:
            raise ValueError("say() needs at least one text")
        return self._add({"text": {"text": [str(v) for v in variants]}}, channel)

    def speak(self, text=None, *, ssml=None, channel=None):
        """Audio output for voice channels: plain text, or SSML (``<speak>…</speak>``).

        When a turn has any outputAudioText, voice channels speak it instead of the texts.
        """
        if (text is None) == (ssml is None):
            raise ValueError("speak() takes either text or ssml")
        body = {"text": str(text)} if ssml is None else {"ssml": str(ssml)}
        return self._add({"outputAudioText": body}, channel)

    def play_audio(self, audio_uri, *, channel=None):
        """Play a pre-recorded audio file (the URI is interpreted by the integration)."""
        return self._add({"playAudio": {"audioUri": str(audio_uri)}}, channel)

    def transfer_call(self, phone_number, *, channel=None):
        """Phone Gateway: transfer the call to an E.164 number such as ``+15555550123``."""
        return self._add({"telephonyTransferCall": {"phoneNumber": str(phone_number)}}, channel)

    def handoff(self, *, channel=None, **metadata):
        """Ask the integration to hand the conversation to a human agent."""
        return self._add({"liveAgentHandoff": {"metadata": metadata}}, channel)

    def success(self, *, channel=None, **metadata):
        """Mark the conversation as successful (an analytics signal only)."""
        return self._add({"conversationSuccess": {"metadata": metadata}}, channel)

    def custom(self, payload, *, channel=None):
        """A custom payload message, passed to the client as-is."""
        if not isinstance(payload, dict):
            raise TypeError("a custom payload must be a dict")
        return self._add({"payload": payload}, channel)

    def rich(self, *rows, channel=None):
        """Dialogflow Messenger rich content: each argument is one card (a list of elements,
        see ``fulfillment.richcontent``), or a single element for a one-element card."""
        cards = [list(row) if isinstance(row, (list, tuple)) else [row] for row in rows]
        return self.custom({"richContent": cards}, channel=channel)

    def replace(self):
        """Replace the messages Dialogflow already queued this turn, instead of appending."""
        self._merge = "REPLACE"
        return self

    def append(self):
        """Append to the messages already queued (Dialogflow's default), said explicitly."""
        self._merge = "APPEND"
        return self

    def _add(self, message, channel):
        if channel:
            message["channel"] = str(channel)
        self._messages.append(message)
        return self

    # -- what changes ------------------------------------------------------------------------

    def set(self, mapping=None, /, **params):
        """Create or update session parameters. ``None`` removes a parameter."""
        if mapping:
            self._params.update(mapping)
        self._params.update(params)
        return self

    def remove(self, *names):
        """Remove session parameters (sent as explicit ``null``)."""
        for name in names:
            self._params[name] = None
        return self

    def invalidate(self, display_name, *, required=None):
        """Mark a form parameter INVALID and clear its value, so the agent prompts again.

        Pair it with ``say()`` to tell the caller what was wrong. The agent's
        ``sys.invalid-parameter`` handler (or the parameter's initial prompt) runs next.
        ``display_name`` matches the request's form in any case, and the parameter keeps the
        form's own spelling and ``required`` (an optional one stays optional) unless
        ``required`` is given; a parameter the request does not name is sent as required.
        """
        self._invalid[display_name] = required
        self._params[display_name] = None
        return self

    def goto_page(self, page):
        """Transition to a page: a full resource name, a page id in the current flow, or one
        of the symbolic pages (``END_SESSION``, ``END_FLOW``, ``PREVIOUS_PAGE``,
        ``CURRENT_PAGE``, ``START_PAGE``), resolved in the current flow."""
        self._target = ("page", str(page))
        return self

    def goto_flow(self, flow):
        """Transition to a flow (full resource name, or a flow id in the current agent)."""
        self._target = ("flow", str(flow))
        return self

    def end_session(self):
        return self.goto_page(END_SESSION)

    def end_flow(self):
        return self.goto_page(END_FLOW)

    def payload(self, mapping=None, /, **data):
        """Response-level payload: appended to ``QueryResult.webhookPayloads`` for the API caller."""
        if self._payload is None:
            self._payload = {}
        if mapping:
            self._payload.update(mapping)
        self._payload.update(data)
        return self

    def with_outcome(self, outcome):
        """Set ``webhook_outcome`` for the flow to branch on (``ok`` by default)."""
        self.outcome = outcome
        return self

    # -- rendering -------------------------------------------------------------------------

    def to_dict(self, request=None):
        """Render as a WebhookResponse dict. ``request`` resolves relative transitions."""
        out = {}
        if self._messages or self._merge:
            fulfillment = {"messages": self._messages}
            if self._merge:
                fulfillment["mergeBehavior"] = self._merge
            out["fulfillmentResponse"] = fulfillment
        params = dict(self._params)
        params[OUTCOME_PARAM] = self.outcome
        out["sessionInfo"] = {"parameters": params}
        if self._invalid:
            out["pageInfo"] = {"formInfo": {"parameterInfo": _invalid_params(self._invalid, request, params)}}
        if self._target:
            kind, name = self._target
            resolved = _resolve_target(kind, name, request)
            if resolved:
                out["targetPage" if kind == "page" else "targetFlow"] = resolved
            else:
                log.warning("transition to %s %r dropped: the request names no current flow", kind, name)
        if self._payload is not None:
            out["payload"] = self._payload
        return out


def _invalid_params(invalid, request, params):
    """``parameterInfo`` for the invalidated parameters, as the request's form names them."""
    infos = []
    for name, required in invalid.items():
        form = request.form_param(name) if request is not None else None
        if form is not None and form.display_name and form.display_name != name:
            params[form.display_name] = params.pop(name, None)  # clear the form's own spelling
            name = form.display_name
        if required is None:
            required = form.required if form is not None else True
        infos.append({"displayName": name, "required": required, "state": "INVALID"})
    return infos


def _resolve_target(kind, name, request):
    if name.startswith("projects/"):
        return name
    if request is None:
        return ""
    if kind == "page":
        flow = request.flow
        return f"{flow}/pages/{name}" if flow else ""
    agent = request.agent or _agent_of(request.flow)
    return f"{agent}/flows/{name}" if agent else ""


def _agent_of(flow):
    head, sep, _ = flow.partition("/flows/")
    return head if sep else ""


# --- The 64 KiB limit --------------------------------------------------------------------------


_dumps = compact_encoder()


def encode(body):
    """Compact UTF-8 JSON, as sent on the wire."""
    text = _dumps(body)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate ("\udc80" in some JSON a handler passed on): UTF-8 cannot carry
        # it, and failing here would leave the caller without an answer. It becomes "?".
        return text.encode("utf-8", "replace")


def fit(body, limit, apology):
    """Encode ``body``, cutting it down to at most ``limit`` bytes if it is larger.

    Dialogflow rejects a response over 64 KiB, which the caller would hear as a webhook error.
    The cuts are deterministic and ordered from least to most spoken value: the response-level
    payload, then custom payload messages (last first), then the largest metadata entries of
    a handoff or success signal, then the other messages (last first, keeping the first text
    and every signal), then the first text is shortened, then large session parameter values
    are dropped. A signal (live agent handoff, call transfer, end of the interaction) is never
    cut on its own: the text beside it promises it ("Let me connect you..."). As a last
    resort, a minimal answer with ``apology``. Each cut is logged.

    Before any of these, a free-form value nested deeper than Dialogflow's parser accepts (a
    session parameter echoed from the request into a handoff's metadata can be) is removed:
    the whole answer would otherwise be refused.

    Returns ``(encoded_bytes, cuts)`` where ``cuts`` lists what was removed.
    """
    data = encode(body)
    # Nesting is checked only where it could be too deep: with fewer objects and lists (or
    # braces in strings) than the shallowest limit, no value nests that deep.
    maybe_too_deep = data.count(b"{") + data.count(b"[") > _MAX_NESTING_IN_MESSAGE
    if len(data) <= limit and not maybe_too_deep:
        return data, []
    body = json.loads(data)  # a private copy we may cut
    cuts = []
    if maybe_too_deep and _cut_too_deep(body, cuts):
        data = encode(body)
    if not cuts and len(data) <= limit:
        return data, []
    # Always make the least valuable cut that still applies, then measure again: dropping a
    # large parameter can make shortening the text worthwhile where it was not before.
    while len(data) > limit and any(cut(body, cuts, len(data) - limit) for cut in _CUTS):
        data = encode(body)
    if len(data) > limit:
        data = _last_resort(body, limit, apology)
        cuts.append("everything")
    log.warning(
        "response cut to fit Dialogflow's limits (%d bytes, nesting): removed %s", limit, ", ".join(cuts)
    )
    return data, cuts


# Protobuf's JSON parser refuses a message nested over 100 levels, and each level of a
# free-form value (Struct, Value, ListValue) costs two. The deepest a value may nest, in
# objects or lists, measured with WebhookResponse.from_json (tests/test_response.py holds
# the parser to these numbers): in sessionInfo.parameters and the response payload, and in a
# message's payload or a handoff's or success's metadata, one message level further down.
_MAX_NESTING_AT_TOP = 48
_MAX_NESTING_IN_MESSAGE = 47


def _cut_too_deep(body, cuts):
    """Remove every free-form value nested deeper than Dialogflow accepts; True if any was."""
    before = len(cuts)
    params = (body.get("sessionInfo") or {}).get("parameters") or {}
    for name, value in params.items():
        if _deeper_than(value, _MAX_NESTING_AT_TOP):
            params[name] = None  # removed, not left out: see _cut_large_param
            cuts.append(f"session parameter {name!r} (nested too deep)")
    payload = body.get("payload") or {}
    for key in [key for key, value in payload.items() if _deeper_than(value, _MAX_NESTING_AT_TOP)]:
        del payload[key]
        cuts.append(f"payload {key!r} (nested too deep)")
    messages = _messages(body)
    for i in range(len(messages) - 1, -1, -1):
        message = messages[i]
        if _deeper_than(message.get("payload"), _MAX_NESTING_IN_MESSAGE + 1):
            del messages[i]
            cuts.append(f"message[{i}] (payload nested too deep)")
            continue
        for kind in _SIGNALS_WITH_METADATA:
            metadata = (message.get(kind) or {}).get("metadata") or {}
            for key in [
                key for key, value in metadata.items() if _deeper_than(value, _MAX_NESTING_IN_MESSAGE)
            ]:
                del metadata[key]
                cuts.append(f"message[{i}] ({kind}) metadata {key!r} (nested too deep)")
    return len(cuts) > before


def _deeper_than(value, levels):
    """Whether ``value`` nests more than ``levels`` objects or lists (``{}`` is one level)."""
    if value.__class__ is dict:
        children = value.values()
    elif value.__class__ is list:
        children = value
    else:
        return False
    return levels == 0 or any(_deeper_than(child, levels - 1) for child in children)


def _last_resort(body, limit, apology):
    """``apology`` alone, with what must not be lost if it fits: the removals (an earlier
    caller's answer must not outlive this call, see WebhookApp.tag's answers=) and the form
    parameter states (an invalidated parameter must still be prompted for again)."""
    params = (body.get("sessionInfo") or {}).get("parameters") or {}
    outcome = params.get(OUTCOME_PARAM, "ok")
    answer = Response(apology).with_outcome(outcome).to_dict()
    removals = {name: None for name, value in params.items() if value is None}
    answer["sessionInfo"]["parameters"].update(removals)
    if "pageInfo" in body:
        answer["pageInfo"] = body["pageInfo"]
    data = encode(answer)
    if len(data) > limit:  # the form states go first
        answer.pop("pageInfo", None)
        data = encode(answer)
    if len(data) > limit:  # then the removals: the apology and the outcome always fit
        answer["sessionInfo"]["parameters"] = {OUTCOME_PARAM: outcome}
        data = encode(answer)
    return data


def _messages(body):
    return (body.get("fulfillmentResponse") or {}).get("messages") or []


def _cut_payload(body, cuts, excess):
    if "payload" in body:
        del body["payload"]
        cuts.append("payload")
        return True
    return False


def _cut_payload_message(body, cuts, excess):
    messages = _messages(body)
    for i in range(len(messages) - 1, -1, -1):
        if "payload" in messages[i]:
            del messages[i]
            cuts.append(f"message[{i}] (payload)")
            return True
    return False


def _cut_signal_metadata(body, cuts, excess):
    entries = [
        (len(encode(value)), i, kind, key)
        for i, message in enumerate(_messages(body))
        for kind in _SIGNALS_WITH_METADATA
        if isinstance(message.get(kind), dict)
        for key, value in (message[kind].get("metadata") or {}).items()
    ]
    if not entries:
        return False
    _size, i, kind, key = max(entries)
    del _messages(body)[i][kind]["metadata"][key]
    cuts.append(f"message[{i}] ({kind}) metadata {key!r}")
    return True


def _cut_other_message(body, cuts, excess):
    messages = _messages(body)
    first_text = next((i for i, m in enumerate(messages) if "text" in m), None)
    for i in range(len(messages) - 1, -1, -1):
        if i != first_text and not _SIGNALS.intersection(messages[i]):
            kind = next(iter(k for k in messages[i] if k != "channel"), "message")
            del messages[i]
            cuts.append(f"message[{i}] ({kind})")
            return True
    return False


def _cut_first_text(body, cuts, excess):
    for message in _messages(body):
        if "text" in message:
            variants = message["text"]["text"]
            if len(variants) > 1:
                del variants[1:]
                cuts.append("text variants")
                return True
            text = variants[0] if variants else ""
            # ``excess`` is in bytes, and a character takes 1 to 6 of them ("é", "注", an
            # escaped control): keep the share of characters that leaves out ``excess`` bytes
            # and a margin, on average. A text denser at its start is cut again next round.
            size = len(encode(text))
            keep = len(text) * (size - excess - 16) // size
            if keep < 16:
                return False
            short = text[:keep].rsplit(" ", 1)[0] + "…"
            if short == text:
                return False
            variants[0] = short
            cuts.append("text shortened")
            return True
    return False


def _cut_large_param(body, cuts, excess):
    params = (body.get("sessionInfo") or {}).get("parameters") or {}
    sizes = sorted(
        ((len(encode(v)), k) for k, v in params.items() if k != OUTCOME_PARAM and v is not None),
        reverse=True,
    )
    if sizes and sizes[0][0] > 256:
        # Removed, not left out: leaving the update out would keep the session's previous
        # value, which may be an earlier caller's answer (see WebhookApp.tag's answers=).
        params[sizes[0][1]] = None
        cuts.append(f"session parameter {sizes[0][1]!r}")
        return True
    return False


# Messages that make something happen, and those of them that carry metadata.
_SIGNALS = frozenset({"liveAgentHandoff", "telephonyTransferCall", "endInteraction", "conversationSuccess"})
_SIGNALS_WITH_METADATA = ("liveAgentHandoff", "conversationSuccess")
_CUTS = (
    _cut_payload,
    _cut_payload_message,
    _cut_signal_metadata,
    _cut_other_message,
    _cut_first_text,
    _cut_large_param,
)
