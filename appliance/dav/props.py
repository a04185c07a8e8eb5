"""WsgiDAV's property manager in filedock's database: dead properties of every resource, shared and durable.

Contract: `DatabasePropertyManager(db)` implements the interface of wsgidav.prop_man.property_manager
.PropertyManager (get_properties, get_property, write_property, remove_property, remove_properties,
copy_properties, move_properties) over db.dav_props_*. WsgiDAV passes quoted reference URLs (folders end in
"/"); rows are keyed by the decoded volume path (`vpath_of`), so `in_folder(vpath)` gives PROPFIND a whole
folder's dead properties in one query. Values are the XML of the property element, as WsgiDAV serializes it.
"""
from urllib.parse import unquote


def vpath_of(ref_url):
    """The volume path of a WsgiDAV reference URL."""
    return unquote(ref_url).rstrip("/") or "/"


def parent_of(vpath):
    return "" if vpath == "/" else vpath.rpartition("/")[0] or "/"


def _text(value):
    return value.decode("utf-8") if isinstance(value, bytes) else value


class DatabasePropertyManager:
    """Dead properties as rows of dav_props."""

    def __init__(self, db):
        self.db = db

    def __repr__(self):
        return "DatabasePropertyManager"

    def get_properties(self, norm_url, environ=None):
        return list(self.db.dav_props_of(vpath_of(norm_url)))

    def get_property(self, norm_url, name, environ=None):
        return self.db.dav_props_of(vpath_of(norm_url)).get(name)

    def write_property(self, norm_url, name, property_value, dry_run=False, environ=None):
        if not dry_run:
            path = vpath_of(norm_url)
            self.db.dav_prop_set(path, parent_of(path), name, _text(property_value))

    def remove_property(self, norm_url, name, dry_run=False, environ=None):
        if not dry_run:
            self.db.dav_prop_delete(vpath_of(norm_url), name)

    def remove_properties(self, norm_url, environ=None):
        self.db.dav_props_delete_tree(vpath_of(norm_url))

    def copy_properties(self, src_url, dest_url, environ=None):
        self.copy_one(vpath_of(src_url), vpath_of(dest_url))

    def move_properties(self, src_url, dest_url, with_children, environ=None):
        dest = vpath_of(dest_url)
        self.db.dav_props_move(vpath_of(src_url), dest, parent_of(dest), with_children)

    # -- by volume path, for the provider --------------------------------------------------------------
    def delete_tree(self, vpath):
        """Forget the dead properties of a deleted resource and of everything that was below it."""
        self.db.dav_props_delete_tree(vpath)

    def copy_one(self, source, dest):
        """Give a copied resource its source's dead properties (members are copied one by one)."""
        self.db.dav_props_copy(source, dest, parent_of(dest))

    def move_tree(self, source, dest):
        """Move the dead properties of a moved resource and of everything below it."""
        self.db.dav_props_move(source, dest, parent_of(dest), True)

    def of(self, vpath):
        """{name: value} of one resource's dead properties."""
        return self.db.dav_props_of(vpath)

    def in_folder(self, vpath):
        """{path: {name: value}} of a folder's and its direct members' dead properties (for PROPFIND)."""
        found = {}
        for row in self.db.dav_props_in_folder(vpath):
            found.setdefault(row["path"], {})[row["name"]] = row["value"]
        return found
