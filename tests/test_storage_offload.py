"""offload really leaves the gevent loop once a daemon installs gevent's pool, and runs inline otherwise."""
import subprocess
import sys
import threading

from conftest import REPO

PROBE = """
from gevent import monkey; monkey.patch_all()
import threading
from appliance import offload
main = threading.get_native_id()
print(offload.run(threading.get_native_id) == main)
offload.use_gevent_threadpool()
print(offload.run(threading.get_native_id) != main, offload.start(threading.get_native_id).get() != main)
"""


def test_offload_runs_on_another_thread_once_the_gevent_pool_is_installed():
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["True", "True", "True"], out.stderr


def test_offload_runs_in_place_without_a_pool():
    from appliance import offload
    assert offload.run(threading.get_native_id) == threading.get_native_id()
    assert offload.start(threading.get_native_id).get() == threading.get_native_id()
