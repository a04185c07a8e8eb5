"""Who is asking: HTTP Basic credentials through the core's throttled login, or the anonymous principal.

Contract: `principal(config, db, environ)` returns the request's Principal (anonymous without credentials)
or raises Refused: WRONG_LOGIN for a bad name or password or a malformed header, THROTTLED when the client's
address failed too often over any protocol (logins.login counts failures in the database, shared with the
web app, FTP and every node). The address is the peer's, or the right-most untrusted X-Forwarded-For hop when
the peer is one of [server] trusted_proxies (logins.client_address, the rule of every protocol).
"""
import base64
import binascii

from appliance import logins
from appliance.access import Principal
from appliance.refusal import Kind, Refused


def principal(config, db, environ):
    """The Principal of this request, or Refused (WRONG_LOGIN, THROTTLED)."""
    header = environ.get("HTTP_AUTHORIZATION", "")
    if not header:
        return Principal()
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        raise Refused(Kind.WRONG_LOGIN, "only Basic authentication is supported")
    try:
        name, sep, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise Refused(Kind.WRONG_LOGIN, "malformed Authorization header") from None
    if not sep:
        raise Refused(Kind.WRONG_LOGIN, "malformed Authorization header")
    address = logins.client_address(config, environ.get("REMOTE_ADDR", ""), environ.get("HTTP_X_FORWARDED_FOR", ""))
    return logins.login(config, db, name, password, address)
