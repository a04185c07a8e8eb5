"""Login, logout, sessions, HTTP basic / PW-header auth, CSRF and failed-login throttling.

Contract: `identify(config, db, req, ident)` works out who sends a request (an Identity: principal, anonymous
when no valid credentials; the database session row when authenticated by cookie; the share link) for Flask's
`load_principal`, which runs before every request and sets `g.principal` and `g.session`, and for the lean
path (webapp/lean.py); `check_csrf` is the CSRF rule for both. Sessions are random
tokens whose sha256 is stored in the database, so every worker and node shares them and logout revokes.
A share link's visitor (webapp/shares.py) adds its grant to whoever they are. State-changing requests
authenticated by the session cookie (or the share cookie) must carry its CSRF token; scripts that send
credentials with each request (basic auth, PW header) cannot be forged cross-site and need none.
Failed logins count per real client address: X-Forwarded-For is believed only from trusted proxies.
"""
import base64
import dataclasses
import hashlib
import hmac
import secrets

from flask import Blueprint, abort, g, make_response, redirect, render_template, request

from appliance import accounts, logins
from appliance.access import Principal
from appliance.refusal import Kind, Refused

from . import context, shares

bp = Blueprint("auth", __name__)

COOKIE = "filedock_session"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def _token_hash(token):
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def address_of(config, req):
    """The real client address of a Werkzeug request (see logins.client_address)."""
    return logins.client_address(config, req.environ.get("REMOTE_ADDR", ""), req.headers.get("X-Forwarded-For", ""))


def client_address():
    """The real client address of this request."""
    return address_of(context.config(), request)


def _check_password(name, password):
    """Authenticate through the core's throttled login; None when wrong (Refused THROTTLED propagates)."""
    try:
        return logins.login(context.config(), context.db(), name, password, client_address())
    except Refused as exc:
        if exc.kind is Kind.WRONG_LOGIN:
            return None
        raise


def _credentials(config, req):
    """(name, password) from basic auth or the PW header, or None."""
    header = req.headers.get("Authorization", "")
    if header[:6].lower() == "basic ":
        try:
            name, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            abort(400, "malformed Authorization header")
        return name, password
    pw = req.headers.get("PW")
    if pw:
        name, sep, password = pw.partition(":")
        if sep and name in config.users:
            return name, password
        return None, pw
    return None


@dataclasses.dataclass
class Identity:
    """Who sends a request: their principal, the session row (cookie logins), the share link they came by
    (shares.Visit), and whether a dead share cookie should be dropped from the answer."""
    principal: Principal
    session: dict | None = None
    share: object = None
    share_gone: bool = False

    @property
    def csrf(self):
        """The CSRF token of the session, else of the share cookie (empty when neither)."""
        if self.session:
            return self.session["csrf"]
        return (self.share.csrf or "") if self.share else ""


def identify(config, db, req, ident):
    """Fill `ident` (anonymous to start with) from the credentials of `req`, a Werkzeug request: a share link
    in the PW header, basic auth or the PW header's password, else the session cookie and the share cookie.
    Refusals raise (Refused, or HTTPException via abort) with `ident` as far as it got. Never cached:
    sessions live in the database, so a logout or a disabled account counts on the very next request."""
    addr = lambda: address_of(config, req)   # noqa: E731 (only computed when a password is checked)
    if shares.attach_from_pw_header(config, db, req, ident, addr):
        return
    creds = _credentials(config, req)
    if creds is not None:
        name, password = creds
        if name is None:
            ident.principal = logins.login_by_password(config, db, password, addr())
        else:
            ident.principal = logins.login(config, db, name, password, addr())
        return
    token = req.cookies.get(COOKIE)
    max_idle = config.get("web", "session_days") * 86400
    session = db.session_get(_token_hash(token), max_idle) if token else None
    principal = accounts.principal_for(config, session and session["username"])
    if not principal.anonymous:   # a session whose account was deleted or disabled counts as none
        ident.session = session
        ident.principal = principal
    shares.attach_from_cookie(config, db, req, ident)


def check_csrf(ident, req, form_token):
    """Refuse (403) a state-changing request authenticated by a cookie without its CSRF token, sent in the
    X-CSRF-Token header or, for a form, as form_token() (its `csrf` field)."""
    expected = ident.csrf
    if expected and req.method not in SAFE_METHODS:
        sent = req.headers.get("X-CSRF-Token", "")
        if not sent and is_form(req):
            sent = form_token()
        if not hmac.compare_digest(sent, expected):
            abort(403, "missing or wrong CSRF token; reload the page and try again")


def keep_in_g(ident):
    """Make `ident` this request's g.principal, g.session, g.share and g.share_gone (what handlers read)."""
    g.principal, g.session, g.share, g.share_gone = ident.principal, ident.session, ident.share, ident.share_gone


@bp.before_app_request
def load_principal():
    """Set g.principal, g.session, g.share and g.share_gone (identify); enforce CSRF on cookie-authenticated
    writes."""
    config = context.config()
    ident = Identity(accounts.principal_for(config, None))
    try:
        identify(config, context.db(), request, ident)
    finally:
        keep_in_g(ident)
    if request.endpoint not in ("auth.login", "shares.landing"):
        check_csrf(ident, request, lambda: request.form.get("csrf", ""))


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def is_form(req):
    """Whether a request's body is an HTML form."""
    return req.mimetype in FORM_TYPES


def csrf_token():
    """The CSRF token of the current session, else of the share cookie (empty when neither)."""
    return Identity(g.get("principal"), g.get("session"), g.get("share")).csrf


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
