"""PROPFIND answered from one folder scan: the live properties from FileOps' entries, the dead ones and the
locks of a whole folder from one database query each.

Contract: `respond(environ, start_response, ops, vpath, props, locks, quirks)` answers PROPFIND with Depth 0 or
1 (allprop, include, propname, or named properties) as a 207 multistatus built as text; Depth infinity (also
the default when the header is missing) is refused with 403 propfind-finite-depth (RFC 4918 9.1), as Apache
does. Access is FileOps': a folder is described to whoever may list it (or upload into it: a drop box looks
empty), a file to whoever may read or get it; `quirks.hides` names are left out of listings. The live
properties are resourcetype, getcontentlength, getcontenttype, getlastmodified, getetag, displayname,
supportedlock and lockdiscovery; asked-for properties that are neither live nor stored get a 404 propstat.
"""
import functools
import re
import time
from urllib.parse import quote
from xml.sax.saxutils import escape, quoteattr

from wsgidav import util
from wsgidav.dav_error import HTTP_BAD_REQUEST, HTTP_FORBIDDEN, PRECONDITION_CODE_PropfindFiniteDepth, DAVError

from .locks import lock_root
from .provider import content_type_of, etag_of

HREF_SAFE = "/!*'(),$-_|.~"   # WsgiDAV's: Nautilus chokes on "(" encoded as "%28"
_UNQUOTED = re.compile(r"[A-Za-z0-9/!*'(),$_|.~-]*\Z").match   # paths that quote() would leave as they are
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
SUPPORTED_LOCK = ("<D:supportedlock>"
                  "<D:lockentry><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>"
                  "<D:lockentry><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype></D:lockentry>"
                  "</D:supportedlock>")
OK, MISSING = "HTTP/1.1 200 OK", "HTTP/1.1 404 Not Found"


@functools.lru_cache(maxsize=4096)
def http_date(seconds):
    """RFC 1123 date of whole seconds, independent of the locale."""
    t = time.gmtime(seconds)
    return f"{DAYS[t.tm_wday]}, {t.tm_mday:02d} {MONTHS[t.tm_mon - 1]} {t.tm_year} {t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"


def element(name, inner=None):
    """An element of a Clark-notation name ("{ns}local"), empty when inner is None; DAV: is prefix D."""
    ns, _, local = name[1:].partition("}") if name.startswith("{") else ("", "", name)
    if ns == "DAV:":
        tag, declaration = "D:" + local, ""
    elif ns:
        tag, declaration = "ns0:" + local, f" xmlns:ns0={quoteattr(ns)}"
    else:
        tag, declaration = local, ""
    return f"<{tag}{declaration}/>" if inner is None else f"<{tag}{declaration}>{inner}</{tag}>"


def href_of(vpath, is_dir):
    """The quoted href of a resource (folders end in "/")."""
    href = vpath if _UNQUOTED(vpath) else quote(vpath, safe=HREF_SAFE, errors="surrogateescape")
    return href + "/" if is_dir and vpath != "/" else href


class Item:
    """One resource of the answer: its path, Entry, dead properties and direct locks."""
    __slots__ = ("vpath", "entry", "dead", "locks")

    def __init__(self, vpath, entry, dead, locks):
        self.vpath, self.entry, self.dead, self.locks = vpath, entry, dead, locks

    def href(self):
        return href_of(self.vpath, self.entry.is_dir)


def _resourcetype(item):
    return "<D:resourcetype><D:collection/></D:resourcetype>" if item.entry.is_dir else "<D:resourcetype/>"


def _contentlength(item):
    return None if item.entry.is_dir else f"<D:getcontentlength>{item.entry.size}</D:getcontentlength>"


def _contenttype(item):
    return None if item.entry.is_dir else f"<D:getcontenttype>{escape(content_type_of(item.entry.name))}</D:getcontenttype>"


def _lastmodified(item):
    return f"<D:getlastmodified>{http_date(int(item.entry.mtime))}</D:getlastmodified>"


