"""Send one WebhookRequest to the service and read the answer like a person would.

    python -m tools.invoke lookup-order order_id=ORD-1001
    python -m tools.invoke check-inventory product_id=SKU-1 quantity=2 --text "do you have it in red"
    python -m tools.invoke --file examples/lookup-order.json
    python -m tools.invoke lookup-order order_id=ORD-1001 --url https://REGION-PROJECT.cloudfunctions.net/cx-webhook --id-token

Parameters are ``name=value``; a value that parses as JSON is sent as that JSON (``quantity=2``
is a number, ``gift=true`` a boolean, ``dates=["2026-01-02"]`` a list), anything else as a
string. The answer is printed as what the caller hears or sees, the session parameters the
webhook set or removed, invalidated form parameters, the transition and ``webhook_outcome``;
``--raw`` prints the JSON instead.

Exit status: 0 for a 200 with a JSON body, 1 for any other answer, 2 when the service cannot
be reached (or an ID token cannot be had).
"""

import argparse
import json
import math
import sys
import time
import urllib.error
import urllib.request
import uuid
from urllib.parse import urlsplit, urlunsplit

DEFAULT_URL = "http://localhost:8080"
# Made-up but well-formed resource names, so the service sees what Dialogflow would send.
AGENT = "projects/invoke-cli/locations/global/agents/invoke-agent"
CURRENT_PAGE = f"{AGENT}/flows/invoke-flow/pages/invoke-page"
OUTCOME_PARAM = "webhook_outcome"
# Dialogflow's default webhook timeout: slower answers would be a webhook.error.timeout.
DIALOGFLOW_TIMEOUT_S = 5.0


class InvokeError(Exception):
    """The request could not be made; exit status 2."""


def parse_value(text):
    """The JSON value ``text`` spells, or ``text`` itself.

    >>> parse_value("2"), parse_value("true"), parse_value("ORD-1001"), parse_value('"7"')
    (2, True, 'ORD-1001', '7')
    >>> parse_value("1e400")  # a float would be infinite, which JSON cannot carry
    '1e400'
    """
    try:
        value = json.loads(text, parse_constant=_not_json)  # NaN, Infinity: Python's, not JSON's
    except ValueError:
        return text
    if isinstance(value, float) and not math.isfinite(value):
        return text
    return value


def _not_json(word):
    raise ValueError(f"{word} is not JSON")


def parse_parameter(pair):
    """``name=value`` → ``(name, value)``.

    >>> parse_parameter("quantity=2"), parse_parameter("note=a=b")
    (('quantity', 2), ('note', 'a=b'))
    """
    name, separator, value = pair.partition("=")
    if not separator or not name.strip():
        raise InvokeError(f"parameter {pair!r} is not name=value")
    return name.strip(), parse_value(value)


def session_path(session_id):
    return f"{AGENT}/sessions/{session_id}"


def build_request(tag, parameters, text=None, session_id=None, language_code="en"):
    """A WebhookRequest as Dialogflow CX would send it for ``tag``.

    >>> body = build_request("lookup-order", {"order_id": "ORD-1001"}, session_id="s1")
    >>> body["fulfillmentInfo"], body["sessionInfo"]["session"].rsplit("/", 1)[-1]
    ({'tag': 'lookup-order'}, 's1')
    """
    body = {
        "detectIntentResponseId": str(uuid.uuid4()),
        "fulfillmentInfo": {"tag": tag},
        "sessionInfo": {
            "session": session_path(session_id or f"invoke-{uuid.uuid4().hex[:12]}"),
            "parameters": dict(parameters),
        },
        "pageInfo": {"currentPage": CURRENT_PAGE, "displayName": "invoke-page"},
        "languageCode": language_code,
    }
    if text:
        body["text"] = text
    return body


def load_request(path, tag=None, parameters=None, text=None, session_id=None):
    """A request from a file (``examples/<tag>.json``), with the command line's overrides."""
    try:
        with open(path, encoding="utf-8") as source:
            body = json.load(source)
    except (OSError, ValueError) as exc:
        raise InvokeError(f"cannot read {path}: {exc}") from None
    if not isinstance(body, dict):
        raise InvokeError(f"{path} does not hold a JSON object")
    if tag:
        body.setdefault("fulfillmentInfo", {})["tag"] = tag
    session_info = body.setdefault("sessionInfo", {})
    if parameters:
        session_info.setdefault("parameters", {}).update(parameters)
    if session_id:
        session_info["session"] = session_path(session_id)
    if text:
        for query in ("triggerIntent", "transcript", "triggerEvent", "dtmfDigits"):
            body.pop(query, None)
        body["text"] = text
    return body


