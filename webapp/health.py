"""`GET /-/health`: a cheap liveness answer for container HEALTHCHECKs and load balancers."""
from flask import Blueprint

from . import context

bp = Blueprint("health", __name__)


@bp.route("/-/health")
def health():
    """200 "ok" when the app runs and its database answers."""
    context.db().secret("session")
    return "ok\n", 200, {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"}
