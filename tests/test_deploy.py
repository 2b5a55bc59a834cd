"""deploy.sh against a fake ``gcloud`` that records every call.

The fake is put first on PATH; it appends its argv (one JSON array per line) to a log and
answers ``projects describe`` / ``functions describe`` like the real one would. A dry run must
leave the log empty; a real run must issue exactly the expected commands.
"""

import json
import os
import shlex
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEPLOY_SH = ROOT / "deploy.sh"

PROJECT = "my-project"
REGION = "us-central1"
PROJECT_NUMBER = "123456789012"
FUNCTION_URL = f"https://cx-webhook-{PROJECT_NUMBER}.{REGION}.run.app"
SERVICE_AGENT = f"service-{PROJECT_NUMBER}@gcp-sa-dialogflow.iam.gserviceaccount.com"

FAKE_GCLOUD = textwrap.dedent(
    """\
    #!{python}
    import json, os, sys

    args = sys.argv[1:]
    with open(os.environ["FAKE_GCLOUD_LOG"], "a") as log:
        log.write(json.dumps(args) + "\\n")
    # The env-vars file is deleted when deploy.sh exits: keep its content for the test.
    for arg in args:
        if arg.startswith("--env-vars-file="):
            with open(arg.split("=", 1)[1]) as src, open(os.environ["FAKE_GCLOUD_ENV_COPY"], "a") as dst:
                dst.write(json.dumps(src.read()) + "\\n")
    command = " ".join(args[:2])
    if command in os.environ.get("FAKE_GCLOUD_FAIL", "").split(","):
        print("ERROR: (gcloud) simulated failure", file=sys.stderr)
        sys.exit(1)
    if command == "projects describe":
        print("{project_number}")
    elif command == "functions describe":
        print("{url}")
    """
).format(python=sys.executable, project_number=PROJECT_NUMBER, url=FUNCTION_URL)

BASE_ENV_FILE = f"""\
# a comment, then settings
GOOGLE_CLOUD_PROJECT={PROJECT}
DEPLOY_REGION={REGION}
BACKEND_STORE_URL=https://store.example.com/api   # trailing comment
LOG_LEVEL="INFO"
"""


