"""Structured logs that Cloud Logging lifts into LogEntries, one JSON line per record.

On Cloud Functions, a JSON line on stdout becomes a LogEntry: ``severity`` and ``message`` are
lifted, ``logging.googleapis.com/trace`` and ``…/spanId`` tie the line to the request's trace,
and ``logging.googleapis.com/labels`` become entry labels. Everything else stays in
``jsonPayload``. Locally, ``LOG_FORMAT=text`` prints one readable line per record instead.

Each webhook call runs inside ``call_context(...)``, which keeps the call's trace and labels in
a ``contextvars.ContextVar``: records from concurrent calls on functions-framework's threads
never mix. Any logger's records inside the call carry them:

    >>> configure({"LOG_FORMAT": "json"})                                  # doctest: +SKIP
    >>> with call_context(headers, project="my-project"):                  # doctest: +SKIP
    ...     logging.getLogger("handlers.orders").warning("order system slow")

Parameter values and free text hold names, emails and card digits, so the summary of a call
logs parameter *names* only; ``LOG_ALLOW_PARAMS`` lists the parameters whose values may be
logged. Credentials never reach a record: the auth module logs reasons, never tokens.
"""

import contextvars
import io
import json
import logging
import os
import re
import sys
import time
import traceback

TRACE = "logging.googleapis.com/trace"
SPAN_ID = "logging.googleapis.com/spanId"
TRACE_SAMPLED = "logging.googleapis.com/trace_sampled"
LABELS = "logging.googleapis.com/labels"

REDACTED = "[redacted]"

_SEVERITY = {
    logging.DEBUG: "DEBUG",
    logging.INFO: "INFO",
    logging.WARNING: "WARNING",
    logging.ERROR: "ERROR",
    logging.CRITICAL: "CRITICAL",
}

_TRACEPARENT_RE = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_CLOUD_TRACE_RE = re.compile(r"^([0-9a-fA-F]{1,32})(?:/(\d{1,20}))?(?:;o=([0-9]+))?$")


class CallContext:
    """What every record logged during one webhook call carries."""

    __slots__ = ("labels", "sampled", "span_id", "trace")

    def __init__(self, trace="", span_id="", sampled=None, labels=None):
        self.trace = trace
        self.span_id = span_id
        self.sampled = sampled
        self.labels = labels if labels is not None else {}


_context = contextvars.ContextVar("fulfillment_log_context", default=None)


def trace_headers(environ):
    """The two trace headers of a WSGI request, as a small mapping for ``call_context``.

    Read straight from the environ: werkzeug's header lookup raises and catches a KeyError
    for every absent header, a measurable cost on each webhook call.
    """
    traceparent = environ.get("HTTP_TRACEPARENT")
    cloud_trace = environ.get("HTTP_X_CLOUD_TRACE_CONTEXT")
    if traceparent is None and cloud_trace is None:
        return None
    return {"traceparent": traceparent, "X-Cloud-Trace-Context": cloud_trace}


def parse_trace(headers, project):
    """Trace context from ``traceparent`` (W3C) first, then ``X-Cloud-Trace-Context``.

    Returns ``(trace, span_id, sampled)`` with ``trace`` in the ``projects/<p>/traces/<id>``
    form Cloud Logging needs (empty when no project is known) and ``span_id`` as 16 hex digits.

    >>> parse_trace({"X-Cloud-Trace-Context": "105445aa7843bc8bf206b12000100000/1;o=1"}, "p")
    ('projects/p/traces/105445aa7843bc8bf206b12000100000', '0000000000000001', True)
    """
    trace_id = span_id = ""
    sampled = None
    value = headers.get("traceparent")
    match = _TRACEPARENT_RE.match(value.strip().lower()) if value else None
    if match and match[1] != "0" * 32:
        trace_id, span_id, sampled = match[1], match[2], bool(int(match[3], 16) & 1)
    else:
        value = headers.get("X-Cloud-Trace-Context")
        match = _CLOUD_TRACE_RE.match(value.strip()) if value else None
        if match:
            trace_id = match[1].lower()
            # Cloud Trace's header carries the span id in decimal; LogEntry wants 16 hex digits.
            span = int(match[2]) if match[2] else 0
            span_id = f"{span:016x}" if 0 < span < 2**64 else ""
            sampled = match[3] == "1" if match[3] is not None else None
    trace = f"projects/{project}/traces/{trace_id}" if trace_id and project else ""
    return trace, span_id, sampled


class call_context:  # lower case: used like a function, ``with call_context(...)``
    """Open the logging context of one webhook call (a context manager)."""

    __slots__ = ("_token", "context")

    def __init__(self, headers=None, *, project="", labels=None):
        trace, span_id, sampled = parse_trace(headers, project) if headers else ("", "", None)
        self.context = CallContext(trace, span_id, sampled, labels)
        self._token = None

    def __enter__(self):
        self._token = _context.set(self.context)
        return self.context

    def __exit__(self, *exc):
        _context.reset(self._token)
        return False


def current():
    """The logging context of the call being served, or ``None``."""
    return _context.get()


# --- Formatters ----------------------------------------------------------------------------


_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str, separators=(",", ":"))


