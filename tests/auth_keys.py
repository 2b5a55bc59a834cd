"""Self-made stand-ins for Google's ID-token signing keys, and token minting, for the auth tests.

Each ``signing_key(kid)`` is a fresh RSA key with a self-signed X.509 certificate, shaped like
an entry of https://www.googleapis.com/oauth2/v1/certs; ``mint`` signs claims with it through
google-auth, exactly as Google's token service would.

    >>> key = signing_key("k1")
    >>> token = mint(key, email=SERVICE_AGENT)
    >>> certs_document(key) == {"k1": key.certificate_pem}
    True
"""

import base64
import datetime
import functools
import json
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from google.auth import crypt, jwt

PROJECT_NUMBER = "123456789012"
SERVICE_AGENT = f"service-{PROJECT_NUMBER}@gcp-sa-dialogflow.iam.gserviceaccount.com"
OTHER_PROJECT_AGENT = "service-987654321098@gcp-sa-dialogflow.iam.gserviceaccount.com"
AUDIENCE = "https://us-central1-demo-project.cloudfunctions.net/cx-webhook"
CERTS_URL = "https://certs.test/oauth2/v1/certs"


class SigningKey:
    """An RSA private key, its kid, and the PEM certificate Google would publish for it."""

    def __init__(self, kid, private_key, certificate_pem):
        self.kid = kid
        self.private_key = private_key
        self.certificate_pem = certificate_pem

    def signer(self, kid=None):
        pem = self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return crypt.RSASigner.from_string(pem, key_id=kid or self.kid)


def _self_signed(private_key, common_name, *extensions):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=14))
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical)
    certificate = builder.sign(private_key, hashes.SHA256())
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def loopback_tls_files(folder):
    """``(certificate, key)`` files for a TLS server on 127.0.0.1, the certificate its own CA."""
    import ipaddress

    private_key = ec.generate_private_key(ec.SECP256R1())
    certificate = _self_signed(
        private_key,
        "127.0.0.1",
        (x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False),
        (x509.BasicConstraints(ca=True, path_length=None), True),
    )
    cert_file, key_file = folder / "tls-cert.pem", folder / "tls-key.pem"
    cert_file.write_text(certificate)
    key_file.write_bytes(
        private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


@functools.cache
def signing_key(kid):
    """The test key named ``kid``, made once per test session (RSA generation is slow)."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return SigningKey(kid, private_key, _self_signed(private_key, f"test-{kid}"))


@functools.cache
def ec_certificate_pem():
    """A valid certificate whose key is not RSA: a key service must skip it, not crash."""
    private_key = ec.generate_private_key(ec.SECP256R1())
    return _self_signed(private_key, "test-ec")


def certs_document(*keys):
    """The JSON body of the certs endpoint for ``keys``: kid → PEM certificate."""
    return {key.kid: key.certificate_pem for key in keys}


def claims(now=None, **overrides):
    """The claims of a Dialogflow service agent ID token for ``AUDIENCE``; ``None`` drops one."""
    now = int(time.time() if now is None else now)
    body = {
        "iss": "https://accounts.google.com",
        "aud": AUDIENCE,
        "azp": "111111111111111111111",
        "sub": "111111111111111111111",
        "email": SERVICE_AGENT,
        "email_verified": True,
        "iat": now,
        "exp": now + 3600,
    }
    body.update(overrides)
    return {name: value for name, value in body.items() if value is not None}


def mint(key, *, kid=None, now=None, **overrides):
    """An RS256 ID token signed by ``key`` (header kid ``kid`` or the key's own)."""
    return jwt.encode(key.signer(kid), claims(now, **overrides)).decode("ascii")


def b64url(data):
    if isinstance(data, dict):
        data = json.dumps(data).encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def forge(header, payload, signature=b"not-a-signature"):
    """A token with any header and payload, for malformed and algorithm-confusion cases."""
    return ".".join((b64url(header), b64url(payload), b64url(signature)))


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def basic(username, password):
    credentials = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return {"Authorization": f"Basic {credentials}"}
