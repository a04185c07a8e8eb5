# daemon_settings.py: print, as JSON, what the config at argv[1] tells each daemon of appliance/daemons.py:
# {"name": {"enabled": bool, "port": int or null}} (null: no port of its own, as the worker's and the
# helpers' that serve no files). Run by the role with the installed venv's python, so the daemons it starts
# are the ones filedock itself would run (environment overrides are ignored: the units set none).
import json
import sys

from appliance import config, daemons

loaded = config.load(sys.argv[1], environ={})
on = {daemon.name for daemon in daemons.enabled(loaded)}
print(json.dumps({
    daemon.name: {"enabled": daemon.name in on,
                  "port": loaded.get(daemon.section, "port") if daemon.serves and daemon.section else None}
    for daemon in daemons.DAEMONS
}))
