"""`/-/admin`: the admin page and its JSON API, for server admins (access.is_server_admin) only.

Contract: `GET /-/admin` is the page (static/admin.js draws it from the API); `/-/admin/api/...` is the JSON
API it uses, documented in docs/http-api.md: `GET state` (users, groups, volumes with their rights, index
use and free space, active uploads, recent events), and the edits `POST users`, `POST users/NAME/password`,
`POST users/NAME/disabled`, `DELETE users/NAME`, `PUT groups/NAME`, `PUT access`, `POST volumes`, each a
thin caller of appliance.admin. Anonymous callers get 401 (a browser asking for the page: the login form in
its place); logged-in non-admins 403. Bad input is 400 with a message naming the field, and filedock.toml is left untouched. Every
edit applies to every daemon within about a second (liveconfig). CSRF as everywhere (auth.py).
"""
import json
import os

from flask import Blueprint, abort, g, jsonify, render_template, request

from appliance import access, admin
from appliance.config import ConfigError
from appliance.refusal import Kind, Refused

from . import context
from .auth import csrf_token

bp = Blueprint("admin", __name__)

RECENT = 50     # uploads and events shown


def _acting_admin():
    """The acting admin's name, or Refused: login needed (anonymous), forbidden (not a server admin). The
    request continues with the config as the file is now (edits check against it, lists show it)."""
    principal = context.principal()
    if principal.anonymous:
        raise Refused(Kind.LOGIN_NEEDED, "log in as an admin")
    config = context.fresh_config()
    if not access.is_server_admin(config, principal):
        raise Refused(Kind.FORBIDDEN, "only admins (the admin right on every volume) may do this")
    return principal.name


@bp.app_context_processor
def _header_links():
    """Whether the header links to the admin page (for server admins only)."""
    principal = g.get("principal")
    return {"server_admin": principal is not None and access.is_server_admin(context.config(), principal)}


@bp.errorhandler(admin.Invalid)
@bp.errorhandler(ConfigError)
def _invalid(exc):
    return jsonify(error=str(exc), status=400), 400


def _body():
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(400, "send a JSON object (Content-Type: application/json)")
    return data


@bp.route("/-/admin")
def page():
    """The admin page (an anonymous browser gets the login form in its place, errors.py)."""
    name = _acting_admin()
    return render_template("admin.html", user=name, csrf=csrf_token())


def _space(path):
    try:
        st = os.statvfs(path)
    except OSError:
        return None, None
    return st.f_bavail * st.f_frsize, st.f_blocks * st.f_frsize


def _volume(volume, usage):
    files, used = usage.get(volume.url, (0, 0))
    free, total = _space(volume.path)
    return {"url": volume.url, "path": str(volume.path),
            "access": {who: "".join(r.value for r in access.Right if r in rights)
                       for who, rights in volume.access.items()},
            "files": files, "used": used, "free": free, "total": total}


def _event(row):
    data = json.loads(row["data"])
    return {"id": row["id"], "at": row["at"], "kind": row["kind"], "volume": row["volume"],
            "path": row["relpath"], "user": data.get("user"), "protocol": data.get("protocol")}


@bp.route("/-/admin/api/state")
def state():
    """Users, groups, volumes (rights, use, free space), active uploads and recent events."""
    _acting_admin()
    config, db = context.config(), context.db()
    groups = {}
    for user in config.users.values():
        for group in user.groups:
            groups.setdefault(group, []).append(user.name)
    usage = db.volume_usage()
    return jsonify(
        users=[{"name": u.name, "groups": sorted(u.groups), "disabled": u.disabled}
               for u in sorted(config.users.values(), key=lambda u: u.name)],
        groups={name: sorted(members) for name, members in sorted(groups.items())},
        volumes=[_volume(v, usage) for v in config.volumes],
        uploads=[{"volume": u["volume"], "path": f"{u['folder']}/{u['name']}".lstrip("/"), "size": u["size"],
                  "user": u["username"], "started": u["created"], "updated": u["updated"]}
                 for u in db.uploads_active(RECENT)],
        events=[_event(row) for row in db.events_recent(RECENT)])


def _done(status=200, **data):
    return jsonify(ok=True, **data), status


@bp.route("/-/admin/api/users", methods=["POST"])
def add_user():
    _acting_admin()
    data = _body()
    groups = data.get("groups", [])
    if not isinstance(groups, list):
        raise admin.Invalid("groups", "a list of group names")
    warning = admin.add_user(context.config(), data.get("name"), data.get("password"), groups)
    return _done(201, warning=warning)


@bp.route("/-/admin/api/users/<name>/password", methods=["POST"])
def reset_password(name):
    _acting_admin()
    return _done(warning=admin.set_password(context.config(), name, _body().get("password"), context.db()))


def _not_yourself(name, what):
    if name == context.principal().name:
        raise admin.Invalid("name", f"you cannot {what} your own account here")


@bp.route("/-/admin/api/users/<name>/disabled", methods=["POST"])
def disable(name):
    _acting_admin()
    disabled = _body().get("disabled")
    if disabled is True:
        _not_yourself(name, "disable")
    admin.set_disabled(context.config(), name, disabled, context.db())
    return _done()


@bp.route("/-/admin/api/users/<name>", methods=["DELETE"])
def delete_user(name):
    _acting_admin()
    _not_yourself(name, "delete")
    admin.delete_user(context.config(), name, context.db())
    return _done()


@bp.route("/-/admin/api/groups/<name>", methods=["PUT"])
def set_group(name):
    _acting_admin()
    admin.set_group(context.config(), name, _body().get("members"))
    return _done()


@bp.route("/-/admin/api/access", methods=["PUT"])
def set_access():
    _acting_admin()
    data = _body()
    admin.set_access(context.config(), data.get("url"), data.get("access"))
    return _done()


@bp.route("/-/admin/api/volumes", methods=["POST"])
def add_volume():
    name = _acting_admin()
    data = _body()
    admin.add_volume(context.config(), data.get("url"), data.get("path"), name)
    return _done(201)