def _etag(item):
    return f'<D:getetag>"{etag_of(item.entry)}"</D:getetag>'


def text(value):
    """XML character data of a file name (names that are not UTF-8 get replacement characters)."""
    if not value.isascii():
        value = value.encode("utf-8", "replace").decode("utf-8")
    return escape(value) if "&" in value or "<" in value or ">" in value else value


def _displayname(item):
    return f"<D:displayname>{text(item.entry.name)}</D:displayname>"


def _supportedlock(item):
    return SUPPORTED_LOCK


def _activelock(lock, href):
    timeout = "Infinite" if lock["timeout"] < 0 else f"Second-{max(int(lock['expire'] - time.time()), 0)}"
    owner = lock["owner"].decode("utf-8", "replace")
    if owner.startswith("<?xml"):
        owner = owner.partition("?>")[2]
    return (f"<D:activelock><D:locktype><D:{lock['type']}/></D:locktype><D:lockscope><D:{lock['scope']}/></D:lockscope>"
            f"<D:depth>{lock['depth']}</D:depth>{owner}<D:timeout>{timeout}</D:timeout>"
            f"<D:locktoken><D:href>{escape(lock['token'])}</D:href></D:locktoken>"
            f"<D:lockroot><D:href>{href}</D:href></D:lockroot></D:activelock>")


def _lockdiscovery(item):
    if not item.locks:
        return "<D:lockdiscovery/>"
    href = item.href()
    return "<D:lockdiscovery>" + "".join(_activelock(lock, href) for lock in item.locks) + "</D:lockdiscovery>"


LIVE = {
    "{DAV:}resourcetype": _resourcetype, "{DAV:}getcontentlength": _contentlength,
    "{DAV:}getcontenttype": _contenttype, "{DAV:}getlastmodified": _lastmodified, "{DAV:}getetag": _etag,
    "{DAV:}displayname": _displayname, "{DAV:}supportedlock": _supportedlock,
    "{DAV:}lockdiscovery": _lockdiscovery,
}


def _dead_xml(value):
    return value.partition("?>")[2].lstrip() if value.startswith("<?xml") else value


def _propstat(found, status):
    return f"<D:propstat><D:prop>{''.join(found)}</D:prop><D:status>{status}</D:status></D:propstat>"


def _plan(mode, names):
    """(name, live renderer or None) of every property to look up, and whether a miss is reported (404)."""
    if mode == "allprop":
        return [(n, LIVE[n], False) for n in LIVE] + [(n, LIVE.get(n), True) for n in names if n not in LIVE]
    return [(n, LIVE.get(n), True) for n in names]


def _plain_allprop(href, entry):
    """The <D:response> to allprop of a resource without dead properties or locks (most of a listing): what
    the LIVE renderers give, in their order, as one string."""
    if entry.is_dir:
        kind = "<D:resourcetype><D:collection/></D:resourcetype>"
    else:
        kind = (f"<D:resourcetype/><D:getcontentlength>{entry.size}</D:getcontentlength>"
                f"<D:getcontenttype>{escape(content_type_of(entry.name))}</D:getcontenttype>")
    return (f"<D:response><D:href>{href}</D:href><D:propstat><D:prop>{kind}"
            f"<D:getlastmodified>{http_date(int(entry.mtime))}</D:getlastmodified>"
            f'<D:getetag>"{etag_of(entry)}"</D:getetag><D:displayname>{text(entry.name)}</D:displayname>'
            f"{SUPPORTED_LOCK}<D:lockdiscovery/></D:prop><D:status>{OK}</D:status></D:propstat></D:response>")


