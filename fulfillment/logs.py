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

import atexit
import contextvars
import io
import itertools
import json
import logging
import math
import os
import re
import sys
import threading
import time
import traceback

from fulfillment._json import compact_encoder
from fulfillment.config import number

TRACE = "logging.googleapis.com/trace"
SPAN_ID = "logging.googleapis.com/spanId"
TRACE_SAMPLED = "logging.googleapis.com/trace_sampled"
LABELS = "logging.googleapis.com/labels"

REDACTED = "[redacted]"

# functions-framework's LOG_EXECUTION_ID switch (its own test of the value, kept exactly), the
# module of its stdout wrapper, and the label it gives each call's lines.
_FF_TRUTHY = ("y", "yes", "t", "true", "on", "1")
_FF_EXECUTION_ID_MODULE = "functions_framework.execution_id"
EXECUTION_ID_LABEL = "execution_id"

# LineWriter's hold: under load, lines written at most every 20 ms instead of one by one.
# At most a second: someone following a conversation live must see each call's line soon.
DEFAULT_FLUSH_MS = 20.0
MAX_FLUSH_MS = 1000.0

_SEVERITY = {
    logging.DEBUG: "DEBUG",
    logging.INFO: "INFO",
    logging.WARNING: "WARNING",
    logging.ERROR: "ERROR",
    logging.CRITICAL: "CRITICAL",
}