# -- reading the answer ------------------------------------------------------------------


def _short_json(value, limit=80):
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _rich_item(item):
    kind = item.get("type", "?")
    title = item.get("title") or item.get("text") or item.get("anchor", {}).get("text")
    options = item.get("options") or item.get("items") or item.get("event", {}).get("parameters")
    words = [kind]
    if title:
        words.append(_short_json(title, 40))
    if isinstance(options, list):
        words.append(f"({len(options)})")
    return " ".join(words)


def summarize_payload(payload):
    """One line for a custom payload: rich content item types, or the top-level keys.

    >>> summarize_payload({"richContent": [[{"type": "info", "title": "ORD-1"}, {"type": "chips", "options": [{}, {}]}]]})
    'rich content: info "ORD-1", chips (2)'
    >>> summarize_payload({"telephony": {"caller_id": "+1"}})
    'custom payload with telephony (32 bytes)'
    """
    if isinstance(payload, dict) and isinstance(payload.get("richContent"), list):
        items = [item for row in payload["richContent"] for item in (row if isinstance(row, list) else [row])]
        return "rich content: " + ", ".join(_rich_item(item) for item in items if isinstance(item, dict))
    size = len(json.dumps(payload, separators=(",", ":")))
    keys = ", ".join(payload) if isinstance(payload, dict) else type(payload).__name__
    return f"custom payload with {keys} ({size} bytes)"


def describe_message(message):
    """One ResponseMessage as the caller meets it.

    >>> describe_message({"text": {"text": ["Hi!", "Hello!"]}})
    'say: Hi! | Hello!'
    >>> describe_message({"telephonyTransferCall": {"phoneNumber": "+15555550123"}, "channel": "phone"})
    'transfer the call to +15555550123  [channel phone]'
    """
    channel = f"  [channel {message['channel']}]" if message.get("channel") else ""
    if "text" in message:
        line = "say: " + " | ".join(message["text"].get("text") or [])
    elif "outputAudioText" in message:
        audio = message["outputAudioText"]
        line = f"speak (SSML): {audio['ssml']}" if "ssml" in audio else f"speak: {audio.get('text', '')}"
    elif "payload" in message:
        line = summarize_payload(message["payload"])
    elif "liveAgentHandoff" in message:
        metadata = message["liveAgentHandoff"].get("metadata") or {}
        line = "hand off to a live agent" + (f" with {_short_json(metadata)}" if metadata else "")
    elif "telephonyTransferCall" in message:
        line = f"transfer the call to {message['telephonyTransferCall'].get('phoneNumber', '?')}"
    elif "playAudio" in message:
        line = f"play audio {message['playAudio'].get('audioUri', '?')}"
    elif "conversationSuccess" in message:
        metadata = message["conversationSuccess"].get("metadata") or {}
        line = "mark the conversation a success" + (f" with {_short_json(metadata)}" if metadata else "")
    elif "endInteraction" in message:
        line = "end the interaction"
    elif "mixedAudio" in message:
        line = f"mixed audio ({len(message['mixedAudio'].get('segments') or [])} segments)"
    elif "knowledgeInfoCard" in message:
        line = "knowledge info card"
    elif "toolCall" in message:
        call = message["toolCall"]
        line = f"tool call {call.get('tool', '?')} {call.get('action', '')}".rstrip()
    else:
        line = "unknown message " + _short_json(message)
    return line + channel


# Values whose keys are the webhook's own data, not field names: left as they are.
_FREE_FORM = frozenset({"parameters", "payload", "metadata", "value"})


def json_names(message):
    """``message`` with its proto field names in their JSON spelling: proto3 JSON accepts
    ``page_info`` for ``pageInfo`` (Google's own samples answer so), and Dialogflow reads both.

    >>> json_names({"session_info": {"parameters": {"order_id": 1}}})
    {'sessionInfo': {'parameters': {'order_id': 1}}}
    """
    if isinstance(message, list):
        return [json_names(item) for item in message]
    if not isinstance(message, dict):
        return message
    named = {}
    for key, value in message.items():
        head, *rest = key.split("_")
        name = head + "".join(word[:1].upper() + word[1:] for word in rest)
        named[name] = value if name in _FREE_FORM else json_names(value)
    return named


