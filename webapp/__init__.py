"""The filedock web app (Flask), served by gunicorn with gevent workers.

`webapp.app.create_app(config)` builds the app; `webapp.server.serve(config)` runs it. This package's own
import loads nothing, so gunicorn's master (webapp.server) stays small: the app is loaded in the workers.
"""
