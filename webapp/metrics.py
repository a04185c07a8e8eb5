"""`GET /-/metrics`: the Prometheus scrape (appliance.metrics), for server admins and the [metrics] token.

Contract: answered to a logged-in server admin (access.is_server_admin: the admin right on every volume,
by session cookie, basic auth or the PW header) or to `Authorization: Bearer <[metrics] token>` when a token
is configured (compared in constant time). Anyone else is refused through the core's refusal kinds: 401
anonymous or with a wrong token, 403 a user who is not a server admin.
"""
import hmac

from flask import Blueprint, request

from appliance import access, metrics
from appliance.refusal import Kind, Refused

from . import context

bp = Blueprint("metrics", __name__)


def _bearer():
    """The bearer token the request sends, or None."""
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header[:7].lower() == "bearer " else None


def _require_reader():
    """Return if this request may read the metrics, else raise Refused."""
    token, sent = context.config().get("metrics", "token"), _bearer()
    if sent is not None:
        if token and hmac.compare_digest(sent.encode(), token.encode()):
            return
        raise Refused(Kind.WRONG_LOGIN, "wrong metrics token (see [metrics] token)" if token else
                      "no [metrics] token is configured; log in as a server admin instead")
    if access.is_server_admin(context.config(), context.principal()):
        return
    if context.principal().anonymous:
        raise Refused(Kind.LOGIN_NEEDED, "log in as a server admin, or send Authorization: Bearer <[metrics] token>")
    raise Refused(Kind.FORBIDDEN, "only a server admin (the admin right on every volume) may read the metrics")


@bp.route("/-/metrics")
def scrape():
    """Every metric, in Prometheus' text format."""
    _require_reader()
    return metrics.render(context.config(), context.db()), 200, {"Content-Type": metrics.CONTENT_TYPE,
                                                                 "Cache-Control": "no-store"}