class Deploy:
    """Runs deploy.sh with the fake gcloud and reads back what it recorded."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        gcloud = self.bin / "gcloud"
        gcloud.write_text(FAKE_GCLOUD)
        gcloud.chmod(0o755)
        self.log = tmp_path / "gcloud.log"
        self.env_copy = tmp_path / "env-vars.log"
        self.env_file = tmp_path / "deploy.env"
        self.env_file.write_text(BASE_ENV_FILE)
        self.path = f"{self.bin}{os.pathsep}{os.environ['PATH']}"
        # The service's own checks (tools/preflight.py) run with the interpreter under test.
        self.extra_env = {"PYTHON": sys.executable}

    def __call__(self, *args, env_file=True):
        argv = ["bash", str(DEPLOY_SH)]
        if env_file:
            argv += ["--env-file", str(self.env_file)]
        env = {
            "PATH": self.path,
            "HOME": str(self.tmp_path),
            "TMPDIR": str(self.tmp_path),
            "FAKE_GCLOUD_LOG": str(self.log),
            "FAKE_GCLOUD_ENV_COPY": str(self.env_copy),
            **self.extra_env,
        }
        return subprocess.run(
            [*argv, *args], capture_output=True, text=True, env=env, cwd=self.tmp_path, timeout=60
        )

    def calls(self):
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def env_vars_files(self):
        if not self.env_copy.exists():
            return []
        return [parse_env_vars_yaml(json.loads(line)) for line in self.env_copy.read_text().splitlines()]


def parse_env_vars_yaml(text):
    """deploy.sh writes one ``NAME: "value"`` per line, double-quoted with JSON-style escapes.

    Parsed strictly here (rather than with a YAML library) so a quoting slip shows up.
    """
    env_vars = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, separator, quoted = line.partition(": ")
        assert separator and quoted.startswith('"'), f"unexpected line {line!r}"
        env_vars[name] = json.loads(quoted)
    return env_vars


@pytest.fixture
def deploy(tmp_path):
    return Deploy(tmp_path)


def expected_deploy_args(env_vars_file, secrets=None, extra=()):
    args = [
        "functions",
        "deploy",
        "cx-webhook",
        "--gen2",
        "--runtime=python312",
        f"--region={REGION}",
        f"--project={PROJECT}",
        "--source=.",
        "--entry-point=webhook",
        "--trigger-http",
        "--no-allow-unauthenticated",
        f"--env-vars-file={env_vars_file}",
        f"--set-secrets={secrets}" if secrets else "--clear-secrets",
        "--min-instances=1",
        "--max-instances=20",
        "--concurrency=8",
        "--cpu=1",
        "--memory=512Mi",
        "--timeout=60s",
        *extra,
    ]
    return args


def expected_tail(project_number=PROJECT_NUMBER):
    member = f"serviceAccount:service-{project_number}@gcp-sa-dialogflow.iam.gserviceaccount.com"
    return [
        [
            "functions",
            "add-invoker-policy-binding",
            "cx-webhook",
            f"--region={REGION}",
            f"--project={PROJECT}",
            f"--member={member}",
        ],
        [
            "functions",
            "describe",
            "cx-webhook",
            f"--region={REGION}",
            f"--project={PROJECT}",
            "--format=value(serviceConfig.uri)",
        ],
    ]


def without_env_file_path(call):
    return ["--env-vars-file=<file>" if arg.startswith("--env-vars-file=") else arg for arg in call]


# -- dry run -----------------------------------------------------------------------------


def test_dry_run_prints_every_command_and_runs_none(deploy):
    result = deploy("--dry-run", "--secret", "BACKEND_WEATHER_KEY=weather-key:3")

    assert result.returncode == 0, result.stderr
    placeholder = "<PROJECT_NUMBER from gcloud projects describe>"
    printed = [shlex.split(line) for line in result.stdout.splitlines()]
    assert printed == [
        ["gcloud", "projects", "describe", PROJECT, "--format=value(projectNumber)"],
        ["gcloud", *expected_deploy_args("<env-vars.yaml>", secrets="BACKEND_WEATHER_KEY=weather-key:3")],
        *(["gcloud", *call] for call in expected_tail(placeholder)),
    ]
    assert deploy.calls() == []


def test_dry_run_shows_the_env_vars_file_on_stderr(deploy):
    result = deploy("--dry-run", "--project-number", PROJECT_NUMBER)

    assert result.returncode == 0, result.stderr
    assert "projects describe" not in result.stdout
    assert '#   THREADS: "8"' in result.stderr
    assert '#   DEMO_STORE: "off"' in result.stderr
    assert deploy.calls() == []


def test_dry_run_works_without_gcloud(deploy, tmp_path):
    deploy.path = path_without_gcloud(tmp_path)

    result = deploy("--dry-run")

    assert result.returncode == 0, result.stderr
    assert "gcloud functions deploy cx-webhook" in result.stdout


# -- real run ----------------------------------------------------------------------------


def test_real_run_issues_exactly_the_expected_commands(deploy):
    result = deploy("--secret", "BACKEND_WEATHER_KEY=weather-key:latest")

    assert result.returncode == 0, result.stderr
    calls = [without_env_file_path(call) for call in deploy.calls()]
    assert calls == [
        ["projects", "describe", PROJECT, "--format=value(projectNumber)"],
        expected_deploy_args("<file>", secrets="BACKEND_WEATHER_KEY=weather-key:latest"),
        *expected_tail(),
    ]
    assert f"Function URL: {FUNCTION_URL}" in result.stdout
    # The run.app URL the fake reports is one of the audiences, so it can be registered as is.
    assert result.stdout.rstrip().endswith(f"--uri {FUNCTION_URL}")
    assert "Register one of these URLs" not in result.stdout


def test_a_url_outside_the_audiences_is_not_suggested_for_registration(deploy):
    deploy.env_file.write_text(BASE_ENV_FILE + "AUTH_AUDIENCES=https://custom.example.com/hook\n")

    result = deploy("--project-number", PROJECT_NUMBER)

    assert result.returncode == 0, result.stderr
    assert "Register one of these URLs with Dialogflow" in result.stdout
    assert result.stdout.rstrip().endswith("--uri https://custom.example.com/hook")


def test_runtime_variables_match_the_deployment(deploy):
    result = deploy()

    assert result.returncode == 0, result.stderr
    [env_vars] = deploy.env_vars_files()
    assert env_vars == {
        "AUTH_MODES": "id-token",
        # Audience = the predictable function URLs, so a single deploy suffices.
        "AUTH_AUDIENCES": (
            f"https://{REGION}-{PROJECT}.cloudfunctions.net/cx-webhook,"
            f"https://cx-webhook-{PROJECT_NUMBER}.{REGION}.run.app"
        ),
        "AUTH_PROJECT_NUMBER": PROJECT_NUMBER,
        "BACKEND_STORE_URL": "https://store.example.com/api",
        "DEMO_STORE": "off",
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "LOG_LEVEL": "INFO",
        "THREADS": "8",
    }


def test_rerun_issues_the_same_commands(deploy):
    first = deploy()
    first_calls = [without_env_file_path(call) for call in deploy.calls()]
    deploy.log.unlink()
    second = deploy()
    second_calls = [without_env_file_path(call) for call in deploy.calls()]

    assert first.returncode == second.returncode == 0
    assert first_calls == second_calls
    first_env, second_env = deploy.env_vars_files()
    assert first_env == second_env


def test_flags_win_over_the_env_file_and_threads_follow_concurrency(deploy):
    deploy.env_file.write_text(BASE_ENV_FILE + "DEPLOY_CONCURRENCY=4\nTHREADS=2\n")

    result = deploy(
        "--project-number",
        "42",
        "--concurrency",
        "6",
        "--max-instances",
        "3",
        "--service-account",
        "runtime@my-project.iam.gserviceaccount.com",
    )

    assert result.returncode == 0, result.stderr
    calls = deploy.calls()
    assert [call[:2] for call in calls] == [
        ["functions", "deploy"],
        ["functions", "add-invoker-policy-binding"],
        ["functions", "describe"],
    ]
    assert "--concurrency=6" in calls[0]
    assert "--max-instances=3" in calls[0]
    assert "--service-account=runtime@my-project.iam.gserviceaccount.com" in calls[0]
    assert calls[1][-1] == "--member=serviceAccount:service-42@gcp-sa-dialogflow.iam.gserviceaccount.com"
    [env_vars] = deploy.env_vars_files()
    assert env_vars["THREADS"] == "6"
    assert env_vars["AUTH_PROJECT_NUMBER"] == "42"
    assert "THREADS=2 overridden to 6" in result.stderr


def test_env_file_values_stay_literal(deploy):
    deploy.env_file.write_text(
        BASE_ENV_FILE
        + "CUSTOM_GREETING='$(touch pwned) `id` \"q\"'\nexport WEBHOOK_TIMEOUT_S=8\nEMPTY_ONE=\n"
    )

    result = deploy()

    assert result.returncode == 0, result.stderr
    [env_vars] = deploy.env_vars_files()
    assert env_vars["CUSTOM_GREETING"] == '$(touch pwned) `id` "q"'
    assert env_vars["WEBHOOK_TIMEOUT_S"] == "8"
    assert "EMPTY_ONE" not in env_vars
    assert not (deploy.tmp_path / "pwned").exists()


def test_demo_keeps_the_demo_store(deploy):
    deploy.env_file.write_text(f"GOOGLE_CLOUD_PROJECT={PROJECT}\nDEPLOY_REGION={REGION}\n")

    result = deploy("--demo")

    assert result.returncode == 0, result.stderr
    [env_vars] = deploy.env_vars_files()
    assert "DEMO_STORE" not in env_vars


def test_demo_overrides_the_example_files_demo_store_off(deploy):
    deploy.env_file.write_text(f"GOOGLE_CLOUD_PROJECT={PROJECT}\nDEPLOY_REGION={REGION}\nDEMO_STORE=off\n")

    result = deploy("--demo")

    assert result.returncode == 0, result.stderr
    [env_vars] = deploy.env_vars_files()
    assert env_vars["DEMO_STORE"] == "on"


def test_auth_modes_of_only_commas_and_spaces_is_the_default_not_open(deploy):
    deploy.env_file.write_text(BASE_ENV_FILE + "AUTH_MODES= , ,\n")

    result = deploy()

    assert result.returncode == 0, result.stderr
    [env_vars] = deploy.env_vars_files()
    assert env_vars["AUTH_MODES"] == "id-token"


def test_header_auth_takes_its_value_from_a_secret(deploy):
    result = deploy(
        "--env",
        "AUTH_MODES=id-token,header",
        "--env",
        "AUTH_HEADER_NAME=X-Webhook-Key",
        "--secret",
        "AUTH_HEADER_VALUE=cx-webhook-header:2",
    )

    assert result.returncode == 0, result.stderr
    assert "--set-secrets=AUTH_HEADER_VALUE=cx-webhook-header:2" in deploy.calls()[1]
    [env_vars] = deploy.env_vars_files()
    assert env_vars["AUTH_HEADER_NAME"] == "X-Webhook-Key"
    assert "AUTH_HEADER_VALUE" not in env_vars


def test_force_open_allows_auth_none(deploy):
    result = deploy("--env", "AUTH_MODES=none", "--force-open")

    assert result.returncode == 0, result.stderr
    [env_vars] = deploy.env_vars_files()
    assert env_vars["AUTH_MODES"] == "none"
    assert "AUTH_AUDIENCES" not in env_vars


def test_allowed_emails_without_the_dialogflow_agent_are_flagged(deploy):
    smoke = "smoke@my-project.iam.gserviceaccount.com"

    lacking = deploy("--project-number", PROJECT_NUMBER, "--env", f"AUTH_ALLOWED_EMAILS={smoke}")
    complete = deploy(
        "--project-number", PROJECT_NUMBER, "--env", f"AUTH_ALLOWED_EMAILS={SERVICE_AGENT},{smoke}"
    )

    assert lacking.returncode == complete.returncode == 0
    assert f"lacks {SERVICE_AGENT}" in lacking.stderr
    assert "AUTH_ALLOWED_EMAILS" not in complete.stderr


def test_an_agent_in_another_project_gets_the_invoker_role(deploy):
    """Dialogflow calls as the service agent of the project that holds the agent."""
    result = deploy("--project-number", PROJECT_NUMBER, "--env", "AUTH_PROJECT_NUMBER=999999999999")

    assert result.returncode == 0, result.stderr
    calls = deploy.calls()
    assert calls[1] == expected_tail(project_number="999999999999")[0]
    [env_vars] = deploy.env_vars_files()
    assert env_vars["AUTH_PROJECT_NUMBER"] == "999999999999"
    assert "project is number 999999999999" in result.stderr


def test_quoted_values_may_carry_a_trailing_comment(deploy):
    deploy.env_file.write_text(
        BASE_ENV_FILE
        + 'HANDOFF_PHONE_NUMBER="+15550100" # support line\n'
        + "LOG_ALLOW_PARAMS='order_id,tag'   # safe to log\n"
        + 'CUSTOM_GREETING="a # inside" # and a comment\n'
    )

    result = deploy("--project-number", PROJECT_NUMBER)

    assert result.returncode == 0, result.stderr
    [env_vars] = deploy.env_vars_files()
    assert env_vars["HANDOFF_PHONE_NUMBER"] == "+15550100"
    assert env_vars["LOG_ALLOW_PARAMS"] == "order_id,tag"
    assert env_vars["CUSTOM_GREETING"] == "a # inside"


@pytest.mark.parametrize("spelling", ["TRUE", " Yes ", "On", "1"])
def test_audience_any_is_read_as_the_service_reads_it(deploy, spelling):
    result = deploy("--project-number", PROJECT_NUMBER, "--env", f"AUTH_AUDIENCE_ANY={spelling}")

    assert result.returncode == 0, result.stderr
    [env_vars] = deploy.env_vars_files()
    assert "AUTH_AUDIENCES" not in env_vars


def test_failing_gcloud_stops_the_run_with_exit_1(deploy):
    deploy.extra_env["FAKE_GCLOUD_FAIL"] = "functions deploy"

    result = deploy("--project-number", PROJECT_NUMBER)

    assert result.returncode == 1
    assert "gcloud failed" in result.stderr
    assert [call[:2] for call in deploy.calls()] == [["functions", "deploy"]]


# -- refusals: exit 2 before any gcloud call ---------------------------------------------


def path_without_gcloud(tmp_path):
    """A PATH with every tool of the current PATH except gcloud."""
    mirror = tmp_path / "no-gcloud-bin"
    mirror.mkdir()
    for directory in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(directory):
            continue
        for entry in os.scandir(directory):
            target = mirror / entry.name
            if entry.name != "gcloud" and not target.exists() and not target.is_symlink():
                target.symlink_to(entry.path)
    return str(mirror)


@pytest.mark.parametrize(
    ("env_file", "args", "message"),
    [
        pytest.param(
            f"DEPLOY_REGION={REGION}\nBACKEND_STORE_URL=https://x\n",
            [],
            "no project given",
            id="missing-project",
        ),
        pytest.param(
            f"GOOGLE_CLOUD_PROJECT={PROJECT}\nBACKEND_STORE_URL=https://x\n",
            [],
            "no region given",
            id="missing-region",
        ),
        pytest.param(BASE_ENV_FILE + "AUTH_MODES=none\n", [], "'none'", id="auth-none"),
        pytest.param(
            f"GOOGLE_CLOUD_PROJECT={PROJECT}\nDEPLOY_REGION={REGION}\n",
            [],
            "no backend configured",
            id="no-backend",
        ),
        pytest.param(
            BASE_ENV_FILE + "AUTH_HEADER_VALUE=hunter2\n",
            [],
            "--secret AUTH_HEADER_VALUE=SECRET:1",
            id="secret-in-env-file",
        ),
        pytest.param(
            BASE_ENV_FILE,
            ["--env", "BACKEND_STORE_KEY=abc"],
            "BACKEND_STORE_KEY looks like a secret",
            id="secret-in-env-flag",
        ),
        pytest.param(
            BASE_ENV_FILE + "AUTH_MODES=id-token,header\nAUTH_HEADER_NAME=X-Key\n",
            [],
            "AUTH_HEADER_VALUE is not given as a secret",
            id="header-without-secret",
        ),
        pytest.param(
            BASE_ENV_FILE + "AUTH_MODES=header\nAUTH_HEADER_NAME=X-Key\n",
            ["--secret", "AUTH_HEADER_VALUE=s:1"],
            "id-token must be among the modes",
            id="private-function-without-id-token",
        ),
        pytest.param(BASE_ENV_FILE + "AUTH_MODES=magic\n", [], "unknown auth mode", id="unknown-mode"),
        pytest.param(
            BASE_ENV_FILE, ["--secret", "TOKEN=plaintext"], "not ENV=SECRET:VERSION", id="bad-secret"
        ),
        pytest.param(BASE_ENV_FILE + "DEPLOY_REGOIN=x\n", [], "unknown setting DEPLOY_REGOIN", id="typo"),
        pytest.param(
            BASE_ENV_FILE + 'HANDOFF_PHONE_NUMBER="+15550100" support line\n',
            [],
            "HANDOFF_PHONE_NUMBER: text after the closing quote",
            id="text-after-quote",
        ),
        pytest.param(
            BASE_ENV_FILE + "LOG_LEVEL='INFO\n",
            [],
            "LOG_LEVEL: text after the closing quote",
            id="unclosed-quote",
        ),
        pytest.param(BASE_ENV_FILE, ["--env", "FUNCTION_TARGET=other"], "reserved", id="reserved-name"),
        pytest.param(BASE_ENV_FILE, ["--env", "X_GOOGLE_FOO=1"], "reserved", id="reserved-prefix"),
        pytest.param(
            BASE_ENV_FILE, ["--env", "AUTH_PROJECT_NUMBER=my-agent-project"], "digits", id="agent-project-id"
        ),
        pytest.param(BASE_ENV_FILE, ["--name", "CX_Webhook"], "lowercase", id="bad-name"),
        pytest.param(
            BASE_ENV_FILE, ["--min-instances", "5", "--max-instances", "2"], "max-instances", id="min>max"
        ),
    ],
)
def test_refuses_unsafe_or_incomplete_configuration(deploy, env_file, args, message):
    deploy.env_file.write_text(env_file)

    result = deploy(*args)

    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert deploy.calls() == []


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        ("WEBHOOK_TIMEOUT_S=45", "WEBHOOK_TIMEOUT_S must be between 0 and 30, got '45'"),
        ("BACKEND_BANK_URL=bank.example.com", "BACKEND_BANK_URL is not an http(s) URL"),
        (
            "BACKEND_BANK_URL=https://bank.example.com\nBACKEND_BANK_AUTH=bearer",
            "BACKEND_BANK_AUTH=bearer needs BACKEND_BANK_KEY",
        ),
        ("AGENT_TIME_ZONE=Europe/Pariss", "AGENT_TIME_ZONE='Europe/Pariss' cannot be used"),
        ("AUTH_CLOCK_SKEW_S=3600", "AUTH_CLOCK_SKEW_S must be between 0 and 300"),
    ],
)
def test_what_the_service_would_refuse_stops_the_deploy_before_gcloud(deploy, settings, error):
    deploy.env_file.write_text(BASE_ENV_FILE + settings + "\n")

    result = deploy("--project-number", PROJECT_NUMBER)

    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("preflight: error: ")]
    assert len(errors) == 1 and error in errors[0], result.stderr
    assert "nothing was deployed" in result.stderr
    assert deploy.calls() == []


def test_the_services_checks_see_secrets_as_set_but_never_their_values(deploy):
    deploy.env_file.write_text(
        BASE_ENV_FILE + "BACKEND_BANK_URL=https://bank.example.com\nBACKEND_BANK_AUTH=bearer\n"
    )

    result = deploy("--secret", "BACKEND_BANK_KEY=bank-key:2")

    assert result.returncode == 0, result.stderr
    assert "preflight: the service's start-up checks pass" in result.stderr
    assert "BACKEND_BANK_KEY" not in deploy.env_vars_files()[0]


def test_a_backend_left_without_a_url_is_only_a_warning(deploy):
    result = deploy()  # BASE_ENV_FILE configures the store only

    assert result.returncode == 0, result.stderr
    assert "preflight: warning: backend 'weather' cannot be called" in result.stderr
    assert any(call[:2] == ["functions", "deploy"] for call in deploy.calls())


def test_without_python_the_services_checks_are_skipped_with_a_note(deploy, tmp_path):
    deploy.extra_env["PYTHON"] = str(tmp_path / "no-such-python3")

    result = deploy()

    assert result.returncode == 0, result.stderr
    assert "the service's own configuration checks were skipped" in result.stderr
    assert "preflight:" not in result.stderr


def test_missing_gcloud_is_exit_2(deploy, tmp_path):
    deploy.path = path_without_gcloud(tmp_path)

    result = deploy()

    assert result.returncode == 2
    assert "gcloud is not on PATH" in result.stderr


def test_unknown_project_number_is_exit_2(deploy):
    deploy.extra_env["FAKE_GCLOUD_FAIL"] = "projects describe"

    result = deploy()

    assert result.returncode == 2
    assert "could not look up the project number" in result.stderr
    assert "--project-number" in result.stderr
    assert [call[:2] for call in deploy.calls()] == [["projects", "describe"]]


def test_missing_env_file_is_exit_2(deploy, tmp_path):
    result = deploy("--env-file", str(tmp_path / "nope.env"), env_file=False)

    assert result.returncode == 2
    assert "env file not found" in result.stderr


def test_help_documents_every_flag(deploy):
    result = deploy("--help", env_file=False)

    assert result.returncode == 0
    script = DEPLOY_SH.read_text()
    flags = {word.split(")")[0] for word in script.split() if word.startswith("--") and word.endswith(")")}
    assert flags, "no flags found in the case statement"
    for flag in flags:
        assert flag in result.stdout, f"{flag} missing from --help"


# -- the script itself and the upload list -----------------------------------------------


def test_script_parses_and_passes_shellcheck():
    subprocess.run(["bash", "-n", str(DEPLOY_SH)], check=True)
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (apt-get install -y shellcheck)")
    result = subprocess.run(["shellcheck", str(DEPLOY_SH)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(
    ("env_file", "args"),
    [
        pytest.param(
            BASE_ENV_FILE, ["--secret", "AUTH_HEADER_VALUE=hunter2-s3cret"], id="value-as-reference"
        ),
        pytest.param(
            BASE_ENV_FILE + "DEPLOY_SECRETS=AUTH_HEADER_VALUE=hunter2-s3cret\n", [], id="value-in-file"
        ),
        pytest.param(BASE_ENV_FILE + "AUTH_HEADER_VALUE = hunter2-s3cret\n", [], id="malformed-line"),
        pytest.param(BASE_ENV_FILE, ["--env", "AUTH-HEADER-VALUE=hunter2-s3cret"], id="malformed-env"),
    ],
)
def test_a_refused_setting_is_named_but_its_value_never_echoed(deploy, env_file, args):
    deploy.env_file.write_text(env_file)

    result = deploy(*args)

    assert result.returncode == 2, result.stderr
    assert "hunter2" not in result.stdout + result.stderr


def test_deploying_without_a_runtime_service_account_says_what_it_runs_as(deploy):
    without = deploy("--dry-run")
    deploy.env_file.write_text(
        BASE_ENV_FILE + "DEPLOY_SERVICE_ACCOUNT=rt@my-project.iam.gserviceaccount.com\n"
    )
    with_one = deploy("--dry-run")

    assert without.returncode == 0 and with_one.returncode == 0
    assert "Compute Engine default service account" in without.stderr
    assert "Compute Engine default service account" not in with_one.stderr


@pytest.mark.parametrize(
    ("path", "uploaded"),
    [
        # Stray files in the checkout: a denylist let these through.
        ("service-account-key.json", False),
        (".env.local", False),
        ("id_rsa", False),
        ("main.py", True),
        ("requirements.txt", True),
        ("fulfillment/app.py", True),
        ("handlers/orders.py", True),
        ("demo_store/api.py", True),
        ("tests/test_app.py", False),
        ("tools/register.py", False),
        ("benchmarks/run.py", False),
        ("docs/deploy.md", False),
        ("examples/lookup-order.json", False),
        ("README.md", False),
        ("deploy.env", False),
        ("deploy.env.example", False),
        (".venv/bin/python", False),
        (".ci/run", False),
        ("fulfillment/__pycache__/app.cpython-312.pyc", False),
        (".pytest_cache/README.md", False),
    ],
)
def test_gcloudignore_uploads_only_the_service(tmp_path, path, uploaded):
    # .gcloudignore uses .gitignore syntax, so git itself can say what it excludes.
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    result = subprocess.run(
        [
            "git",
            "-c",
            f"core.excludesFile={ROOT / '.gcloudignore'}",
            "check-ignore",
            "--no-index",
            "-q",
            path,
        ],
        cwd=tmp_path,
        capture_output=True,
    )
    assert result.returncode == (1 if uploaded else 0), f"{path}: uploaded should be {uploaded}"
