"""Settings from the environment, read once at start.

Every knob is an environment variable, so the same code runs locally, in CI and on Cloud
Functions (where ``gcloud functions deploy --env-vars-file`` and ``--set-secrets`` fill them).
The README lists them all. This module reads and checks the service's own; the backends'
(``BACKEND_*``, ``fulfillment/client.py``), ``AGENT_TIME_ZONE`` (``clock.py``) and
``HANDOFF_PHONE_NUMBER`` (``handlers/handoff.py``) are read where they are used, from
``os.environ``. ``Settings.from_env(env)`` reads this module's settings, and the ``AUTH_*``
and ``LOG_*`` ones the app reads through ``Settings.env``, from ``env`` instead.

    >>> Settings.from_env({"WEBHOOK_TIMEOUT_S": "10"}).budget_s
    9.25
"""

import os
from dataclasses import dataclass, field


def number(env, name, default, kind=float, *, minimum=0, maximum=None):
    """Setting ``name`` as a ``kind`` (float or int) of at least ``minimum`` (0: not
    negative) and at most ``maximum`` when given; ``default`` when unset.

    >>> number({"RETRIES": "3"}, "RETRIES", 2, int)
    3
    """
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None
    if value != value or value in (float("inf"), float("-inf")):  # "nan", "inf": no timeout at all
        raise ValueError(f"{name} must be a finite number, got {raw!r}")
    if maximum is not None:
        if not minimum <= value <= maximum:
            raise ValueError(f"{name} must be between {minimum:g} and {maximum:g}, got {raw!r}")
    elif value < minimum:
        limit = "must not be negative" if minimum == 0 else f"must be at least {minimum:g}"
        raise ValueError(f"{name} {limit}, got {raw!r}")
    return value


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def flag(env, name, default=False):
    """Setting ``name`` as a bool: true/false, yes/no, on/off or 1/0 in any case; ``default``
    when unset. Anything else raises ``ValueError``: a typo must not pass for "false".

    >>> flag({"DEMO_STORE": "Off"}, "DEMO_STORE", default=True)
    False
    """
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError(f"{name} must be true or false (or on/off, yes/no, 1/0), got {raw[:20]!r}")


def csv(raw):
    """Split a comma-separated setting into its non-empty, stripped items."""
    return tuple(item.strip() for item in (raw or "").split(",") if item.strip())


def on_google_cloud(env=os.environ):
    """True when running on Cloud Functions / Cloud Run (they set ``K_SERVICE``)."""
    return bool(env.get("K_SERVICE"))


class ConfigurationError(ValueError):
    """Several settings are wrong at once; ``problems`` holds one sentence for each."""

    def __init__(self, problems):
        super().__init__("; ".join(problems))
        self.problems = list(problems)


# A webhook resource's timeout is at most 30 s (Dialogflow's bound). The request limit is in
# bytes: under 1 KiB (a "1" meant as megabytes) it would refuse the agent's ordinary calls,
# which carry a session path, a tag, the query and parameters (examples/: 850 to 1,250 bytes).
MAX_WEBHOOK_TIMEOUT_S = 30.0
MIN_REQUEST_LIMIT_BYTES = 1024


@dataclass(frozen=True)
class Settings:
    service: str = "cx-webhook"
    # Dialogflow gives up on a webhook after the timeout set on the webhook resource (5 s by
    # default). We stop calling backends ``safety_margin_s`` before that, to leave time to
    # build the answer and carry it back.
    webhook_timeout_s: float = 5.0
    safety_margin_s: float = 0.75
    max_request_bytes: int = 1024 * 1024
    max_response_bytes: int = 64 * 1024
    # Replayed answers for side-effecting tags: how long a repeated call gets the same answer.
    replay_ttl_s: float = 600.0
    # The environment the LOG_* and AUTH_* settings are read from: the process's unless
    # from_env() is given another. Never empty by default: on Google Cloud an empty one
    # would read as "not on Google Cloud" and turn authentication off.
    env: dict = field(default_factory=lambda: dict(os.environ), repr=False, compare=False)

    @property
    def budget_s(self):
        return max(self.webhook_timeout_s - self.safety_margin_s, 0.1)

    @classmethod
    def from_env(cls, env=None):
        """Read and check every setting: a value that would break every call (a budget that
        leaves backends no time, a body limit no WebhookRequest fits) refuses to start, so
        the deploy fails and says why, rather than the agent's callers. Every wrong setting
        is named at once (``ConfigurationError``), so one deploy attempt finds them all."""
        env = os.environ if env is None else env
        problems = []

        def read(name, default, *args, **kwargs):
            try:
                return number(env, name, default, *args, **kwargs)
            except ValueError as err:
                problems.append(str(err))
                return None

        timeout_s = read("WEBHOOK_TIMEOUT_S", cls.webhook_timeout_s, maximum=MAX_WEBHOOK_TIMEOUT_S)
        margin_s = read("WEBHOOK_SAFETY_MARGIN_S", cls.safety_margin_s)
        max_request_bytes = read(
            "MAX_REQUEST_BYTES", cls.max_request_bytes, int, minimum=MIN_REQUEST_LIMIT_BYTES
        )
        replay_ttl_s = read("REPLAY_TTL_S", cls.replay_ttl_s)
        # Read where they are used (fulfillment/client.py), checked here so that a typo stops
        # the start: "DEMO_STORE=false" must not leave sample data answering callers.
        for name in ("DEMO_STORE", "BACKEND_TRUST_ENV"):
            try:
                flag(env, name)
            except ValueError as err:
                problems.append(str(err))
        if timeout_s is not None and margin_s is not None and margin_s >= timeout_s:
            problems.append(
                f"WEBHOOK_SAFETY_MARGIN_S ({margin_s:g}) must be less than WEBHOOK_TIMEOUT_S "
                f"({timeout_s:g}): it is taken from it, and backends would get no time at all"
            )
        if problems:
            raise ConfigurationError(problems)
        return cls(
            service=env.get("SERVICE_NAME") or env.get("K_SERVICE") or cls.service,
            webhook_timeout_s=timeout_s,
            safety_margin_s=margin_s,
            max_request_bytes=max_request_bytes,
            replay_ttl_s=replay_ttl_s,
            env=dict(env),
        )
