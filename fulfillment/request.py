"""A typed, read-only view of a Dialogflow CX v3 ``WebhookRequest``.

The view wraps the parsed JSON (already checked against the schema by ``_validate``) and
computes each part on first use, so a handler that reads only the tag and one parameter pays
for nothing else. Omitted fields read as their proto defaults (``""``, ``0.0``, ``False``,
empty mappings); unknown fields are ignored.

    >>> req = WebhookRequest({"fulfillmentInfo": {"tag": "lookup-order"},
    ...                       "sessionInfo": {"parameters": {"Order_ID": "ORD-1"}}})
    >>> req.tag, req.param("order_id")
    ('lookup-order', 'ORD-1')

Parameter lookup (``param``) is case-insensitive, as the CX docs require, and looks in three
places, freshest first:

1. the current page's form parameters (``pageInfo.formInfo.parameterInfo[].value``): what the
   form holds this turn, including a value the caller just gave;
2. the last matched intent's parameters (``intentInfo.parameters.<name>.resolvedValue``): what
   was extracted from this turn's utterance;
3. the session parameters (``sessionInfo.parameters``): everything collected so far.

A form parameter that is present but ``EMPTY`` (no value) does not hide a value further down.
"""

import re
from types import MappingProxyType

_EMPTY = MappingProxyType({})

_NO_SESSION = ("", "", "")


def _split_session(name):
    """``(agent, environment, session id)`` of a session name, as the official sample's
    expression ``^(?P<agent>.+?)(?:/environments/(?P<env>[^/]+))?/sessions/(?P<id>[^/]+)$``
    reads it (``tests/test_request.py`` compares the two); ``("", "", "")`` when it does not
    match. Without the expression: a call reads the session id for its log labels, and
    partitioning the string costs a third of matching it."""
    agent, found, session_id = name.rpartition("/sessions/")
    if not found or not agent or not session_id or "/" in session_id:
        return _NO_SESSION
    head, found, environment = agent.rpartition("/environments/")
    if found and head and environment and "/" not in environment and "\n" not in head:
        return head, environment, session_id
    if "\n" in agent:  # the expression's "." stops at a line break
        return _NO_SESSION
    return agent, "", session_id


_FLOW_RE = re.compile(r"^(?P<flow>.+/flows/[^/]+)(?:/pages/(?P<page>[^/]+))?$")

QUERY_KINDS = ("text", "transcript", "triggerIntent", "triggerEvent", "dtmfDigits")


class cached_property:  # lower case: a drop-in for functools.cached_property
    """``functools.cached_property`` without its per-instance lock (Python 3.11 takes one on
    every first access, a measurable cost on the request path). A request view is used by
    one thread, so a race would at worst compute the same value twice."""

    def __init__(self, func):
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        value = instance.__dict__[self.name] = self.func(instance)
        return value


def _lookup(mapping, name, key):
    """``mapping[name]``, else the first entry whose name matches case-insensitively."""
    value = mapping.get(name)
    if value is not None:
        return value
    for other, value in mapping.items():
        if value is not None and other.lower() == key:
            return value
    return None


class IntentParameter:
    """One parameter of the matched intent: what was said and what it resolved to."""

    __slots__ = ("name", "original", "resolved")

    def __init__(self, name, raw):
        self.name = name
        self.original = raw.get("originalValue") or ""
        self.resolved = raw.get("resolvedValue")

    def __repr__(self):
        return f"IntentParameter({self.name!r}, original={self.original!r}, resolved={self.resolved!r})"


class FormParameter:
    """One parameter of the current page's form, with its state."""

    __slots__ = ("display_name", "required", "state", "value", "just_collected", "has_value")

    def __init__(self, raw):
        self.display_name = raw.get("displayName") or ""
        self.required = bool(raw.get("required"))
        state = raw.get("state")
        # Proto JSON allows enum numbers too; fold them into the names handlers compare with.
        self.state = _PARAMETER_STATES.get(state, state) or "PARAMETER_STATE_UNSPECIFIED"
        self.has_value = raw.get("value") is not None
        self.value = raw.get("value")
        self.just_collected = bool(raw.get("justCollected"))

    @property
    def filled(self):
        return self.state == "FILLED"

    @property
    def empty(self):
        """Nothing collected yet: the caller has not been asked, or has not answered."""
        return self.state == "EMPTY"

    def __repr__(self):
        return f"FormParameter({self.display_name!r}, state={self.state!r}, value={self.value!r})"


