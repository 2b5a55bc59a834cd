"""Check an exported Dialogflow CX agent against the tags this service serves.

    python -m tools.audit exported-agent.zip
    python -m tools.audit path/to/unzipped-export --json
    python -m tools.audit agent.zip --served-tags lookup-order,process-return --webhook cx-webhook

Reads the JSON package export (``exportAgent`` with ``dataFormat: JSON_PACKAGE``, as a .zip or
an unzipped folder) and reports:

1. tags the agent calls (a fulfillment with ``webhook`` and ``tag``) that no handler serves,
   with where each call is: such a call makes the service answer its fallback, so CI fails;
2. served tags no fulfillment uses (dead handlers, or a tag misspelt on the agent side);
3. pages (and flows, for flow-level routes) that call the webhook with no ``webhook.error``
   or ``webhook.error.*`` event handler in scope (on the page or its flow): when the webhook
   fails there, the conversation goes on silently as if nothing was said.

Exit status: 1 when (1) is not empty, 0 otherwise, 2 when the export (or the served tag
list) cannot be read. The export layout this relies on is written down in docs/deploy.md.
"""

import argparse
import importlib
import json
import sys
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

WEBHOOK_ERROR_EVENT = "webhook.error"


class ExportError(Exception):
    """The export cannot be read (exit status 2)."""


# -- reading the export ------------------------------------------------------------------


class ExportFiles:
    """The JSON files of an export, from a folder or a zip, by path relative to agent.json.

    >>> files = ExportFiles.open("tests/fixtures/agents/shop")
    >>> files.read_json("agent.json")["displayName"]
    'Shop Assistant'
    """

    def __init__(self, label, paths, reader):
        self.label = label
        self._reader = reader
        roots = sorted(
            (p for p in paths if PurePosixPath(p).name == "agent.json"), key=lambda p: (p.count("/"), p)
        )
        if not roots:
            raise ExportError(
                f"{label}: no agent.json, so this is not a Dialogflow CX agent export (JSON package)"
            )
        # Zipping a folder by hand often adds one directory level: agent.json marks the root.
        parent = str(PurePosixPath(roots[0]).parent)
        self._prefix = "" if parent == "." else f"{parent}/"  # "." is no folder; ".export" is one
        self.paths = sorted(p.removeprefix(self._prefix) for p in paths if p.startswith(self._prefix))

    @classmethod
    def open(cls, location):
        path = Path(location)
        if path.is_dir():
            paths = [p.relative_to(path).as_posix() for p in path.rglob("*.json") if p.is_file()]
            return cls(str(path), paths, lambda name: (path / name).read_bytes())
        if path.is_file():
            try:
                archive = zipfile.ZipFile(path)
            except (zipfile.BadZipFile, OSError) as exc:
                raise ExportError(f"{path}: not a zip file or folder ({exc})") from None
            paths = [info.filename for info in archive.infolist() if info.filename.endswith(".json")]
            return cls(str(path), paths, archive.read)
        raise ExportError(f"{path}: no such file or folder")

    def read_json(self, name):
        try:
            data = json.loads(self._reader(self._prefix + name).decode("utf-8"))
        except (OSError, KeyError, UnicodeDecodeError, ValueError) as exc:
            raise ExportError(f"{self.label}: cannot read {name}: {exc}") from None
        if not isinstance(data, dict):
            raise ExportError(f"{self.label}: {name} is not a JSON object")
        return data

    def under(self, folder):
        """Paths of JSON files directly inside ``folder``."""
        return [p for p in self.paths if str(PurePosixPath(p).parent) == folder]

    def subfolders(self, folder):
        prefix = f"{folder}/"
        return sorted(
            {
                p[len(prefix) :].split("/", 1)[0]
                for p in self.paths
                if p.startswith(prefix) and p.count("/") > 1
            }
        )


# -- what the agent contains -------------------------------------------------------------


@dataclass(frozen=True)
class WebhookCall:
    """One fulfillment that calls a webhook: which tag, which webhook, and where it is."""

    tag: str
    webhook: str
    site: str
    flow: str | None = None
    page: str | None = None
    route_group: str | None = None

    @property
    def where(self):
        parts = []
        if self.flow is not None:
            parts.append(f"flow {self.flow!r}")
        if self.page is not None:
            parts.append(f"page {self.page!r}")
        if self.route_group is not None:
            parts.append(f"route group {self.route_group!r}")
        return " > ".join([*parts, self.site])

    def to_json(self):
        return {
            "tag": self.tag,
            "webhook": self.webhook,
            "flow": self.flow,
            "page": self.page,
            "route_group": self.route_group,
            "site": self.site,
            "where": self.where,
        }