class JsonFormatter(logging.Formatter):
    """One JSON object per record, in the shape Cloud Logging understands."""

    def format(self, record):
        entry = {
            "severity": _SEVERITY.get(record.levelno, record.levelname),
            "message": record.getMessage(),
            "time": _rfc3339(record.created),
            "logger": record.name,
        }
        fields = getattr(record, "fields", None)
        if fields:
            entry.update(fields)
        context = _context.get()
        if context is not None:
            if context.trace:
                entry[TRACE] = context.trace
            if context.span_id:
                entry[SPAN_ID] = context.span_id
            if context.sampled is not None:
                entry[TRACE_SAMPLED] = context.sampled
            if context.labels:
                entry[LABELS] = context.labels
        if record.exc_info:
            # The whole traceback in one field of the same line: Error Reporting reads it.
            entry["stack_trace"] = "".join(traceback.format_exception(*record.exc_info))
        return _ENCODER.encode(entry)


class TextFormatter(logging.Formatter):
    """A readable one-line format for local development."""

    def format(self, record):
        head = f"{time.strftime('%H:%M:%S', time.localtime(record.created))} {record.levelname:<7} "
        context = _context.get()
        labels = context.labels if context is not None else {}
        where = f"[{labels['tag']}] " if labels.get("tag") else ""
        line = head + where + record.getMessage()
        fields = getattr(record, "fields", None)
        if fields:
            line += " " + " ".join(f"{k}={_short(v)}" for k, v in fields.items() if v not in (None, "", []))
        if record.exc_info:
            line += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
        return line


def _short(value):
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))
    return str(value)


# The last second formatted, with its text: strftime is the slow part. One tuple, replaced
# whole, so concurrent threads never pair one second's number with another's text.
_last_second = (-1, "")


def _rfc3339(created):
    global _last_second
    seconds = int(created)
    last = _last_second
    if last[0] != seconds:
        last = _last_second = (seconds, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)))
    return f"{last[1]}.{int((created - seconds) * 1e6):06d}Z"


# --- Set-up ------------------------------------------------------------------------------------


class _StdoutHandler(logging.Handler):
    """One line per record on the *current* ``sys.stdout`` (pytest and functions-framework
    swap it), written without the handler's lock.

    ``logging.Handler.handle`` holds a lock around formatting *and* the write and flush
    system calls; with one summary line per webhook call and functions-framework's threads,
    the calls queued on that lock (py-spy: 9% of samples in ``Handler.acquire`` at 8
    connections). A finished line handed to the binary buffer in one ``write`` is already
    atomic: ``io.BufferedWriter`` holds its own lock for the whole write. So each line is
    formatted outside any lock and written whole.
    """

    def handle(self, record):
        if self.filter(record):
            self.emit(record)
            return True
        return False

    def emit(self, record):
        try:
            line = self.format(record) + "\n"
            stream = sys.stdout
            binary = getattr(stream, "buffer", None)
            if isinstance(binary, io.BufferedIOBase):
                binary.write(line.encode("utf-8", "backslashreplace"))
                binary.flush()
            elif binary is not None:
                # Unbuffered (PYTHONUNBUFFERED, common on Cloud Run): a raw file may take part
                # of a long line per write and has no lock of its own, so take ours and loop.
                data = memoryview(line.encode("utf-8", "backslashreplace"))
                with self.lock:
                    while data:
                        data = data[binary.write(data) or 0 :]
            else:  # a text-only stand-in (some test runners): the ordinary, locked way
                with self.lock:
                    stream.write(line)
                    stream.flush()
        except Exception:
            self.handleError(record)


def configure(env=None):
    """Send every record to stdout, as JSON (default) or text (``LOG_FORMAT=text``).

    Idempotent: a second call replaces the handler it installed, and leaves others alone.
    """
    env = os.environ if env is None else env
    level_name = (env.get("LOG_LEVEL") or "INFO").strip().upper()
    level = logging.getLevelName(level_name)
    if not isinstance(level, int):
        raise ValueError(f"LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR; got {level_name!r}")
    text = (env.get("LOG_FORMAT") or "json").strip().lower() == "text"
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_fulfillment", False):
            root.removeHandler(handler)
    handler = _StdoutHandler()
    handler._fulfillment = True
    handler.setFormatter(TextFormatter() if text else JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    # No record shows a source file, thread or process, so do not pay to find them: these are
    # the switches the logging cookbook names for this ("Optimization").
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    return handler


def project_id(env=None):
    """The Google Cloud project for trace names: configuration first, then the environment."""
    env = os.environ if env is None else env
    for name in ("LOG_PROJECT_ID", "GOOGLE_CLOUD_PROJECT", "GCP_PROJECT", "GCLOUD_PROJECT"):
        if env.get(name):
            return env[name]
    return ""


# --- Redaction ---------------------------------------------------------------------------------


def redact_params(params, allowed):
    """Parameter names with values, all redacted but those in ``allowed`` (lower-case names)."""
    if not params:
        return {}
    return {
        name: (value if name.lower() in allowed and _loggable(value) else REDACTED)
        for name, value in params.items()
    }


def _loggable(value):
    # Even an allowed parameter is logged only as a scalar: a structure could hide anything.
    return (
        value is None
        or isinstance(value, (bool, int, float))
        or (isinstance(value, str) and len(value) <= 64)
    )


_ID_SEGMENT_RE = re.compile(r"[^/]*[\d@%][^/]*")


def redact_path(path):
    """A backend path with its identifying segments replaced: ``/orders/:id/returns``."""
    return _ID_SEGMENT_RE.sub(":id", path.split("?", 1)[0])
