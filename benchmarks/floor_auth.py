"""The least a cold start with ID-token auth and a backend call can do, with the libraries
the issues name: a measuring stick for ``coldstart_auth.py``, not the service.

Scenario 4b's first call must verify a Google-signed ID token with google-auth (issue 5) and
call the order backend through ``requests`` (issue 4). This function does only that: it
fetches the signing certificates once (``AUTH_CERTS_URL``), checks the RS256 signature with
``google.auth.crypt.RSAVerifier`` and the audience, issuer, expiry and email, calls
``BACKEND_STORE_URL`` with a ``requests.Session``, and answers a fixed WebhookResponse. No
schema validation, no router, no logging, no timeouts drawn from a deadline. Its cold start,
next to bare functions-framework's and the service's, says how much of the service's ratio
is the libraries' import cost and how much is the service:

    python benchmarks/coldstart_auth.py --runs 9 bare=../shared/bench/baselines/bare.py:webhook \\
        floor=benchmarks/floor_auth.py:webhook svc=main.py:webhook
"""

import base64
import json
import os
import time
import urllib.request

import functions_framework

ANSWER = '{"fulfillmentResponse":{"messages":[{"text":{"text":["Order ORD-1001 has shipped."]}}]}}'
SERVICE_AGENT = "service-{}@gcp-sa-dialogflow.iam.gserviceaccount.com"
_verifiers = {}
_session = None


def _b64(part):
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _verified_claims(token):
    from cryptography import x509
    from google.auth.crypt import RSAVerifier

    if not _verifiers:
        with urllib.request.urlopen(os.environ["AUTH_CERTS_URL"], timeout=3) as response:
            for kid, pem in json.load(response).items():
                key = x509.load_pem_x509_certificate(pem.encode()).public_key()
                _verifiers[kid] = RSAVerifier(key)
    header, payload, signature = token.split(".")
    verifier = _verifiers.get(json.loads(_b64(header)).get("kid"))
    if verifier is None or not verifier.verify(f"{header}.{payload}".encode(), _b64(signature)):
        return None
    claims = json.loads(_b64(payload))
    ok = (
        claims.get("iss") in ("https://accounts.google.com", "accounts.google.com")
        and claims.get("aud") == os.environ["AUTH_AUDIENCES"]
        and claims.get("exp", 0) > time.time()
        and claims.get("email_verified") is True
        and claims.get("email") == SERVICE_AGENT.format(os.environ["AUTH_PROJECT_NUMBER"])
    )
    return claims if ok else None


@functions_framework.http
def webhook(request):
    global _session
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme != "Bearer" or _verified_claims(token) is None:
        return '{"error":"unauthenticated"}', 401, {"Content-Type": "application/json"}
    import requests

    if _session is None:
        _session = requests.Session()
    order = _session.get(os.environ["BACKEND_STORE_URL"] + "/orders/ORD-1001", timeout=3)
    order.raise_for_status()
    return ANSWER, 200, {"Content-Type": "application/json"}