# W3C Trace Context: version-traceid-parentid-flags; a later version may add fields after a
# dash, which a reader of version 00 parses past (uppercase hex is read too: harmless).
_TRACEPARENT_RE = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")
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
    form Cloud Logging needs (the bare trace id when no project is known) and ``span_id`` as 16
    hex digits.

    >>> parse_trace({"X-Cloud-Trace-Context": "105445aa7843bc8bf206b12000100000/1;o=1"}, "p")
    ('projects/p/traces/105445aa7843bc8bf206b12000100000', '0000000000000001', True)
    """
    trace_id = span_id = ""
    sampled = None
    value = headers.get("traceparent")
    match = _TRACEPARENT_RE.match(value.strip().lower()) if value else None
    if match and _is_valid_traceparent(*match.groups()):
        trace_id, span_id, sampled = match[2], match[3], bool(int(match[4], 16) & 1)
    else:
        value = headers.get("X-Cloud-Trace-Context")
        match = _CLOUD_TRACE_RE.match(value.strip()) if value else None
        if match and int(match[1], 16):  # an all-zero trace id is no trace
            trace_id = match[1].lower()
            # Cloud Trace's header carries the span id in decimal; LogEntry wants 16 hex digits.
            span = int(match[2]) if match[2] else 0
            span_id = f"{span:016x}" if 0 < span < 2**64 else ""
            sampled = match[3] == "1" if match[3] is not None else None
    # Without a project, the bare trace id, as Google's own logging library writes it: the
    # entry is not linked to Cloud Trace, but the id is still there to search for.
    trace = f"projects/{project}/traces/{trace_id}" if trace_id and project else trace_id
    return trace, span_id, sampled


def _is_valid_traceparent(version, trace_id, parent_id, flags, more):
    # The spec's invalid values: version ff, all-zero ids, and extra fields on version 00.
    return (
        version != "ff"
        and (more is None or version != "00")
        and trace_id != "0" * 32
        and parent_id != "0" * 16
    )


class call_context:  # lower case: used like a function, ``with call_context(...)``
    """Open the logging context of one webhook call (a context manager)."""

    __slots__ = ("_token", "context")

    def __init__(self, headers=None, *, project="", labels=None):
        self.context = _new_context(headers, project, labels)
        self._token = None

    def __enter__(self):
        self._token = _context.set(self.context)
        return self.context

    def __exit__(self, *exc):
        _context.reset(self._token)
        return False


def start_call(headers=None, *, project="", labels=None):
    """``call_context(...)`` for the rest of the current context; returns its ``CallContext``.

    For a call run in a context of its own (see ``deadline.start``): dropped with it.
    """
    context = _new_context(headers, project, labels)
    _context.set(context)
    return context


def _new_context(headers, project, labels):
    trace, span_id, sampled = parse_trace(headers, project) if headers else ("", "", None)
    return CallContext(trace, span_id, sampled, labels)


def current():
    """The logging context of the call being served, or ``None``."""
    return _context.get()


# --- Formatters ----------------------------------------------------------------------------


# ASCII only: a log line must stay one line for every reader, and Python's str.splitlines
# (and other Unicode-aware readers) also end a line at U+2028, U+2029 and U+0085, which a
# tag, a session id or a quoted value from a request can hold. Cloud Logging decodes the
# escapes, so what it shows is unchanged.
_dumps = compact_encoder(default=str, ensure_ascii=True)


class JsonFormatter(logging.Formatter):
    """One JSON object per record, in the shape Cloud Logging understands."""

    def format(self, record):
        return _json_line(
            _SEVERITY.get(record.levelno, record.levelname),
            record.getMessage(),
            record.created,
            record.name,
            getattr(record, "fields", None),
            record.exc_info,
        )


def _json_line(severity, message, created, logger_name, fields, exc_info=None):
    entry = {"severity": severity, "message": message, "time": _rfc3339(created), "logger": logger_name}
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
    if exc_info:
        # The whole traceback in one field of the same line: Error Reporting reads it.
        entry["stack_trace"] = _stack_trace(exc_info[1])
    line = _dumps(entry)
    if len(line) > MAX_LINE_CHARS:
        line = _oversized(entry)
    return line


# Cloud Logging refuses an entry over 256 KB, and the call would vanish from the logs. A line
# is only this long when a request names itself at length (a 1 MiB tag, session id or turn
# id, thousands of parameter names): cut down then, and only then, so the usual line costs
# one len() for it.
MAX_LINE_CHARS = 100_000
_KEPT_CHARS = 1000  # of each string in an oversized line
_KEPT_ITEMS = 50  # of each object and list
_KEPT_TRACE_CHARS = 50_000  # of a traceback: its end, where the exception is


def _oversized(entry):
    """The line for an ``entry`` whose line was over ``MAX_LINE_CHARS``: every string, object
    and list in it cut short, and ``"truncated": true``."""
    trace = entry.get("stack_trace")
    shrunk = _shrunk({key: value for key, value in entry.items() if key != "stack_trace"})
    if trace:
        shrunk["stack_trace"] = trace if len(trace) <= _KEPT_TRACE_CHARS else "…" + trace[-_KEPT_TRACE_CHARS:]
    shrunk["truncated"] = True
    line = _dumps(shrunk)
    if len(line) > MAX_LINE_CHARS:  # escapes can grow a string sixfold: keep what finds the call
        kept = ("severity", "message", "time", "logger", TRACE, SPAN_ID, TRACE_SAMPLED, LABELS)
        line = _dumps({key: shrunk[key] for key in kept if key in shrunk} | {"truncated": True})
    return line


def _shrunk(value):
    if value.__class__ is str:
        return value if len(value) <= _KEPT_CHARS else value[:_KEPT_CHARS] + "…"
    if isinstance(value, dict):
        shrunk = {
            _shrunk(str(key)): _shrunk(item) for key, item in itertools.islice(value.items(), _KEPT_ITEMS)
        }
        if len(value) > _KEPT_ITEMS:
            shrunk["…"] = f"{len(value) - _KEPT_ITEMS} more"
        return shrunk
    if isinstance(value, (list, tuple)):
        shrunk = [_shrunk(item) for item in value[:_KEPT_ITEMS]]
        if len(value) > _KEPT_ITEMS:
            shrunk.append(f"… {len(value) - _KEPT_ITEMS} more")
        return shrunk
    return value


# Python's own wording between the tracebacks of a chain of exceptions.
_CAUSE = "\nThe above exception was the direct cause of the following exception:\n\n"
_CONTEXT = "\nDuring handling of the above exception, another exception occurred:\n\n"


def _stack_trace(error):
    """The traceback of ``error`` as Python prints it, each exception's message withheld.

    A message may quote what the caller said (``int("Ada Lovelace")`` raises "invalid
    literal for int() with base 10: 'Ada Lovelace'"), and the logs keep no caller data. The
    frames, their source lines and the exception types are what locate the bug, and the
    shape is the one Error Reporting reads. ``LOG_FORMAT=text``, for a developer's own
    machine, prints the messages.
    """
    parts, seen = [], set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        kind = type(error)
        name = (
            kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
        )
        frames = "".join(traceback.format_tb(error.__traceback__))
        head = "Traceback (most recent call last):\n" if frames else ""
        parts.append(f"{head}{frames}{name}: (message withheld: it may quote caller data)\n")
        if error.__cause__ is not None:
            parts.append(_CAUSE)
            error = error.__cause__
        elif error.__context__ is not None and not error.__suppress_context__:
            parts.append(_CONTEXT)
            error = error.__context__
        else:
            error = None
    if parts and parts[-1] in (_CAUSE, _CONTEXT):
        parts.pop()  # a cycle ended the chain
    return "".join(reversed(parts))


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
        # A tag or session id from a request may hold a line break: shown escaped, it cannot
        # pass for a record of its own (a JSON line escapes it anyway). Only a traceback
        # spans lines.
        line = line.translate(_LINE_BREAKS)
        if record.exc_info:
            line += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
        return line


# Every character a terminal or str.splitlines takes as a line break or a control (an escape
# sequence can move the cursor or erase a line), written as its escape; tabs are kept.
_LINE_BREAKS = {code: f"\\x{code:02x}" for code in (*range(0x20), 0x7F, 0x85) if code != 0x09}
_LINE_BREAKS.update({0x0A: "\\n", 0x0D: "\\r", 0x2028: "\\u2028", 0x2029: "\\u2029"})


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
    # %-formatting truncates the float as int() does, without the call: ~0.15 µs less (timeit).
    return "%s.%06dZ" % (last[1], (created - seconds) * 1e6)  # noqa: UP031


# --- Set-up ------------------------------------------------------------------------------------


class LineWriter:
    """Whole lines to the *current* ``sys.stdout`` (pytest and functions-framework swap it),
    gathered into fewer writes when lines come faster than ``hold_s`` apart.

    Why gather: every write to stdout is a system call that gives up the GIL, and under load
    functions-framework's threads are queued for it, so each summary line cost a round of
    GIL hand-offs: 6% of the throughput of a call without backend work (measured: 0.75x bare
    writing each line, 0.81x not writing at all). Google's own logging client batches on a
    background thread for the same reason. The rules, so no line waits long:

    * a line is written at once when nothing was written in the last ``hold_s`` seconds, so
      a quiet service writes every line as it happens;
    * otherwise it waits, and goes out with the others when ``hold_s`` has passed since the
      last write (on the next line, or from a small flusher thread), or as soon as 64 KiB
      are waiting;
    * a record of severity WARNING or above is written at once, after the lines before it
      (not a call's summary line, whatever its severity: see ``log_fields``);
    * everything waiting is written at exit, and by ``flush_logs()``.

    Order is kept: lines are written under one lock, in the order they arrived. Each line is
    written whole: the binary buffer's ``write`` is one call, and a raw (``PYTHONUNBUFFERED``)
    file is looped until all is written. ``hold_s=0`` writes every line at once.
    """

    max_waiting_bytes = 64 * 1024

    def __init__(self, hold_s=0.0, *, stream=None):
        self.hold_s = hold_s
        self.stream = stream  # None: whatever sys.stdout is at the time of each write
        self._reset()

    def _reset(self):
        # Also after a fork: the child starts with its own lock and no flusher thread (the
        # parent writes what it was holding).
        self._lock = threading.Lock()
        self._waiting = threading.Condition(self._lock)
        self._pending = []
        self._pending_bytes = 0
        self._last_write = -math.inf
        self._flusher = None

    def write(self, line, *, urgent=False):
        """Write ``line`` (str, ending in a newline) now, or soon (see the class docstring)."""
        data = line.encode("utf-8", "backslashreplace")
        with self._lock:
            now = time.monotonic()
            if not self._pending and (urgent or now - self._last_write >= self.hold_s or not self._binary()):
                self._write_locked(data, now)
                return
            self._pending.append(data)
            self._pending_bytes += len(data)
            if (
                urgent
                or self._pending_bytes >= self.max_waiting_bytes
                or now - self._last_write >= self.hold_s
            ):
                self._write_pending_locked(now)
            elif len(self._pending) == 1:
                self._wake_flusher_locked()

    def flush(self):
        """Write every waiting line now."""
        with self._lock:
            if self._pending:
                self._write_pending_locked(time.monotonic())

    def _write_pending_locked(self, now):
        data = b"".join(self._pending)
        self._pending.clear()
        self._pending_bytes = 0
        self._write_locked(data, now)

    def _stdout(self):
        stream = self.stream or sys.stdout
        if _is_execution_id_stream(stream):
            # functions-framework with LOG_EXECUTION_ID=true swaps sys.stdout, during each
            # call, for a wrapper that parses every line, adds an ``execution_id`` label and a
            # *decimal* span id, and writes it again. Our lines carry the label already (the
            # router puts it in each call's labels) and the hex span id Cloud Logging wants,
            # so they go to the stream the wrapper writes to: once, gathered, unaltered.
            stream = getattr(stream, "stream", stream)
        return stream

    def _binary(self):
        # Any other text-only stdout is written at once, line by line: a wrapper like the one
        # above may read one line per write, in the context of the call that writes it.
        binary = getattr(self._stdout(), "buffer", None)
        return isinstance(binary, (io.BufferedIOBase, io.RawIOBase))

    def _write_locked(self, data, now):
        self._last_write = now
        stream = self._stdout()
        binary = getattr(stream, "buffer", None)
        if isinstance(binary, io.BufferedIOBase):
            binary.write(data)  # one call: the buffer holds its own lock for all of it
            binary.flush()
        elif isinstance(binary, io.RawIOBase):
            # Unbuffered (PYTHONUNBUFFERED, common on Cloud Run): a raw file may take part
            # of a long line per write; we hold our lock, so loop until all is written.
            view = memoryview(data)
            while view:
                view = view[binary.write(view) or 0 :]
        else:  # a text-only stream (see _binary)
            for line in data.decode("utf-8").splitlines(keepends=True):
                stream.write(line)
            stream.flush()

    def _wake_flusher_locked(self):
        if self._flusher is None:
            self._flusher = threading.Thread(target=self._flush_when_due, name="log-flusher", daemon=True)
            self._flusher.start()
        else:
            self._waiting.notify()

    def _flush_when_due(self):
        with self._lock:
            while True:
                if not self._pending:
                    self._waiting.wait()
                    continue
                due_in = self._last_write + self.hold_s - time.monotonic()
                if due_in > 0:
                    self._waiting.wait(due_in)
                    continue
                try:
                    self._write_pending_locked(time.monotonic())
                except Exception:  # a closed stdout at exit: nothing to write to
                    self._pending.clear()
                    self._pending_bytes = 0


_LINES = LineWriter()
atexit.register(_LINES.flush)
os.register_at_fork(after_in_child=_LINES._reset)


def log_refused_start(error):
    """One CRITICAL line saying why the service will not start, with ``error.problems``:
    written as JSON whatever the logging settings, which may be among the problems."""
    problems = list(getattr(error, "problems", None) or [str(error)])
    line = _json_line(
        "CRITICAL",
        f"the service cannot start: {error}",
        time.time(),
        "fulfillment",
        {"problems": problems},
    )
    _LINES.write(line + "\n", urgent=True)


def flush_logs():
    """Write every log line still waiting (see ``LineWriter``)."""
    _LINES.flush()


class _StdoutHandler(logging.Handler):
    """One line per record through ``LineWriter``, without the handler's lock.

    ``logging.Handler.handle`` holds a lock around formatting *and* the write and flush
    system calls; with one summary line per webhook call and functions-framework's threads,
    the calls queued on that lock (py-spy: 9% of samples in ``Handler.acquire`` at 8
    connections). Here each line is formatted outside any lock and handed over whole.
    """

    def handle(self, record):
        if self.filter(record):
            self.emit(record)
            return True
        return False

    def emit(self, record):
        try:
            urgent = getattr(record, "urgent", record.levelno >= logging.WARNING)  # see log_fields
            _LINES.write(self.format(record) + "\n", urgent=urgent)
        except Exception:
            self.handleError(record)


def log_fields(logger, level, message, fields):
    """``logger.log(level, message)`` with ``fields`` added to the JSON line (the router's one
    record per webhook call).

    When the record would reach our stdout handler and nothing else (no other handler, no
    filter on the way: how the service runs), the line is written straight away, without
    building a ``LogRecord`` and passing it through ``Logger.handle``: the same line, 5 µs
    sooner on every call (``benchmarks/percall.py``). Anyone else listening (a handler of
    your own, pytest's ``caplog``) gets the record as usual.

    Whatever its severity, the line may wait ``LOG_FLUSH_MS`` for others, as INFO lines do.
    A summary comes after its call is over: nothing of that call follows it. A failure
    inside the call (a handler's exception, a backend's bad answer) was logged at once when
    it happened; an unknown tag or a refused request (4xx) is logged only here, so it too
    may wait, at most that long. Written at once, an agent that
    sends a tag we do not serve would cost one system call per turn, each an ERROR summary:
    0.82x the throughput of bare functions-framework where it is 0.92x or more gathered
    (``serve_bench.py``, an unknown tag).
    """
    if not logger.isEnabledFor(level):
        return
    if _only_our_handler(logger, level):
        line = _json_line(
            _SEVERITY.get(level) or logging.getLevelName(level), message, time.time(), logger.name, fields
        )
        _LINES.write(line + "\n")
        return
    record = logger.makeRecord(logger.name, level, "", 0, message, None, None)
    record.fields = fields
    record.urgent = False
    logger.handle(record)


def _only_our_handler(logger, level):
    """Whether a record of ``logger`` at ``level`` would go to our JSON handler and no further."""
    handler = _handler
    if (
        handler is None
        or handler.filters
        or level < handler.level
        or type(handler.formatter) is not JsonFormatter
    ):
        return False
    node = logger
    while node is not None:
        if node.filters or node.disabled:
            return False
        if node.handlers:
            return node is logging.root and len(node.handlers) == 1 and node.handlers[0] is handler
        if not node.propagate:
            return False
        node = node.parent
    return False


_handler = None  # the handler configure() installed


def configure(env=None):
    """Send every record to stdout, as JSON (default) or text (``LOG_FORMAT=text``).

    ``LOG_FLUSH_MS`` is the longest a line waits to be written together with others under load
    (``LineWriter``; default 20 ms, at most 1000); 0 writes every line at once.

    Idempotent: a second call replaces the handler it installed, and leaves others alone.
    """
    level, text, hold_s = read_settings(os.environ if env is None else env)
    _LINES.flush()
    _LINES.hold_s = hold_s
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_fulfillment", False) or _is_execution_id_echo(handler):
            root.removeHandler(handler)
    handler = _StdoutHandler()
    handler._fulfillment = True
    handler.setFormatter(TextFormatter() if text else JsonFormatter())
    root.addHandler(handler)
    global _handler
    _handler = handler
    root.setLevel(level)
    # logging's switches for not finding a record's thread or process (logThreads, ...) are
    # left on: they are process-wide, and other formatters read those fields (gunicorn's
    # "[%(process)d]" fails on every record without them). The summary line, one per call,
    # builds no LogRecord at all (log_fields), so they cost nothing where it counts.
    return handler


def read_settings(env):
    """``(level, text, hold_s)`` from ``LOG_LEVEL``, ``LOG_FORMAT`` (``json`` or ``text``) and
    ``LOG_FLUSH_MS``.

    Raises ``ValueError`` naming the setting that is wrong.

    >>> read_settings({"LOG_LEVEL": "debug", "LOG_FLUSH_MS": "0"})
    (10, False, 0.0)
    """
    level_name = (env.get("LOG_LEVEL") or "INFO").strip().upper()
    level = logging.getLevelName(level_name)
    if not isinstance(level, int):
        raise ValueError(f"LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR; got {level_name!r}")
    log_format = (env.get("LOG_FORMAT") or "json").strip().lower()
    if log_format not in ("json", "text"):
        # A typo ("txt") would otherwise give JSON where readable lines were asked for.
        raise ValueError(f"LOG_FORMAT must be json or text; got {log_format[:20]!r}")
    text = log_format == "text"
    hold_s = number(env, "LOG_FLUSH_MS", DEFAULT_FLUSH_MS, maximum=MAX_FLUSH_MS) / 1000
    return level, text, hold_s


def _is_execution_id_echo(handler):
    # With LOG_EXECUTION_ID=true, functions-framework puts its own handler on the root
    # logger: every record's bare message, again, without severity, through the wrapper
    # described in LineWriter._stdout. Ours writes the whole record, so that copy goes.
    return _is_execution_id_stream(getattr(handler, "stream", None))


def _is_execution_id_stream(stream):
    # functions-framework's execution-id wrapper around stdout, or its handler's stream (a
    # werkzeug proxy to one: its __class__, unlike type(), is the wrapper's class).
    return stream.__class__.__module__ == _FF_EXECUTION_ID_MODULE


def execution_ids_on(env=None):
    """Whether functions-framework labels log lines with each call's execution id."""
    env = os.environ if env is None else env
    return env.get("LOG_EXECUTION_ID") in _FF_TRUTHY


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
    if not allowed:  # LOG_ALLOW_PARAMS unset, as deployed: every value goes, with no look at each
        return dict.fromkeys(params, REDACTED)
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


# A segment kept in a logged path: a lowercase word, as collection names are ("orders",
# "current-weather"), or an API version. Anything else may be caller data: an id, a username,
# an email address, "a b", "True".
_KEPT_SEGMENT_RE = re.compile(r"[a-z][a-z_-]{0,39}|v\d{1,2}")


def redact_path(path):
    """A backend path with every segment that may identify someone replaced: ``/orders/:id/returns``.

    (A caller's id made of lowercase letters only, a username say, reads as a collection name:
    it is kept.)"""
    return "/".join(
        segment if not segment or _KEPT_SEGMENT_RE.fullmatch(segment) else ":id"
        for segment in path.split("?", 1)[0].split("/")
    )
