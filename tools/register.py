"""Wire a Dialogflow CX agent to the deployed webhook through the v3 REST API.

Register (or update) the webhook resource, then put tags on pages:

    python -m tools.register webhook \\
        --agent projects/my-project/locations/global/agents/AGENT_ID \\
        --uri https://us-central1-my-project.cloudfunctions.net/cx-webhook
    python -m tools.register tag \\
        --page projects/my-project/locations/global/agents/AGENT_ID/flows/FLOW_ID/pages/PAGE_ID \\
        --webhook cx-webhook --tag lookup-order

``tag`` refuses a tag this service does not serve (a typo would reach callers as the
unknown-tag answer) unless ``--unserved`` says another webhook answers it. Both commands
read first and write only what differs (a PATCH with a precise ``updateMask``),
so running them twice changes nothing the second time and says "unchanged". Credentials are
Application Default Credentials (``gcloud auth application-default login`` on a laptop, the
attached service account in CI); requests go through google-auth's ``AuthorizedSession``
rather than the Dialogflow client library, which would pull in gRPC and protobuf for four
HTTP calls.

Exit status: 0 done (or unchanged), 1 the API refused or could not be reached, 2 bad
arguments or no credentials.
"""

import argparse
import copy
import re
import sys
from dataclasses import dataclass

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
AGENT_RE = re.compile(r"projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/agents/[^/]+")
PAGE_RE = re.compile(AGENT_RE.pattern + r"/flows/[^/]+/pages/[^/]+")
WEBHOOK_RE = re.compile(AGENT_RE.pattern + r"/webhooks/[^/]+")
SECRET_VERSION_RE = re.compile(r"projects/[^/]+/secrets/[^/]+/versions/[^/]+")
HEADER_NAME_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
AUTH_MODES = ("id-token", "basic", "header", "none")
# Dialogflow's limit on the webhook resource's timeout (docs/CONTRACT.md §5.6).
MAX_TIMEOUT_S = 30.0
HTTP_TIMEOUT_S = 30.0


class RegisterError(Exception):
    """A failure the user can act on; ``exit_code`` 1 for API trouble, 2 for bad input."""

    exit_code = 1


class UsageError(RegisterError):
    exit_code = 2


class ApiError(RegisterError):
    """An error answer from the Dialogflow API, with the API's own message."""

    def __init__(self, method, resource, status_code, status, message):
        self.status_code = status_code
        super().__init__(f"{method} {resource}: HTTP {status_code} {status}: {message}".rstrip(": "))

    @classmethod
    def from_response(cls, method, resource, response):
        status, message = "", ""
        try:
            error = response.json().get("error") or {}
            status, message = error.get("status") or "", error.get("message") or ""
        except ValueError:
            message = response.text[:300]
        hint = {
            403: " (does the caller have the Dialogflow API Admin role on the project, and is the API enabled?)",
            404: " (check the resource name: project, location and IDs)",
        }.get(response.status_code, "")
        return cls(method, resource, response.status_code, status, message + hint)


def api_root(location):
    """The v3 endpoint serving ``location``.

    >>> api_root("global"), api_root("europe-west1")
    ('https://dialogflow.googleapis.com', 'https://europe-west1-dialogflow.googleapis.com')
    """
    if location == "global":
        return "https://dialogflow.googleapis.com"
    return f"https://{location}-dialogflow.googleapis.com"


def agent_of(resource_name):
    """The agent a resource belongs to.

    >>> agent_of("projects/p/locations/global/agents/a/flows/f/pages/x")
    'projects/p/locations/global/agents/a'
    """
    match = AGENT_RE.match(resource_name)
    if not match:
        raise UsageError(f"{resource_name!r} is not inside projects/P/locations/L/agents/A")
    return match.group(0)