def describe_response(response, sent_parameters):
    """The lines a person reads: messages, parameter changes, form, transition, outcome."""
    response = json_names(response)
    lines = []
    fulfillment = response.get("fulfillmentResponse") or {}
    messages = fulfillment.get("messages") or []
    replace = fulfillment.get("mergeBehavior") == "REPLACE"
    if messages:
        how = ", replacing the messages queued so far" if replace else ""
        lines.append(f"Messages ({len(messages)}{how}):")
        lines.extend(f"  {describe_message(message)}" for message in messages)
    else:
        lines.append("Messages: none")

    parameters = dict((response.get("sessionInfo") or {}).get("parameters") or {})
    outcome = parameters.pop(OUTCOME_PARAM, None)
    changed, unchanged = [], []
    for name, value in parameters.items():
        if value is None:
            changed.append(f"  removed {name}")
        elif name in sent_parameters and sent_parameters[name] == value:
            unchanged.append(name)
        else:
            changed.append(f"  set {name} = {_short_json(value)}")
    if changed or unchanged:
        lines.append("Session parameters:")
        lines.extend(changed)
        if unchanged:
            lines.append(f"  ({len(unchanged)} unchanged: {', '.join(unchanged)})")
    else:
        lines.append("Session parameters: no change")

    form = ((response.get("pageInfo") or {}).get("formInfo") or {}).get("parameterInfo") or []
    invalid = [info.get("displayName", "?") for info in form if info.get("state") == "INVALID"]
    if invalid:
        lines.append(f"Invalidated form parameters (Dialogflow re-prompts): {', '.join(invalid)}")
    if response.get("targetPage"):
        lines.append(f"Transition: to page {response['targetPage']}")
    elif response.get("targetFlow"):
        lines.append(f"Transition: to flow {response['targetFlow']}")
    else:
        lines.append("Transition: none (the agent's own routes decide)")
    if response.get("payload"):
        lines.append(f"Payload for the API caller: {summarize_payload(response['payload'])}")
    lines.append(f"{OUTCOME_PARAM}: {outcome if outcome is not None else '(not set)'}")
    return lines


# -- sending -----------------------------------------------------------------------------


def mint_id_token(audience):
    """A Google-signed ID token for ``audience`` from Application Default Credentials."""
    import google.auth.exceptions
    import google.auth.transport.requests
    import google.oauth2.id_token

    try:
        return google.oauth2.id_token.fetch_id_token(google.auth.transport.requests.Request(), audience)
    except google.auth.exceptions.GoogleAuthError as exc:
        raise InvokeError(
            f"cannot mint an ID token for {audience}: {exc}. A service account (key file in "
            "GOOGLE_APPLICATION_CREDENTIALS, or the metadata server) can mint one; with user "
            'credentials pass --header "Authorization: Bearer $(gcloud auth print-identity-token)"'
        ) from None


def default_audience(url):
    """The function URL without query or fragment, which is what Cloud Functions expects.

    >>> default_audience("https://r-p.cloudfunctions.net/cx-webhook?x=1")
    'https://r-p.cloudfunctions.net/cx-webhook'
    """
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


class _Unfollowed(urllib.request.HTTPRedirectHandler):
    """Redirects are answers, not detours: urllib would re-send the POST as a GET (whose
    answer, the service's status, would read as a success), and Dialogflow follows none."""

    def redirect_request(self, *args, **kwargs):
        return None  # urllib then raises HTTPError with the 3xx


_NO_REDIRECTS = urllib.request.build_opener(_Unfollowed)


