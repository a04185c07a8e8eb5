"""`/-/account`: any logged-in user changes their own password.

Contract: GET shows the form (anonymous visitors get 401: a browser, the login form in its place). POST takes `current`, `new`
and `again` (a form, or JSON with the same names): the current password must be right (a wrong one counts
as a failed login of the client's address, logins.login) and the new one given twice; it is written to
filedock.toml (scrypt) and Samba's hash through appliance.admin.set_password, which ends every session of
the user; this browser gets a new session, so only the others are logged out. JSON answers
{"changed": true, "warning": null or why SMB could not take it}; the form is sent back to the page, with a
message. Bad input is 400 naming the field.
"""
from flask import Blueprint, abort, jsonify, redirect, render_template, request

from appliance import admin, logins
from appliance.refusal import Kind, Refused

from . import context
from .auth import client_address, csrf_token, start_session

bp = Blueprint("account", __name__)


def _fields():
    """The posted fields (form or JSON) as a dict."""
    data = request.get_json(silent=True) if request.is_json else request.form.to_dict()
    if not isinstance(data, dict):
        abort(400, "send a JSON object or a form")
    return data


def _page(message=None, error=None, status=200):
    user = context.principal().name
    return render_template("account.html", user=user, csrf=csrf_token(), message=message, error=error), status


@bp.route("/-/account", methods=["GET", "POST"])
def account():
    """Show the password form, or change the password."""
    principal = context.principal()
    if principal.anonymous:   # a browser gets the login form in place (errors.py)
        raise Refused(Kind.LOGIN_NEEDED, "log in to change your password")
    if request.method == "GET":
        return _page(message="Your password was changed; your other sessions are logged out."
                     if "changed" in request.args else None)
    data = _fields()
    config = context.fresh_config()
    try:
        logins.login(config, context.db(), principal.name, str(data.get("current", "")), client_address())
    except Refused as exc:
        if exc.kind is not Kind.WRONG_LOGIN:
            raise
        return _answer(403, "current: the current password is wrong")
    if data.get("new") != data.get("again"):
        return _answer(400, "again: the new password and its repetition differ")
    try:
        warning = admin.set_password(config, principal.name, data.get("new"), context.db())
    except admin.Invalid as exc:
        return _answer(400, str(exc))
    # this browser's session ended with the others: it gets a new one (and the page a new CSRF token)
    response = jsonify(changed=True, warning=warning) if context.wants_json() else \
        redirect("/-/account?changed", code=303)
    return start_session(response, principal.name)


def _answer(status, message):
    if context.wants_json():
        abort(status, message)
    return _page(error=message, status=status)