class DialogflowRest:
    """The handful of v3 REST calls this tool needs, over an authorized ``requests`` session.

    api = DialogflowRest(session, "global", quota_project="my-project")
    api.get("projects/my-project/locations/global/agents/A/flows/F/pages/P")
    """

    def __init__(self, session, location, quota_project):
        self.session = session
        self.root = api_root(location)
        # Bill quota to the agent's project: with user credentials the API would otherwise
        # charge (or refuse for) the gcloud SDK's own project.
        self.headers = {"x-goog-user-project": quota_project}

    def _call(self, method, resource, *, params=None, body=None):
        import google.auth.exceptions
        import requests

        url = f"{self.root}/v3/{resource}"
        try:
            response = self.session.request(
                method, url, params=params, json=body, headers=self.headers, timeout=HTTP_TIMEOUT_S
            )
        except google.auth.exceptions.RefreshError as exc:
            # Credentials that need a fresh login (the common laptop case), or were revoked.
            raise UsageError(
                f"the Google credentials could not be refreshed ({exc}). "
                "Run `gcloud auth application-default login` again"
            ) from None
        except (requests.RequestException, google.auth.exceptions.TransportError) as exc:
            raise RegisterError(f"cannot reach {self.root}: {exc.__class__.__name__}: {exc}") from None
        if response.status_code >= 400:
            raise ApiError.from_response(method, resource, response)
        try:
            return response.json() if response.content else {}
        except ValueError:  # a proxy's or a portal's page, with a 2xx status
            raise RegisterError(
                f"{method} {resource}: HTTP {response.status_code} but the answer is not JSON: "
                f"{response.text[:120]!r}"
            ) from None

    def get(self, resource):
        return self._call("GET", resource)

    def patch(self, resource, body, update_mask):
        return self._call("PATCH", resource, params={"updateMask": ",".join(update_mask)}, body=body)

    def list_webhooks(self, agent):
        """Every webhook of ``agent``, following ``nextPageToken``."""
        params = {"pageSize": 100}
        while True:
            answer = self._call("GET", f"{agent}/webhooks", params=params)
            yield from answer.get("webhooks") or []
            token = answer.get("nextPageToken")
            if not token:
                return
            params = {"pageSize": 100, "pageToken": token}

    def create_webhook(self, agent, body):
        return self._call("POST", f"{agent}/webhooks", body=body)


# -- the webhook resource ----------------------------------------------------------------


def parse_timeout(text):
    """A Duration string for the webhook resource, at most 30 s.

    >>> parse_timeout("5s"), parse_timeout("7.5"), parse_timeout({"seconds": 10})
    ('5s', '7.5s', '10s')
    """
    if isinstance(text, dict):  # agent exports write Durations as {"seconds": N, "nanos": M}
        seconds = float(text.get("seconds", 0)) + float(text.get("nanos", 0)) / 1e9
    else:
        raw = str(text).strip()
        try:
            seconds = float(raw[:-1] if raw.endswith("s") else raw)
        except ValueError:
            raise UsageError(f"timeout {text!r} is not a number of seconds such as 5s") from None
    if not 0 < seconds <= MAX_TIMEOUT_S:
        raise UsageError(f"timeout must be more than 0 s and at most {MAX_TIMEOUT_S:g} s, got {text!r}")
    return f"{seconds:g}s"