def _response(item, mode, names, plan):
    """One <D:response>: 200 propstat for what was found, 404 for what was asked and is not there."""
    found, missing = [], []
    if mode == "propname":
        found = [element(n) for n in LIVE if LIVE[n](item) is not None] + [element(n) for n in item.dead]
    else:
        dead = item.dead
        for name, render, report in plan:
            value = render(item) if render else None
            if value is None and name in dead:
                value = _dead_xml(dead[name])
            if value is not None:
                found.append(value)
            elif report:
                missing.append(element(name))
        if mode == "allprop" and dead:
            found += [_dead_xml(v) for n, v in dead.items() if n not in LIVE and n not in names]
    parts = ["<D:response><D:href>", item.href(), "</D:href>"]
    if found or not missing:
        parts.append(_propstat(found, OK))
    if missing:
        parts.append(_propstat(missing, MISSING))
    parts.append("</D:response>")
    return "".join(parts)


def _request(environ):
    """(mode, names) of the request body: allprop (with include's names), propname, or prop."""
    body = util.parse_xml_body(environ, allow_empty=True)
    if body is None:
        return "allprop", []
    if body.tag != "{DAV:}propfind":
        raise DAVError(HTTP_BAD_REQUEST, "the body is not a DAV:propfind")
    modes = {child.tag: child for child in body}
    chosen = [m for m in ("{DAV:}allprop", "{DAV:}propname", "{DAV:}prop") if m in modes]
    if len(chosen) != 1:
        raise DAVError(HTTP_BAD_REQUEST, "a propfind asks for exactly one of allprop, propname or prop")
    if chosen[0] == "{DAV:}allprop":
        include = modes.get("{DAV:}include")
        return "allprop", [c.tag for c in include] if include is not None else []
    if chosen[0] == "{DAV:}propname":
        return "propname", []
    return "prop", [c.tag for c in modes["{DAV:}prop"]]


def respond(environ, start_response, ops, vpath, props, locks, quirks):
    """Answer one PROPFIND (refusals are raised as refusal.Refused, bad requests as DAVError)."""
    depth = environ.get("HTTP_DEPTH", "infinity").lower()
    if depth not in ("0", "1", "infinity"):
        raise DAVError(HTTP_BAD_REQUEST, "Depth must be 0, 1 or infinity")
    entry = ops.stat(vpath)   # first: what is hidden stays hidden, whatever the request
    if depth == "infinity":
        raise DAVError(HTTP_FORBIDDEN, "PROPFIND with Depth: infinity is not served; use Depth 1",
                       err_condition=PRECONDITION_CODE_PropfindFiniteDepth)
    mode, names = _request(environ)
    members = []
    if depth == "1" and entry.is_dir:
        prefix = vpath.rstrip("/") + "/"
        members = [(prefix + e.name, e) for e in ops.listdir(vpath).entries if not quirks.hides(e.name)]
    wants_locks = mode == "propname" or "{DAV:}lockdiscovery" in names or mode == "allprop"
    if members:
        dead, held = props.in_folder(vpath), (locks.in_folder(vpath) if wants_locks else [])
    else:
        dead, held = {vpath: props.of(vpath)}, (locks.get_lock_list(
            lock_root(vpath), include_root=True, include_children=False, token_only=False) if wants_locks else [])
    by_root = {}
    for lock in held:
        by_root.setdefault(lock["root"], []).append(lock)
    plan, plain = _plan(mode, names), mode == "allprop" and not names

    def described(path, entry):
        own_dead, own_locks = dead.get(path), by_root.get(lock_root(path)) if by_root else None
        if plain and not own_dead and not own_locks:
            return _plain_allprop(href_of(path, entry.is_dir), entry)
        return _response(Item(path, entry, own_dead or {}, own_locks or []), mode, names, plan)

    parts = ['<?xml version="1.0" encoding="utf-8"?>\n<D:multistatus xmlns:D="DAV:">', described(vpath, entry)]
    parts += [described(path, e) for path, e in members]
    parts.append("</D:multistatus>")
    data = "".join(parts).encode("utf-8", "surrogateescape")
    start_response("207 Multi-Status", [("Content-Type", "application/xml; charset=utf-8"),
                                        ("Content-Length", str(len(data)))])
    return [data]
