"""Run the service's own start-up checks on the settings about to be deployed.

    python -m tools.preflight          # checks the settings in this process's environment

``deploy.sh`` runs it before deploying, with exactly the runtime variables it will upload
(secrets as placeholders: their values stay in Secret Manager), so a mistake
the service would find at start fails the deploy in a second, with the service's own words,
rather than after a build and a revision that does not start, or at a customer's first call.

What is checked is what ``WebhookApp.check_configuration`` checks when the service starts:

* settings that stop the service from starting (``WEBHOOK_TIMEOUT_S`` over 30, an
  ``AUTH_*`` mistake, an unknown ``LOG_LEVEL``, ...): errors;
* what the service would log as an ERROR at start (a backend URL that is not http(s), an
  unknown ``BACKEND_<NAME>_AUTH``, a missing key, an ``AGENT_TIME_ZONE`` this machine's
  time zone database does not know): errors;
* an exception while the handlers are imported (a bug in a handler module): an error;
* what it would log as a WARNING (a backend left without a URL, whose tags would answer
  "unavailable"; an ``AUTH_*`` setting for a mode that is off; a backend's credentials over
  plain http): shown, not fatal.

Exit status: 0 nothing wrong (warnings may have been shown), 2 errors (each printed), 3 the
check could not run here (this Python is too old, or a handler imports a third-party package
this machine lacks): ``deploy.sh`` says so and goes on. An import that fails inside the
service's own packages (``from fulfillment import Respnse``) is a bug the deployed service
would crash on: an error.
"""

import logging
import sys
import traceback

MIN_PYTHON = (3, 11)  # what the service itself needs (datetime.UTC, ...)
OWN_PACKAGES = frozenset({"main", "fulfillment", "handlers", "demo_store"})


class _Collected(logging.Handler):
    """Keeps every record of WARNING and above that the checks log."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.records = []

    def emit(self, record):
        self.records.append(record)


def check():
    """``(errors, warnings)``: two lists of sentences. Raises ``ImportError`` when the
    service cannot be imported here at all."""
    collected = _Collected()
    root = logging.getLogger()
    root.handlers[:] = [collected]
    root.setLevel(logging.WARNING)
    errors = []
    try:
        from handlers import app  # Settings.from_env runs here: its mistakes, all named, stop it

        app.check_configuration()
    except ValueError as err:
        errors += getattr(err, "problems", [str(err)])
    errors += [r.getMessage() for r in collected.records if r.levelno >= logging.ERROR]
    warnings = [r.getMessage() for r in collected.records if r.levelno < logging.ERROR]
    return errors, warnings


def _lacks_a_package(err):
    """Whether ``err`` says a third-party package is not installed here (which the deployment
    installs from requirements.txt), rather than that the service's own code is wrong."""
    missing = err.name if isinstance(err, ModuleNotFoundError) else None
    return bool(missing) and missing.partition(".")[0] not in OWN_PACKAGES


def main():
    if sys.version_info < MIN_PYTHON:
        print(
            f"preflight: skipped: the service needs Python {'.'.join(map(str, MIN_PYTHON))}+, "
            f"this is {sys.version.split()[0]}",
            file=sys.stderr,
        )
        return 3
    try:
        errors, warnings = check()
    except ImportError as err:
        if not _lacks_a_package(err):
            traceback.print_exc()
            print(
                "preflight: error: the service fails at start: an import of its own (traceback above)",
                file=sys.stderr,
            )
            return 2
        print(
            f"preflight: skipped: the service cannot be imported here ({err}; "
            "if the deployment needs it too, is it in requirements.txt?)",
            file=sys.stderr,
        )
        return 3
    except Exception:  # a handler module's own bug: the deployed service would crash on it too
        traceback.print_exc()
        print("preflight: error: the service fails at start (traceback above)", file=sys.stderr)
        return 2
    for warning in warnings:
        print(f"preflight: warning: {warning}", file=sys.stderr)
    for error in errors:
        print(f"preflight: error: {error}", file=sys.stderr)
    if errors:
        print(f"preflight: {len(errors)} problem(s) the service would refuse or fail on", file=sys.stderr)
        return 2
    print("preflight: the service's start-up checks pass with these settings", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