@dataclass
class Scope:
    """A page, a flow's own routes and handlers, or a route group: calls plus error handlers."""

    flow: str | None
    page: str | None
    route_group: str | None = None
    calls: list = field(default_factory=list)
    handles_webhook_errors: bool = False
    route_groups: list = field(default_factory=list)

    @property
    def label(self):
        if self.page is not None:
            return f"flow {self.flow!r} > page {self.page!r}"
        if self.route_group is not None:
            prefix = f"flow {self.flow!r} > " if self.flow is not None else ""
            return f"{prefix}route group {self.route_group!r}"
        return f"flow {self.flow!r} (flow-level routes and event handlers)"


def _route_site(route):
    intent, condition = route.get("intent"), route.get("condition")
    if intent and condition:
        return f"route intent {intent!r} if {condition!r}"
    if intent:
        return f"route intent {intent!r}"
    if condition:
        return f"route condition {condition!r}"
    return f"route {route.get('name', '?')!r}"


def _is_webhook_error_event(event):
    return event == WEBHOOK_ERROR_EVENT or str(event).startswith(WEBHOOK_ERROR_EVENT + ".")


def _reference_name(reference):
    # Exports name referenced resources by display name; API dumps use resource names.
    return str(reference).rsplit("/", 1)[-1]


def _collect(scope, fulfillment, site):
    if isinstance(fulfillment, dict) and fulfillment.get("webhook"):
        scope.calls.append(
            WebhookCall(
                tag=str(fulfillment.get("tag") or ""),
                webhook=_reference_name(fulfillment["webhook"]),
                site=site,
                flow=scope.flow,
                page=scope.page,
                route_group=scope.route_group,
            )
        )


def _routes_and_handlers(scope, resource):
    """The parts pages and flows share: routes, event handlers, knowledge connector, groups."""
    for route in resource.get("transitionRoutes") or []:
        _collect(scope, route.get("triggerFulfillment"), _route_site(route))
    for handler in resource.get("eventHandlers") or []:
        event = handler.get("event", "?")
        _collect(scope, handler.get("triggerFulfillment"), f"event handler {event!r}")
        if _is_webhook_error_event(event):
            scope.handles_webhook_errors = True
    knowledge = resource.get("knowledgeConnectorSettings") or {}
    _collect(scope, knowledge.get("triggerFulfillment"), "knowledge connector")
    scope.route_groups = [_reference_name(name) for name in resource.get("transitionRouteGroups") or []]


def page_scope(flow_name, page):
    """Every webhook call a page makes itself, and whether it handles webhook errors.

    >>> scope = page_scope("Orders", {"displayName": "Lookup",
    ...     "entryFulfillment": {"webhook": "cx-webhook", "tag": "lookup-order"}})
    >>> [(call.tag, call.where) for call in scope.calls]
    [('lookup-order', "flow 'Orders' > page 'Lookup' > entry fulfillment")]
    """
    scope = Scope(flow=flow_name, page=page.get("displayName") or "?")
    _collect(scope, page.get("entryFulfillment"), "entry fulfillment")
    for parameter in (page.get("form") or {}).get("parameters") or []:
        name = parameter.get("displayName", "?")
        behavior = parameter.get("fillBehavior") or {}
        _collect(scope, behavior.get("initialPromptFulfillment"), f"parameter {name!r} initial prompt")
        for handler in behavior.get("repromptEventHandlers") or []:
            event = handler.get("event", "?")
            _collect(
                scope, handler.get("triggerFulfillment"), f"parameter {name!r} reprompt handler {event!r}"
            )
    _routes_and_handlers(scope, page)
    return scope


def flow_scope(flow):
    scope = Scope(flow=flow.get("displayName") or "?", page=None)
    _routes_and_handlers(scope, flow)
    return scope


def route_group_scope(group, flow_name=None):
    scope = Scope(flow=flow_name, page=None, route_group=group.get("displayName") or "?")
    for route in group.get("transitionRoutes") or []:
        _collect(scope, route.get("triggerFulfillment"), _route_site(route))
    return scope


@dataclass
class FlowContent:
    own: Scope
    pages: list
    route_groups: dict