_PARAMETER_STATES = {0: "PARAMETER_STATE_UNSPECIFIED", 1: "EMPTY", 2: "INVALID", 3: "FILLED"}


class Intent:
    """The last matched intent (``intentInfo``)."""

    __slots__ = ("name", "display_name", "confidence", "parameters")

    def __init__(self, raw):
        self.name = raw.get("lastMatchedIntent") or ""
        self.display_name = raw.get("displayName") or ""
        self.confidence = float(raw.get("confidence") or 0.0)
        params = raw.get("parameters") or {}
        self.parameters = MappingProxyType({k: IntentParameter(k, v or {}) for k, v in params.items()})


class Sentiment:
    __slots__ = ("score", "magnitude")

    def __init__(self, raw):
        self.score = float(raw.get("score") or 0.0)
        self.magnitude = float(raw.get("magnitude") or 0.0)


class LanguageInfo:
    __slots__ = ("input_language_code", "resolved_language_code", "confidence")

    def __init__(self, raw):
        self.input_language_code = raw.get("inputLanguageCode") or ""
        self.resolved_language_code = raw.get("resolvedLanguageCode") or ""
        self.confidence = float(raw.get("confidenceScore") or 0.0)


class WebhookRequest:
    """Read-only view of one webhook call. Build it from the parsed JSON object.

    What every call's router and summary line read is read when the view is built:

    * ``tag``: ``fulfillmentInfo.tag``, which handler serves this call (``""`` if absent);
    * ``detect_intent_response_id``: the id of this turn's response, the same for every
      webhook call of one turn;
    * ``language_code``;
    * ``query_kind``: which query arrived: ``text``, ``transcript``, ``triggerIntent``,
      ``triggerEvent``, ``dtmfDigits``, or ``None`` (for instance a webhook on a page's entry
      fulfillment);
    * ``session``: the full session resource name, and from it ``session_id`` (for both
      ``…/sessions/<id>`` and ``…/environments/<e>/sessions/<id>``), ``environment`` (the
      environment id when the session runs in one, else ``""``) and ``agent``
      (``projects/<p>/locations/<l>/agents/<a>``);
    * ``session_params``: all session parameters, as sent (keys in the agent's own case).

    The rest (the form, the intent, the payload, ...) is computed on first use.
    """

    def __init__(self, body):
        # Plain attributes rather than properties: in Python 3.11 each property read, and each
        # first cached_property read, is a call from C back into the interpreter, and a call
        # reads these ten times. Read here, they cost ~6k fewer of the ~700k instructions of a
        # webhook call (cachegrind), about 1 µs.
        session_info = body.get("sessionInfo") or {}
        session = session_info.get("session") or ""
        agent, environment, session_id = _split_session(session)
        params = session_info.get("parameters")
        query_kind = None
        for kind in QUERY_KINDS:
            if body.get(kind) is not None:
                query_kind = kind
                break
        attributes = self.__dict__  # not through __setattr__, which refuses
        attributes["_body"] = body
        attributes["tag"] = (body.get("fulfillmentInfo") or {}).get("tag") or ""
        attributes["detect_intent_response_id"] = body.get("detectIntentResponseId") or ""
        attributes["language_code"] = body.get("languageCode") or ""
        attributes["query_kind"] = query_kind
        attributes["session"] = session
        attributes["agent"] = agent
        attributes["environment"] = environment
        attributes["session_id"] = session_id
        attributes["session_params"] = MappingProxyType(params) if params else _EMPTY

    def __setattr__(self, name, value):
        # Read-only: handlers answer with a Response, they do not edit the request.
        # (cached_property stores into __dict__ directly, so caching still works.)
        raise AttributeError(f"WebhookRequest is read-only; cannot set {name!r}")

    # -- the query -----------------------------------------------------------------------

    @property
    def query(self):
        """The query itself: the text, transcript, intent or event name, or digits."""
        kind = self.query_kind
        return self._body[kind] if kind else ""

    @property
    def text(self):
        """What the caller said or typed (text or transcript), else ``""``."""
        return self._body.get("text") or self._body.get("transcript") or ""

    # -- page and form ---------------------------------------------------------------------

    @property
    def page(self):
        """Full resource name of the current page (``""`` if not sent)."""
        return (self._body.get("pageInfo") or {}).get("currentPage") or ""

    @property
    def page_display_name(self):
        return (self._body.get("pageInfo") or {}).get("displayName") or ""

    @property
    def flow(self):
        """Full resource name of the current flow, derived from the current page."""
        match = _FLOW_RE.match(self.page)
        return match["flow"] if match else ""

    @cached_property
    def form(self):
        """The current page's form parameters, by display name (in the agent's case)."""
        info = ((self._body.get("pageInfo") or {}).get("formInfo") or {}).get("parameterInfo") or ()
        form = {}
        for raw in info:  # a loop: a comprehension is one more call in 3.11 (~1.5k instructions)
            parameter = FormParameter(raw)
            form[parameter.display_name] = parameter
        return MappingProxyType(form)

    # -- intent ----------------------------------------------------------------------------

    @cached_property
    def intent(self):
        """The last matched intent, or ``None`` (event-triggered turns have none)."""
        raw = self._body.get("intentInfo")
        return Intent(raw) if raw is not None else None

    # -- parameters, whatever their source -----------------------------------------------

    def param(self, name, default=None):
        """A parameter by name, case-insensitive: form, then intent, then session.

        A parameter explicitly ``null`` is absent: ``default`` is returned.
        """
        key = name.lower()
        form = self.form
        if form:
            parameter = _lookup(form, name, key)
            if parameter is not None and parameter.has_value:
                return parameter.value
        intent = self.intent
        if intent is not None and intent.parameters:
            parameter = _lookup(intent.parameters, name, key)
            if parameter is not None and parameter.resolved is not None:
                return parameter.resolved
        value = _lookup(self.session_params, name, key)
        return default if value is None else value

    def has_param(self, name):
        return self.param(name) is not None

    def session_param(self, name, default=None):
        """A session parameter only (case-insensitive)."""
        value = _lookup(self.session_params, name, name.lower())
        return default if value is None else value

    def form_param(self, name):
        """The form parameter of that display name (case-insensitive), or ``None``."""
        return _lookup(self.form, name, name.lower())

    def unanswered(self, name):
        """Whether the form parameter ``name`` is still EMPTY, with no value.

        A validation webhook called before the caller has answered has nothing to judge, and
        must not tell the caller that what they said "doesn't look right".
        """
        form = self.form_param(name)
        return form is not None and form.empty and not form.has_value

    # -- the rest ----------------------------------------------------------------------------

    @cached_property
    def messages(self):
        """Responses already queued this turn (raw ResponseMessage objects)."""
        return tuple(self._body.get("messages") or ())

    @cached_property
    def payload(self):
        """``payload``: data from the API caller or the integration (e.g. telephony caller id)."""
        payload = self._body.get("payload")
        return MappingProxyType(payload) if payload else _EMPTY

    @property
    def caller_id(self):
        """The caller's phone number when the Phone Gateway sent it, else ``""``."""
        telephony = self.payload.get("telephony")
        return (telephony.get("caller_id") or "") if isinstance(telephony, dict) else ""

    @cached_property
    def sentiment(self):
        raw = self._body.get("sentimentAnalysisResult")
        return Sentiment(raw) if raw is not None else None

    @cached_property
    def language_info(self):
        raw = self._body.get("languageInfo")
        return LanguageInfo(raw) if raw is not None else None

    @property
    def raw(self):
        """The parsed request body, for what this view does not cover. Do not modify it."""
        return self._body

    def __repr__(self):
        return f"WebhookRequest(tag={self.tag!r}, session_id={self.session_id!r})"