@dataclass(frozen=True)
class WebhookSpec:
    """What the webhook resource should look like. ``fields()`` maps field paths to values.

    >>> spec = WebhookSpec("cx-webhook", "https://example.com/hook", "5s", ("id-token",))
    >>> spec.fields()["genericWebService.serviceAgentAuth"]
    'ID_TOKEN'
    """

    display_name: str
    uri: str
    timeout: str
    auth_modes: tuple
    basic_secret_version: str | None = None
    header_name: str | None = None
    header_secret_version: str | None = None

    def __post_init__(self):
        if not self.uri.startswith("https://"):
            raise UsageError(
                f"--uri must be an https:// URL (Dialogflow refuses plain http), got {self.uri!r}"
            )
        modes = self.auth_modes
        unknown = [mode for mode in modes if mode not in AUTH_MODES]
        if unknown or not modes:
            raise UsageError(
                f"--auth: unknown mode {unknown[0] if unknown else ''!r}; choose from {AUTH_MODES}"
            )
        if "none" in modes and len(modes) > 1:
            raise UsageError("--auth none cannot be combined with other modes")
        if "basic" in modes and "id-token" in modes:
            raise UsageError(
                "--auth basic and id-token both need the Authorization header; choose one "
                "(a private Cloud Function needs id-token)"
            )
        if "basic" in modes and not self.basic_secret_version:
            raise UsageError(
                "--auth basic needs --basic-secret projects/P/secrets/S/versions/V "
                "(a Secret Manager version holding username:password)"
            )
        if "header" in modes and not (self.header_name and self.header_secret_version):
            raise UsageError(
                "--auth header needs --header-name and --header-secret projects/P/secrets/S/versions/V"
            )
        for flag, version in (
            ("--basic-secret", self.basic_secret_version),
            ("--header-secret", self.header_secret_version),
        ):
            if version and not SECRET_VERSION_RE.fullmatch(version):
                raise UsageError(f"{flag} must be projects/P/secrets/S/versions/V, got {version!r}")
        if self.header_name and not HEADER_NAME_RE.fullmatch(self.header_name):
            raise UsageError(f"--header-name {self.header_name!r} is not an HTTP header name")

    def fields(self):
        """Every field this tool manages; ``None`` means "must be absent"."""
        modes = self.auth_modes
        return {
            "genericWebService.uri": self.uri,
            "genericWebService.webhookType": "STANDARD",
            "genericWebService.serviceAgentAuth": "ID_TOKEN" if "id-token" in modes else "NONE",
            # Plain credentials on the resource are replaced by Secret Manager references.
            "genericWebService.username": None,
            "genericWebService.password": None,
            "genericWebService.secretVersionForUsernamePassword": (
                self.basic_secret_version if "basic" in modes else None
            ),
            "genericWebService.secretVersionsForRequestHeaders": (
                {self.header_name: {"secretVersion": self.header_secret_version}}
                if "header" in modes
                else None
            ),
            "genericWebService.oauthConfig": None,
            "genericWebService.serviceAccountAuthConfig": None,
            "timeout": self.timeout,
            "disabled": None,
        }

    def create_body(self):
        body = {"displayName": self.display_name}
        for path, value in self.fields().items():
            if value is not None:
                _set_path(body, path, value)
        return body


def _get_path(resource, path):
    for key in path.split("."):
        if not isinstance(resource, dict) or key not in resource:
            return None
        resource = resource[key]
    return resource


def _set_path(resource, path, value):
    *parents, leaf = path.split(".")
    for key in parents:
        resource = resource.setdefault(key, {})
    if value is None:
        resource.pop(leaf, None)
    else:
        resource[leaf] = value


def _normalized(path, value):
    # The API leaves out default values (false, "", empty maps) and treats an unspecified
    # enum as its documented default, so those compare equal to "absent".
    if value in (None, "", False, {}, []):
        return None
    if path == "timeout":
        return parse_timeout(value)
    if path == "genericWebService.webhookType" and value in ("STANDARD", "WEBHOOK_TYPE_UNSPECIFIED"):
        return None
    if path == "genericWebService.serviceAgentAuth" and value in (
        "ID_TOKEN",
        "SERVICE_AGENT_AUTH_UNSPECIFIED",
    ):
        return None  # docs/CONTRACT.md §6: unspecified means ID_TOKEN
    return value


def webhook_changes(existing, spec):
    """Field paths whose value differs between ``existing`` and ``spec``, in a stable order.

    >>> spec = WebhookSpec("cx-webhook", "https://new.example.com", "5s", ("id-token",))
    >>> webhook_changes({"genericWebService": {"uri": "https://old.example.com"}, "timeout": "5s"}, spec)
    ['genericWebService.uri']
    """
    return [
        path
        for path, wanted in spec.fields().items()
        if _normalized(path, _get_path(existing, path)) != _normalized(path, wanted)
    ]


def register_webhook(api, agent, spec, out):
    """Create the webhook, or patch what differs. Returns the webhook's resource name."""
    matches = [hook for hook in api.list_webhooks(agent) if hook.get("displayName") == spec.display_name]
    if not matches:
        created = api.create_webhook(agent, spec.create_body())
        print(f"created {created.get('name', '?')} ({spec.display_name} -> {spec.uri})", file=out)
        return created.get("name")
    existing = matches[0]
    name = existing["name"]
    if "serviceDirectory" in existing:
        raise RegisterError(
            f"{name} uses Service Directory; this tool manages generic web service webhooks only"
        )
    changes = webhook_changes(existing, spec)
    if not changes:
        print(f"unchanged {name}", file=out)
        return name
    # The whole resource goes in the body (so it is valid on its own); the mask limits the
    # write to the fields that differ.
    body = copy.deepcopy(existing)
    wanted = spec.fields()
    for path in changes:
        _set_path(body, path, wanted[path])
    api.patch(name, body, changes)
    print(f"updated {name}: {', '.join(changes)}", file=out)
    return name


