"""storage.offload really leaves the gevent loop: blocking syscalls and hashing run on another OS thread."""
import subprocess
import sys

from conftest import REPO

PROBE = """
from gevent import monkey; monkey.patch_all()
import threading
from appliance import storage
main = threading.get_native_id()
print(storage.offload(threading.get_native_id) != main,
      storage.offload_start(threading.get_native_id).get() != main)
"""


def test_offload_runs_on_another_thread_under_gevent():
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["True", "True"], out.stderr


def test_offload_runs_in_place_without_gevent():
    import threading
    from appliance import storage
    assert storage.offload(threading.get_native_id) == threading.get_native_id()
