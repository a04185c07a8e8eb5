"""The filedock web app (Flask), served by gunicorn with gevent workers.

`webapp.app.create_app(config)` builds the app; `webapp.server.serve(config)` runs it. This package's own
import loads nothing: webapp.server binds the socket and says READY=1 before the app is loaded.
"""