def post(url, body, headers, timeout):
    """POST ``body``; returns ``(status, reason, raw body, seconds)``. Raises InvokeError."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise InvokeError(f"--url must be an http:// or https:// URL, got {url!r}")
    data = json.dumps(body).encode("utf-8")
    request = urllib.request.Request(  # noqa: S310 (scheme checked just above)
        url, data=data, method="POST", headers={"Content-Type": "application/json", **headers}
    )
    started = time.monotonic()
    try:
        with _NO_REDIRECTS.open(request, timeout=timeout) as answer:
            return answer.status, answer.reason, answer.read(), time.monotonic() - started
    except urllib.error.HTTPError as error:
        reason = error.reason
        if 300 <= error.code < 400:
            reason = f"{reason}, to {error.headers.get('Location')}: Dialogflow does not follow redirects"
        return error.code, reason, error.read(), time.monotonic() - started
    except urllib.error.URLError as error:
        if isinstance(error.reason, ConnectionRefusedError):
            raise InvokeError(
                f"cannot connect to {url}: connection refused. Is the service running? "
                "Locally: ./dev.sh serve"
            ) from None
        if isinstance(error.reason, TimeoutError):
            raise InvokeError(f"no answer from {url} within {timeout:g} s") from None
        raise InvokeError(f"cannot reach {url}: {error.reason}") from None
    except TimeoutError:
        raise InvokeError(f"no answer from {url} within {timeout:g} s") from None
    except ConnectionError as error:
        raise InvokeError(f"connection to {url} failed: {error}") from None


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m tools.invoke",
        description="Send a WebhookRequest to the webhook and print the answer readably.",
    )
    parser.add_argument("tag", nargs="?", help="the fulfillment tag, e.g. lookup-order")
    parser.add_argument("parameters", nargs="*", metavar="name=value", help="session parameters")
    parser.add_argument(
        "--file", help="send this WebhookRequest JSON file (tag and parameters given here override)"
    )
    parser.add_argument(
        "--url", default=DEFAULT_URL, help=f"where the webhook listens (default {DEFAULT_URL})"
    )
    parser.add_argument("--text", help="what the user said (the request's text)")
    parser.add_argument("--session", help="session ID, to keep several calls in one session")
    parser.add_argument("--language-code", default="en", help="languageCode (default en)")
    auth = parser.add_mutually_exclusive_group()
    auth.add_argument("--id-token", action="store_true", help="send a Google ID token minted for --url")
    auth.add_argument("--audience", help="send a Google ID token minted for this audience")
    parser.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="'Name: value'",
        help="extra request header (repeatable), e.g. for header or basic auth",
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds to wait for the answer (default 30)"
    )
    parser.add_argument(
        "--raw", action="store_true", help="print the answer's JSON instead of reading it out"
    )
    return parser


def prepare(args):
    """The request body and headers the command line asks for."""
    positional = [args.tag, *args.parameters] if args.tag else list(args.parameters)
    # With --file the tag is optional, so a first "name=value" is a parameter, not a tag.
    tag = positional.pop(0) if positional and "=" not in positional[0] else None
    parameters = dict(parse_parameter(pair) for pair in positional)
    if args.file:
        body = load_request(args.file, tag, parameters, args.text, args.session)
    elif tag:
        body = build_request(tag, parameters, args.text, args.session, args.language_code)
    else:
        raise InvokeError("give a tag (python -m tools.invoke lookup-order order_id=ORD-1001) or --file")
    headers = {}
    for header in args.header:
        name, separator, value = header.partition(":")
        if not separator or not name.strip():
            # Only the first word: what follows may be the secret ("X-Webhook-Token=s3cret").
            shown = name.strip() if separator else (header.replace("=", " ").split() or [""])[0]
            raise InvokeError(f"--header {shown!r}… is not 'Name: value' (the rest is not shown)")
        headers[name.strip()] = value.strip()
    if args.id_token or args.audience:
        headers["Authorization"] = f"Bearer {mint_id_token(args.audience or default_audience(args.url))}"
    return body, headers


def main(argv=None, out=None):
    args = build_parser().parse_args(argv)
    out = out or sys.stdout
    try:
        body, headers = prepare(args)
        status, reason, raw, seconds = post(args.url, body, headers, args.timeout)
    except InvokeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    try:
        answer = json.loads(raw.decode("utf-8")) if raw else None
    except (UnicodeDecodeError, ValueError):
        answer = None
    if args.raw:
        print(f"HTTP {status} {reason} in {seconds * 1000:.0f} ms", file=sys.stderr)
        print(
            json.dumps(answer, indent=2, ensure_ascii=False)
            if answer is not None
            else raw.decode("utf-8", "replace"),
            file=out,
        )
        return 0 if status == 200 and isinstance(answer, dict) else 1

    tag = (body.get("fulfillmentInfo") or {}).get("tag", "?")
    session = (body.get("sessionInfo") or {}).get("session", "?").rsplit("/", 1)[-1]
    print(f"POST {args.url}  tag={tag}  session={session}", file=out)
    slow = (
        f"  (slower than Dialogflow's {DIALOGFLOW_TIMEOUT_S:g} s default timeout)"
        if seconds > DIALOGFLOW_TIMEOUT_S
        else ""
    )
    print(f"HTTP {status} {reason} in {seconds * 1000:.0f} ms{slow}", file=out)
    if status != 200 or not isinstance(answer, dict):
        if answer is not None:
            print(json.dumps(answer, indent=2, ensure_ascii=False), file=out)
        else:
            print(raw.decode("utf-8", "replace") or "(empty body)", file=out)
            if status == 200:
                print(
                    "The answer is not a JSON object, so Dialogflow would treat it as a webhook error.",
                    file=out,
                )
        return 1
    sent = (body.get("sessionInfo") or {}).get("parameters") or {}
    for line in describe_response(answer, sent):
        print(line, file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
