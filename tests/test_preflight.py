"""tools/preflight.py: the service's own start-up checks, run before a deploy.

Each run is a fresh interpreter with only the given settings, as deploy.sh runs it, because
the service reads its settings once, when ``handlers`` is imported.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import handlers  # noqa: F401 - declares the backends the tags call
from fulfillment.backend import _declared
from fulfillment.client import BackendConfig
from tools import preflight

ROOT = Path(__file__).resolve().parents[1]

# What deploy.sh passes for a production deploy: a URL for every backend a tag calls (a
# backend a fork adds gets one too, so a new tag does not break these tests).
PRODUCTION = {
    **{f"{BackendConfig.env_prefix(name)}URL": f"https://{name}.example.com" for name in sorted(_declared)},
    "K_SERVICE": "cx-webhook",
    "AUTH_MODES": "id-token",
    "AUTH_AUDIENCES": "https://us-central1-my-project.cloudfunctions.net/cx-webhook",
    "AUTH_PROJECT_NUMBER": "123456789012",
    "DEMO_STORE": "off",
    "BACKEND_STORE_URL": "https://store.example.com/api",
    "BACKEND_BANK_URL": "https://bank.example.com",
    "BACKEND_WEATHER_URL": "https://weather.example.com",
    "BACKEND_BOOKING_URL": "https://booking.example.com",
}


def run(**settings):
    env = {"PATH": os.environ["PATH"], "PYTHONDONTWRITEBYTECODE": "1", **settings}
    return subprocess.run(
        [sys.executable, "-m", "tools.preflight"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_settings_the_service_accepts_pass():
    result = run(**PRODUCTION)

    assert result.returncode == 0, result.stderr
    assert result.stderr == "preflight: the service's start-up checks pass with these settings\n"


def test_every_problem_is_named_at_once_and_no_url_is_echoed():
    result = run(
        **{
            **PRODUCTION,
            "LOG_LEVEL": "LOUD",
            "AUTH_PROJECT_NUMBER": "my-project",
            "BACKEND_BANK_URL": "bank.example.com/u:hunter2",
            "BACKEND_WEATHER_AUTH": "api-key",  # but no BACKEND_WEATHER_KEY
            "AGENT_TIME_ZONE": "Europe/Pariss",
        }
    )

    assert result.returncode == 2
    errors = [
        line.removeprefix("preflight: error: ") for line in result.stderr.splitlines() if "error: " in line
    ]
    expected = [
        "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR; got 'LOUD'",
        "AUTH_PROJECT_NUMBER must be the numeric project number",
        "backend 'bank' cannot be called: BACKEND_BANK_URL is not an http(s) URL",
        "backend 'weather' cannot be called: BACKEND_WEATHER_AUTH=api-key needs BACKEND_WEATHER_KEY",
        "AGENT_TIME_ZONE='Europe/Pariss' cannot be used",
    ]
    assert len(errors) == len(expected), errors
    assert all(error.startswith(start) for error, start in zip(errors, expected, strict=True)), errors
    assert "preflight: 5 problem(s) the service would refuse or fail on" in result.stderr
    assert "hunter2" not in result.stderr  # a mistyped URL may carry a password


def test_a_setting_that_stops_the_start_is_an_error():
    result = run(**{**PRODUCTION, "WEBHOOK_TIMEOUT_S": "45"})

    assert result.returncode == 2
    assert "preflight: error: WEBHOOK_TIMEOUT_S must be between 0 and 30, got '45'" in result.stderr


def test_a_setting_that_stops_the_start_is_named_with_the_logging_and_auth_ones():
    result = run(
        **{**PRODUCTION, "WEBHOOK_TIMEOUT_S": "45", "LOG_FORMAT": "txt", "AUTH_MODES": "id-token,oauth"}
    )

    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("preflight: error: ")]
    assert errors == [
        "preflight: error: WEBHOOK_TIMEOUT_S must be between 0 and 30, got '45'",
        "preflight: error: LOG_FORMAT must be json or text; got 'txt'",
        "preflight: error: AUTH_MODES: unknown mode 'oauth' (known: id-token, basic, header, none)",
    ], result.stderr


def test_a_backend_left_without_a_url_is_a_warning_only():
    settings = {**PRODUCTION}
    del settings["BACKEND_BANK_URL"]

    result = run(**settings)

    assert result.returncode == 0, result.stderr
    assert "preflight: warning: backend 'bank' cannot be called: BACKEND_BANK_URL is not set" in result.stderr


def test_a_python_older_than_the_service_needs_skips_the_check(monkeypatch, capsys):
    monkeypatch.setattr(sys, "version_info", (3, 9, 6))

    assert preflight.main() == 3
    assert "preflight: skipped: the service needs Python 3.11+" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("failure", "status", "said"),
    [
        # A package this machine lacks (the function installs it): the check cannot run here.
        (
            ModuleNotFoundError("No module named 'somevendorsdk'", name="somevendorsdk"),
            3,
            ["preflight: skipped: the service cannot be imported here (No module named 'somevendorsdk'"],
        ),
        # An import of the service's own that fails is its own bug, as the deployed service's.
        (
            ImportError("cannot import name 'Respnse' from 'fulfillment'", name="fulfillment"),
            2,
            ["ImportError: cannot import name 'Respnse'", "preflight: error: the service fails at start"],
        ),
        (
            ModuleNotFoundError("No module named 'handlers.ordrs'", name="handlers.ordrs"),
            2,
            ["preflight: error: the service fails at start"],
        ),
        # A handler module's own bug: the deployed service would crash on it too.
        (
            NameError("name 'ordrs' is not defined"),
            2,
            ["NameError: name 'ordrs' is not defined", "preflight: error: the service fails at start"],
        ),
    ],
    ids=[
        "missing-package-skips",
        "own-import-is-an-error",
        "own-module-is-an-error",
        "crash-at-import-is-an-error",
    ],
)
def test_a_failure_to_import_the_service(monkeypatch, capsys, failure, status, said):
    def importing_the_service():
        raise failure

    monkeypatch.setattr(preflight, "check", importing_the_service)

    assert preflight.main() == status
    err = capsys.readouterr().err
    for words in said:
        assert words in err
