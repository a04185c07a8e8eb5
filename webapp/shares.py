"""Share links over the web: making, listing and revoking them, and serving them to people without an account.

Contract: `POST /path?share` with `{"mode": "read"|"upload", "expires": seconds|null, "password": str|null}`
answers 201 `{"url", "id", ...}` (the URL is shown this once: only its token's hash is kept); `GET /-/shares`
lists the caller's links and those in volumes they administer (JSON, or the Shares page for browsers);
`DELETE /-/shares/<id>` (or the page's `POST /-/shares/<id>/revoke`) revokes one at once, 404 for others'.
Rules live in appliance/shares.py.

A visitor opens `/-/s/<token>` (or `/-/s/<token>/<path below it>`), after its password form if it has one,
and is sent on to the shared path itself with a share cookie. `attach_from_cookie` (called by
auth.identify for every request) gives that visitor's principal the link's ShareGrant, so every
handler (listing, downloads, zip, PUT, form upload, up2k, tus) serves them through the same access decision,
confined to what was shared. Scripts send the token as copyparty's PW header instead (`u2c -a TOKEN`, or
"TOKEN:PASSWORD"). The cookie holds the token and, for a password link, an HMAC over the link's id and
password hash with a database secret (so every worker and node can check it); its CSRF token is an HMAC of
the token. A link found revoked or expired answers 410 Gone with the reason, at once, on every request.
"""
import dataclasses
import hashlib
import hmac
import time
from urllib.parse import quote

from flask import Blueprint, abort, g, jsonify, redirect, render_template, request

from appliance import shares
from appliance.access import vpath_of

from . import context
from .dispatch import handles, has_query

bp = Blueprint("shares", __name__)

COOKIE = "filedock_share"
MAX_PASSWORD = 1024
BODY_HELP = 'send JSON: {"mode": "read" or "upload", "expires": seconds or null, "password": text or null}'


@dataclasses.dataclass(frozen=True)
class Visit:
    """The live share link a request came by, and the CSRF token its page carries (None for the PW header)."""
    row: dict
    csrf: str | None


def _mac(db, text):
    secret = db.secret("share-links")
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def _password_proof(db, row):
    return _mac(db, f"password:{row['id']}:{row['password_hash']}")


def _cookie_value(db, token, row):
    return f"{token}.{_password_proof(db, row)}" if row["password_hash"] else token


def _client_address():
    from .auth import client_address   # late import: auth calls this module for every request
    return client_address()


def _visit(ident, row, csrf):
    """Record the request's share link and add its grant to the request's principal."""
    ident.share = Visit(row, csrf)
    ident.principal = dataclasses.replace(ident.principal, share=shares.grant(row))


def _live(config, row):
    """Abort with 410 Gone when a found link no longer works."""
    gone = shares.refusal(config, row, time.time())
    if gone:
        abort(410, gone)


def attach_from_pw_header(config, db, req, ident, addr):
    """Whether the PW header of `req` carries a share link's token ("TOKEN" or "TOKEN:PASSWORD"); attach it
    to `ident` (auth.Identity) if so. addr() is the client's address, for the password throttle."""
    token, _, password = req.headers.get("PW", "").partition(":")
    row = shares.find(db, token)
    if row is None:
        return False
    _live(config, row)
    if row["password_hash"] and not shares.unlock(config, db, row, password, addr()):
        abort(401, "wrong password for this share link")
    _visit(ident, row, None)
    return True


def attach_from_cookie(config, db, req, ident):
    """Attach the share cookie's link to `ident`; a dead one answers 410 (except on filedock's own pages, so
    its error page still has its stylesheet) and marks the cookie to be dropped (ident.share_gone)."""
    token, _, proof = req.cookies.get(COOKIE, "").partition(".")
    row = shares.find(db, token)
    if row is None or (row["password_hash"] and not hmac.compare_digest(proof, _password_proof(db, row))):
        ident.share_gone = bool(token)
        return
    gone = shares.refusal(config, row, time.time())
    if gone:
        ident.share_gone = True
        if ident.session is None and not req.path.startswith("/-/"):
            abort(410, gone)
        return
    _visit(ident, row, _mac(db, f"csrf:{token}")[:43])


def drop_dead_cookie(response, share_gone, cookies):
    """Delete a dead share cookie (share_gone, see attach_from_cookie) the client sent; returns response."""
    if share_gone and COOKIE in cookies:
        response.delete_cookie(COOKIE, path="/")
    return response


