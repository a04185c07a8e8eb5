"""The filedock web app: `create_app(config)` builds a Flask app from a loaded appliance Config.

Contract: the app keeps no state between requests beyond a per-process database connection and its live
config (appliance.liveconfig, which every worker checks against the file on its own); sessions,
throttling and upload state live in the database, so any number of gunicorn workers (or nodes) can serve
any request. Parts register themselves through init_app or blueprints; the factory reads as a list of parts.
The app refuses to be built without the static files the build makes (BUILT_ASSETS, `make web-assets`): a page
whose uploader cannot hash must not ship.
"""
import os
import time

from flask import Flask

from appliance.liveconfig import LiveConfig

from . import (account, admin, archive, auth, browse, connect, dispatch, errors, fileops, headers,  # noqa: F401
               health, lean, listing_rows, metrics, search, shares, thumbs, tus, up2k)  # (handlers register on import)

# Static files that are not in git: `make web-assets` copies them from npm packages (package-lock.json).
BUILT_ASSETS = ("vendor/hash-wasm-sha512.js",)


def create_app(config):
    """Build the WSGI app for a validated appliance.config.Config."""
    app = Flask(__name__, static_url_path="/-/static")
    missing = [name for name in BUILT_ASSETS if not os.path.isfile(os.path.join(app.static_folder, name))]
    if missing:
        raise RuntimeError(f"webapp/static/{missing[0]} is missing: build it with `make web-assets`")
    app.extensions["filedock.live"] = LiveConfig(config)   # every worker process checks the file itself
    app.config["MAX_FORM_MEMORY_SIZE"] = 1 << 20
    app.json.sort_keys = False
    # UTC minutes for pages seen without JavaScript; browse.js re-renders dates in local time.
    app.jinja_env.filters["utcdate"] = listing_rows.utc_minute
    errors.init_app(app)
    headers.init_app(app)
    fileops.init_app(app)
    shares.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(metrics.bp)
    app.register_blueprint(connect.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(tus.bp)
    app.register_blueprint(search.bp)
    app.register_blueprint(dispatch.bp)
    lean.install(app)   # the hot requests in front of Flask, through the same parts
    return app