# -- tags on pages -----------------------------------------------------------------------


def resolve_webhook(api, agent, webhook):
    """A full webhook name from a full name or a display name."""
    if WEBHOOK_RE.fullmatch(webhook):
        if agent_of(webhook) != agent:
            raise UsageError(f"webhook {webhook} belongs to another agent than the page ({agent})")
        return webhook
    for hook in api.list_webhooks(agent):
        if hook.get("displayName") == webhook:
            return hook["name"]
    raise UsageError(
        f"no webhook named {webhook!r} in {agent}; register it first: "
        f"python -m tools.register webhook --agent {agent} --uri URL --display-name {webhook}"
    )


def _route_label(route):
    parts = []
    if route.get("intent"):
        parts.append(f"intent={route['intent']}")
    if route.get("condition"):
        parts.append(f"condition={route['condition']}")
    return " ".join(parts) or route.get("name", "?")


def find_route(page, wanted):
    """The index of the page's transition route whose intent or condition is ``wanted``.

    The intent may be given as its full resource name or just its ID.
    """
    routes = page.get("transitionRoutes") or []
    wanted = wanted.strip()
    matches = [
        index
        for index, route in enumerate(routes)
        if wanted
        in {
            route.get("intent") or None,
            (route.get("intent") or "").rsplit("/", 1)[-1] or None,
            (route.get("condition") or "").strip() or None,
        }
    ]
    if len(matches) == 1:
        return matches[0]
    listing = "; ".join(_route_label(route) for route in routes) or "(the page has no routes)"
    if not matches:
        raise UsageError(
            f"no route of page {page.get('displayName')!r} matches {wanted!r}. Routes: {listing}"
        )
    raise UsageError(
        f"{len(matches)} routes of page {page.get('displayName')!r} match {wanted!r}. Routes: {listing}"
    )