@dataclass
class AgentExport:
    """The parts of an export the audit needs.

    >>> agent = AgentExport.load("tests/fixtures/agents/shop")
    >>> agent.name, sorted(agent.webhooks)
    ('Shop Assistant', ['cx-webhook', 'legacy'])
    """

    name: str
    flows: list
    route_groups: dict
    webhooks: dict

    @classmethod
    def load(cls, location):
        files = ExportFiles.open(location)
        agent = files.read_json("agent.json")
        flows = []
        group_names = {}  # a route group's ID (the last part of its resource name) → display name
        for folder in files.subfolders("flows"):
            flow_files = files.under(f"flows/{folder}")
            if not flow_files:
                raise ExportError(f"{files.label}: flows/{folder} has no flow file")
            # The flow file is named like its folder; take that one when there are several.
            preferred = f"flows/{folder}/{folder}.json"
            flow = files.read_json(preferred if preferred in flow_files else flow_files[0])
            flow_name = flow.get("displayName") or folder
            pages = [
                page_scope(flow_name, files.read_json(path)) for path in files.under(f"flows/{folder}/pages")
            ]
            groups = {}
            for path in files.under(f"flows/{folder}/transitionRouteGroups"):
                group = files.read_json(path)
                scope = route_group_scope(group, flow_name)
                groups[scope.route_group] = scope
                group_names[_reference_name(group.get("name") or "")] = scope.route_group
            flows.append(FlowContent(own=flow_scope(flow), pages=pages, route_groups=groups))
        agent_groups = {}
        for path in files.under("transitionRouteGroups"):
            group = files.read_json(path)
            scope = route_group_scope(group)
            agent_groups[scope.route_group] = scope
            group_names[_reference_name(group.get("name") or "")] = scope.route_group
        webhooks = {}
        for path in files.under("webhooks"):
            webhook = files.read_json(path)
            webhooks[webhook.get("displayName") or PurePosixPath(path).stem] = webhook
        export = cls(
            name=agent.get("displayName") or "?", flows=flows, route_groups=agent_groups, webhooks=webhooks
        )
        webhook_names = {_reference_name(hook.get("name") or ""): name for name, hook in webhooks.items()}
        export._name_references(webhook_names, group_names)
        return export

    def _name_references(self, webhook_names, group_names):
        """Read references made by resource name (``projects/…/webhooks/<ID>``, whose last part
        is an ID) as the display names the export and ``--webhook`` use."""
        webhook_names.pop("", None)
        group_names.pop("", None)
        scopes = [
            scope for flow in self.flows for scope in (flow.own, *flow.pages, *flow.route_groups.values())
        ]
        for scope in [*scopes, *self.route_groups.values()]:
            scope.calls = [
                replace(call, webhook=webhook_names[call.webhook]) if call.webhook in webhook_names else call
                for call in scope.calls
            ]
            scope.route_groups = [group_names.get(name, name) for name in scope.route_groups]

    def all_calls(self):
        for flow in self.flows:
            yield from flow.own.calls
            for page in flow.pages:
                yield from page.calls
            for group in flow.route_groups.values():
                yield from group.calls
        for group in self.route_groups.values():
            yield from group.calls

    def calls_in_scope(self, flow, scope):
        """A page's (or flow's) own calls plus those of the route groups it uses."""
        calls = list(scope.calls)
        for name in scope.route_groups:
            group = flow.route_groups.get(name) or self.route_groups.get(name)
            if group is not None:
                calls.extend(group.calls)
        return calls


# -- the audit ---------------------------------------------------------------------------


def _count(number, noun):
    """
    >>> _count(1, "tag"), _count(2, "tag")
    ('1 tag', '2 tags')
    """
    return f"{number} {noun}{'' if number == 1 else 's'}"


@dataclass
class AuditReport:
    agent: str
    served_tags: tuple
    calls: list
    unserved: dict
    unused_served_tags: list
    unguarded: list

    @property
    def ok(self):
        return not self.unserved

    def to_json(self):
        return {
            "agent": self.agent,
            "ok": self.ok,
            "served_tags": list(self.served_tags),
            "called_tags": sorted({call.tag for call in self.calls}),
            "unserved_tags": [
                {"tag": tag, "calls": [call.to_json() for call in calls]}
                for tag, calls in self.unserved.items()
            ],
            "unused_served_tags": self.unused_served_tags,
            "pages_without_webhook_error_handler": [
                {"flow": scope.flow, "page": scope.page, "where": scope.label, "tags": tags}
                for scope, tags in self.unguarded
            ],
            "webhook_calls": [call.to_json() for call in self.calls],
        }

    def render(self):
        called = sorted({call.tag for call in self.calls})
        lines = [
            f"Agent {self.agent!r}: {_count(len(self.calls), 'webhook call')} with "
            f"{_count(len(called), 'tag')}; the service serves {_count(len(self.served_tags), 'tag')}.",
            "",
        ]
        if self.unserved:
            lines.append(
                f"Called but not served ({_count(len(self.unserved), 'tag')}): the service answers its fallback"
            )
            for tag, calls in self.unserved.items():
                shown = tag or "(fulfillment has a webhook but no tag)"
                for call in calls:
                    lines.append(f"  {shown}  at {call.where}  [webhook {call.webhook!r}]")
        else:
            lines.append("Every called tag is served.")
        lines.append("")
        if self.unused_served_tags:
            lines.append(f"Served but never called ({_count(len(self.unused_served_tags), 'tag')}):")
            lines.extend(f"  {tag}" for tag in self.unused_served_tags)
        else:
            lines.append("Every served tag is called.")
        lines.append("")
        if self.unguarded:
            lines.append(
                f"Calling the webhook without a {WEBHOOK_ERROR_EVENT} handler on the page or its flow "
                f"({len(self.unguarded)}): a failed call goes unnoticed there"
            )
            lines.extend(f"  {scope.label}  (tags: {', '.join(tags)})" for scope, tags in self.unguarded)
        else:
            lines.append(f"Every page that calls the webhook has a {WEBHOOK_ERROR_EVENT} handler in scope.")
        lines.append("")
        if self.ok:
            lines.append("OK")
        else:
            lines.append(f"FAIL: {_count(len(self.unserved), 'called tag')} without a handler")
        return "\n".join(lines)