def _drop_dead_cookie(response):
    return drop_dead_cookie(response, g.get("share_gone"), request.cookies)


def _password_page(token, error, status):
    return render_template("share-password.html", token=token, error=error, user=None, csrf=""), status


@bp.route("/-/s/<token>", defaults={"sub": ""}, methods=["GET", "POST"])
@bp.route("/-/s/<token>/<path:sub>", methods=["GET", "POST"])
def landing(token, sub):
    """Open a share link: ask its password if it has one, then go to what it shares with the share cookie."""
    row = shares.find(context.db(), token)
    if row is None:
        abort(404, "no such share link; check that it was copied whole")
    _live(context.config(), row)
    opened = g.get("share") is not None and g.share.row["id"] == row["id"]
    if row["password_hash"] and not opened:
        if request.method != "POST":
            return _password_page(token, None, 401)
        if not shares.unlock(context.config(), context.db(), row, request.form.get("password", ""),
                             _client_address()):
            return _password_page(token, "Wrong password.", 401)
    target = shares.shared_vpath(context.config(), row)
    if sub:
        if not target.endswith("/"):
            abort(404, "this share link is for a single file")
        target += sub
    response = redirect(quote(target), code=303)
    # The cookie outlives the link, so that a visitor is told it expired (410) rather than asked to log in.
    response.set_cookie(COOKIE, _cookie_value(context.db(), token, row), max_age=context.config().get("web", "session_days") * 86400,
                        httponly=True, samesite="Lax", secure=request.is_secure, path="/")
    return response


def _describe(row):
    """A share link as the API and the Shares page show it (never its URL: only its hash is kept)."""
    volume = context.config().volume(row["volume"])
    now = time.time()
    return {"id": row["id"], "path": vpath_of(volume, row["relpath"]) if volume else None, "mode": row["mode"],
            "created_by": row["created_by"], "created": row["created"], "expires": row["expires"],
            "expired": row["expires"] is not None and now >= row["expires"],
            "has_password": row["password_hash"] is not None, "url": None}


def _options(body):
    """(mode, expires, password) from a create request's JSON body, or 400 saying what is wrong."""
    if not isinstance(body, dict):
        abort(400, BODY_HELP)
    mode, expires, password = body.get("mode"), body.get("expires"), body.get("password")
    if mode not in shares.MODES:
        abort(400, f'mode must be "read" or "upload"; {BODY_HELP}')
    if expires is not None and (isinstance(expires, bool) or not isinstance(expires, (int, float))
                                or expires <= 0):
        abort(400, "expires must be a positive number of seconds, or null for a link that does not expire")
    if password is not None and (not isinstance(password, str) or not password or len(password) > MAX_PASSWORD):
        abort(400, f"password must be a non-empty text of at most {MAX_PASSWORD} characters, or null")
    return mode, expires, password


@handles("POST", has_query("share"), priority=20)
def create():
    """Make a share link of this file or folder."""
    mode, expires, password = _options(request.get_json(silent=True))
    token, row = shares.create(context.config(), context.db(), context.principal(), context.vpath(), mode,
                               expires, password)
    response = jsonify({**_describe(row), "url": f"{request.host_url}-/s/{token}"})
    response.status_code = 201
    return response


@bp.route("/-/shares")
def listing():
    """The caller's share links (and those in volumes they administer): JSON, or the Shares page."""
    rows = [_describe(row) for row in shares.visible(context.config(), context.db(), context.principal())]
    if context.wants_json():
        return jsonify(shares=rows)
    from .auth import csrf_token   # late import, as above
    return render_template("shares.html", shares=rows, user=context.principal().name, csrf=csrf_token())


@bp.route("/-/shares/<share_id>", methods=["DELETE"])
def revoke(share_id):
    """Revoke a share link (204)."""
    shares.revoke(context.config(), context.db(), context.principal(), share_id)
    return "", 204


@bp.route("/-/shares/<share_id>/revoke", methods=["POST"])
def revoke_form(share_id):
    """Revoke a share link from the Shares page's form, and show the page again."""
    shares.revoke(context.config(), context.db(), context.principal(), share_id)
    return redirect("/-/shares", code=303)


def init_app(app):
    """Register the pages and drop a dead share cookie from every answer."""
    app.register_blueprint(bp)
    app.after_request(_drop_dead_cookie)