def check_served(tag, module_name="handlers"):
    """Refuse a tag the service would answer only with its unknown-tag fallback: a misspelt
    tag on a page is otherwise found by a caller, not by whoever wired the page."""
    import difflib

    from tools.audit import ExportError, served_tags_from

    try:
        served = served_tags_from(module_name, otherwise="pass --unserved to tag without this check")
    except ExportError as err:  # it names the import's own error: a handler's bug shows here
        raise UsageError(str(err)) from None
    if tag in served:
        return
    close = difflib.get_close_matches(tag, served, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"it serves {', '.join(served)}."
    raise UsageError(
        f"this service does not serve the tag {tag!r}, so every call would get its unknown-tag "
        f"answer; {hint} (Pass --unserved if another webhook answers it.)"
    )


def tag_page(api, page_name, webhook_name, tag, route, out):
    """Set ``webhook`` and ``tag`` on the entry fulfillment, or on one route's fulfillment."""
    page = api.get(page_name)
    if route is None:
        fulfillment = page.get("entryFulfillment") or {}
        mask, where = "entryFulfillment", "entry fulfillment"
    else:
        index = find_route(page, route)
        fulfillment = page["transitionRoutes"][index].get("triggerFulfillment") or {}
        mask, where = "transitionRoutes", f"route {_route_label(page['transitionRoutes'][index])}"
    label = f"page {page.get('displayName', page_name)!r} {where}"
    if fulfillment.get("webhook") == webhook_name and fulfillment.get("tag") == tag:
        print(f"unchanged {label}: tag {tag}", file=out)
        return False
    previous = fulfillment.get("tag")
    # Messages, parameter presets and the rest of the fulfillment are kept as they are.
    updated = {**fulfillment, "webhook": webhook_name, "tag": tag}
    body = copy.deepcopy(page)
    if route is None:
        body["entryFulfillment"] = updated
    else:
        body["transitionRoutes"][index]["triggerFulfillment"] = updated
    api.patch(page_name, body, [mask])
    was = f" (was {previous})" if previous and previous != tag else ""
    print(f"tagged {label}: tag {tag}{was}", file=out)
    return True


# -- command line ------------------------------------------------------------------------


def authorized_session():
    """An ``AuthorizedSession`` on Application Default Credentials."""
    import google.auth
    import google.auth.exceptions
    from google.auth.transport.requests import AuthorizedSession

    try:
        credentials, _ = google.auth.default(scopes=list(SCOPES))
    except google.auth.exceptions.DefaultCredentialsError as exc:
        raise UsageError(
            f"no Google credentials: {exc}. Run `gcloud auth application-default login` "
            "(or set GOOGLE_APPLICATION_CREDENTIALS)"
        ) from None
    return AuthorizedSession(credentials)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m tools.register",
        description="Register the webhook with a Dialogflow CX agent and tag pages (v3 REST API).",
    )
    parser.add_argument(
        "--quota-project", help="project billed for the API calls (default: the agent's project)"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    webhook = commands.add_parser("webhook", help="create or update the webhook resource")
    webhook.add_argument("--agent", required=True, help="projects/P/locations/L/agents/A")
    webhook.add_argument("--uri", required=True, help="the function URL (https://...)")
    webhook.add_argument(
        "--display-name", default="cx-webhook", help="webhook display name (default cx-webhook)"
    )
    webhook.add_argument(
        "--timeout", default="5s", help="how long Dialogflow waits, at most 30s (default 5s)"
    )
    webhook.add_argument(
        "--auth",
        default="id-token",
        help="comma list of id-token (Dialogflow service agent ID token, default), basic, header; or none",
    )
    webhook.add_argument(
        "--basic-secret",
        metavar="SECRET_VERSION",
        help="basic auth: projects/P/secrets/S/versions/V holding username:password",
    )
    webhook.add_argument("--header-name", help="header auth: the header Dialogflow sends, e.g. X-Webhook-Key")
    webhook.add_argument(
        "--header-secret",
        metavar="SECRET_VERSION",
        help="header auth: projects/P/secrets/S/versions/V with its value",
    )

    tag = commands.add_parser("tag", help="make a page (or one of its routes) call the webhook with a tag")
    tag.add_argument("--page", required=True, help="projects/P/locations/L/agents/A/flows/F/pages/PAGE")
    tag.add_argument("--webhook", required=True, help="webhook display name or full resource name")
    tag.add_argument("--tag", required=True, help="the tag the service routes on, e.g. lookup-order")
    tag.add_argument(
        "--route",
        metavar="INTENT_OR_CONDITION",
        help="tag this transition route (matched by intent name or ID, or by condition) instead of the entry",
    )
    tag.add_argument(
        "--unserved",
        action="store_true",
        help="allow a tag this service does not serve (another webhook answers it, or its handler is not written yet)",
    )
    return parser


def run(args, make_session, out):
    resource = args.agent if args.command == "webhook" else args.page
    pattern = AGENT_RE if args.command == "webhook" else PAGE_RE
    match = pattern.fullmatch(resource)
    if not match:
        expected = "projects/P/locations/L/agents/A" + (
            "" if args.command == "webhook" else "/flows/F/pages/PAGE"
        )
        raise UsageError(f"{resource!r} is not {expected}")
    # Arguments are checked before credentials are looked for, so a typo is reported as such.
    if args.command == "webhook":
        spec = WebhookSpec(
            display_name=args.display_name,
            uri=args.uri,
            timeout=parse_timeout(args.timeout),
            auth_modes=tuple(mode.strip() for mode in args.auth.split(",") if mode.strip()),
            basic_secret_version=args.basic_secret,
            header_name=args.header_name,
            header_secret_version=args.header_secret,
        )
    elif not args.tag.strip():
        raise UsageError("--tag must not be empty")
    elif not args.unserved:
        check_served(args.tag)
    api = DialogflowRest(
        make_session(), match.group("location"), args.quota_project or match.group("project")
    )
    if args.command == "webhook":
        register_webhook(api, args.agent, spec, out)
    else:
        webhook_name = resolve_webhook(api, agent_of(args.page), args.webhook)
        tag_page(api, args.page, webhook_name, args.tag, args.route, out)


def main(argv=None, session=None, out=None):
    """Entry point; ``session`` replaces the ADC session (tests), ``out`` stdout."""
    args = build_parser().parse_args(argv)
    out = out or sys.stdout
    try:
        run(args, (lambda: session) if session is not None else authorized_session, out)
    except RegisterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
