"""Login, logout, sessions, HTTP basic / PW-header auth, CSRF and failed-login throttling.

Contract: `load_principal` runs before every request and sets `g.principal` (anonymous when no valid
credentials) and `g.session` (the database session row when authenticated by cookie). Sessions are random
tokens whose sha256 is stored in the database, so every worker and node shares them and logout revokes.
A share link's visitor (webapp/shares.py) adds its grant to whoever they are. State-changing requests
authenticated by the session cookie (or the share cookie) must carry its CSRF token; scripts that send
credentials with each request (basic auth, PW header) cannot be forged cross-site and need none.
Failed logins count per real client address: X-Forwarded-For is believed only from trusted proxies.
"""
import base64
import hashlib
import hmac
import secrets

from flask import Blueprint, abort, g, make_response, redirect, render_template, request

from appliance import accounts, logins
from appliance.refusal import Kind, Refused

from . import context, shares

bp = Blueprint("auth", __name__)

COOKIE = "filedock_session"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def _token_hash(token):
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def client_address():
    """The real client address (see logins.client_address)."""
    return logins.client_address(context.config(), request.environ.get("REMOTE_ADDR", ""),
                                 request.headers.get("X-Forwarded-For", ""))


def _check_password(name, password):
    """Authenticate through the core's throttled login; None when wrong (Refused THROTTLED propagates)."""
    try:
        return logins.login(context.config(), context.db(), name, password, client_address())
    except Refused as exc:
        if exc.kind is Kind.WRONG_LOGIN:
            return None
        raise


def _credentials():
    """(name, password) from basic auth or the PW header, or None."""
    header = request.headers.get("Authorization", "")
    if header[:6].lower() == "basic ":
        try:
            name, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            abort(400, "malformed Authorization header")
        return name, password
    pw = request.headers.get("PW")
    if pw:
        name, sep, password = pw.partition(":")
        if sep and name in context.config().users:
            return name, password
        return None, pw
    return None


@bp.before_app_request
def load_principal():
    """Set g.principal from credentials, a share link (PW header or cookie) or the session cookie; enforce
    CSRF on cookie-authenticated writes."""
    g.session = None
    g.share = None
    g.principal = accounts.principal_for(context.config(), None)
    if shares.attach_from_pw_header():
        return
    creds = _credentials()
    if creds is not None:
        name, password = creds
        if name is None:
            g.principal = logins.login_by_password(context.config(), context.db(), password, client_address())
        else:
            g.principal = logins.login(context.config(), context.db(), name, password, client_address())
        return
    token = request.cookies.get(COOKIE)
    max_idle = context.config().get("web", "session_days") * 86400
    session = context.db().session_get(_token_hash(token), max_idle) if token else None
    principal = accounts.principal_for(context.config(), session and session["username"])
    if not principal.anonymous:   # a session whose account was deleted or disabled counts as none
        g.session = session
        g.principal = principal
    shares.attach_from_cookie()
    expected = csrf_token()
    if expected and request.method not in SAFE_METHODS and request.endpoint not in ("auth.login", "shares.landing"):
        sent = request.headers.get("X-CSRF-Token", "")
        if not sent and _is_form():
            sent = request.form.get("csrf", "")
        if not hmac.compare_digest(sent, expected):
            abort(403, "missing or wrong CSRF token; reload the page and try again")


def _is_form():
    return request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data")


def csrf_token():
    """The CSRF token of the current session, else of the share cookie (empty when neither)."""
    if g.get("session"):
        return g.session["csrf"]
    return (g.share.csrf or "") if g.get("share") else ""


def _safe_next(target):
    """Only redirect to a local path, never to another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def login_page(next_url, error=None, status=200):
    """The login form, which sends the browser on to `next_url` (made local) once logged in."""
    body = render_template("login.html", next=_safe_next(next_url), error=error, user=None, csrf="")
    return make_response(body, status)


@bp.route("/-/login", methods=["GET", "POST"])
def login():
    """Show the login form, or log in and set the session cookie."""
    next_url = _safe_next(request.values.get("next", "/"))
    if request.method == "GET":
        return login_page(next_url)
    name = request.form.get("username", "")
    found = _check_password(name, request.form.get("password", ""))
    if found is None:
        if context.wants_json():
            abort(401, "wrong user name or password")
        return login_page(next_url, error="Wrong user name or password.", status=401)
    logins.forget_failures(context.db(), client_address())
    return start_session(redirect(next_url, code=303), found.name)


def start_session(response, name):
    """Create a new session for a user and set its cookie on the response; return the response."""
    token = secrets.token_urlsafe(32)
    context.db().session_create(_token_hash(token), name, secrets.token_urlsafe(24))
    response.set_cookie(COOKIE, token, max_age=context.config().get("web", "session_days") * 86400,
                        httponly=True, samesite="Lax", secure=request.is_secure, path="/")
    return response


@bp.route("/-/logout", methods=["POST"])
def logout():
    """End the session (server side too, so a stolen cookie stops working)."""
    token = request.cookies.get(COOKIE)
    if token:
        context.db().session_delete(_token_hash(token))
    response = redirect("/", code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