def audit(agent, served_tags, webhooks=None):
    """Compare the agent's webhook calls with ``served_tags``.

    ``webhooks``: only calls to these webhook display names count (default: all).

        report = audit(AgentExport.load("agent.zip"), served_tags=("lookup-order",))
        report.ok, report.unserved
    """
    wanted = set(webhooks) if webhooks else None

    def counted(calls):
        return [call for call in calls if wanted is None or call.webhook in wanted]

    served = tuple(sorted(set(served_tags)))
    calls = counted(agent.all_calls())
    unserved = {}
    for call in calls:
        if call.tag not in served:
            unserved.setdefault(call.tag, []).append(call)
    called = {call.tag for call in calls}
    unused = [tag for tag in served if tag not in called]

    unguarded = []
    for flow in agent.flows:
        for scope in [*flow.pages, flow.own]:
            scope_calls = counted(agent.calls_in_scope(flow, scope))
            if scope_calls and not (scope.handles_webhook_errors or flow.own.handles_webhook_errors):
                unguarded.append((scope, sorted({call.tag for call in scope_calls})))
    return AuditReport(
        agent=agent.name,
        served_tags=served,
        calls=calls,
        unserved=dict(sorted(unserved.items())),
        unused_served_tags=unused,
        unguarded=unguarded,
    )


def served_tags_from(module_name, *, otherwise="pass --served-tags TAG,TAG"):
    """The tags ``<module>.app`` serves (``handlers`` by default), imported only when asked.

    >>> "lookup-order" in served_tags_from("handlers")
    True
    """
    try:
        module = importlib.import_module(module_name)
        return tuple(module.app.tags)
    except Exception as exc:  # any import-time failure means "cannot tell what is served"
        raise ExportError(
            f"cannot read the served tags from {module_name}.app.tags ({exc.__class__.__name__}: {exc}); "
            f"run from the repository root, or {otherwise}"
        ) from None


def main(argv=None, out=None):
    parser = argparse.ArgumentParser(
        prog="python -m tools.audit",
        description="Audit the webhook tags of an exported Dialogflow CX agent (JSON package, zip or folder).",
    )
    parser.add_argument("export", help="the exported agent: a .zip or an unzipped folder")
    parser.add_argument(
        "--served-tags-from",
        default="handlers",
        metavar="MODULE",
        help="module whose app.tags lists the served tags (default: handlers)",
    )
    parser.add_argument(
        "--served-tags", metavar="TAG,TAG", help="the served tags, instead of importing a module"
    )
    parser.add_argument(
        "--webhook",
        action="append",
        metavar="DISPLAY_NAME",
        help="only count calls to this webhook (repeatable; default: every webhook)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    out = out or sys.stdout
    try:
        agent = AgentExport.load(args.export)
        if args.served_tags is not None:
            served = tuple(tag.strip() for tag in args.served_tags.split(",") if tag.strip())
        else:
            served = served_tags_from(args.served_tags_from)
        unknown = sorted(set(args.webhook or ()) - set(agent.webhooks))
        if unknown:
            raise ExportError(
                f"--webhook {unknown[0]!r} is not a webhook of this agent (has: {sorted(agent.webhooks)})"
            )
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report = audit(agent, served, webhooks=args.webhook)
    if args.json:
        print(json.dumps(report.to_json(), indent=2), file=out)
    else:
        print(report.render(), file=out)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
