"""An acknowledged upload survives the server's death: with many uploads in flight (their index rows and events
committed together, appliance/groupcommit.py), every process of the server is SIGKILLed; each upload that got
a success answer is then on disk byte for byte, indexed, and its event is delivered after the restart, and no
partial or temporary file is visible. Web PUTs (gevent workers) and FTP STORs (a thread per client)."""
import ftplib
import io
import os
import threading
import time

import requests

from conftest import password_of, wait_for

CLIENTS = 8
PER_CLIENT = 150        # a bound on each client's uploads
DURATION = 60           # and on their time, in seconds
KILL_AFTER = 120        # acknowledged uploads before the kill


class Uploaders:
    """CLIENTS threads uploading distinct files until told to stop; what each sent, and which were acknowledged."""

    def __init__(self, upload_one):
        self.upload_one = upload_one
        self.sent, self.acked = {}, set()    # name -> content; names that got a success answer
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(CLIENTS)]
        for thread in self.threads:
            thread.start()

    def _run(self, n):
        deadline = time.monotonic() + DURATION
        state = {}
        for i in range(PER_CLIENT):
            if self.stop.is_set() or time.monotonic() > deadline:
                return
            name = f"c{n}-{i:03d}.bin"
            content = os.urandom(1 + (n * 7919 + i * 104729) % (96 * 1024))
            with self.lock:
                self.sent[name] = content
            try:
                ok = self.upload_one(state, name, content)
            except (OSError, EOFError, ftplib.Error, requests.RequestException):
                return    # the server died under this upload: its fate is unknown
            if ok:
                with self.lock:
                    self.acked.add(name)

    def acknowledged(self):
        with self.lock:
            return len(self.acked)

    def join(self):
        self.stop.set()
        for thread in self.threads:
            thread.join(60)
        assert not any(t.is_alive() for t in self.threads)


def kill_in_flight(srv, upload_one):
    """Start the uploaders, SIGKILL the whole server once KILL_AFTER uploads are acknowledged, and return them."""
    uploaders = Uploaders(upload_one)
    wait_for(lambda: uploaders.acknowledged() >= KILL_AFTER, 90, f"{KILL_AFTER} acknowledged uploads")
    srv.stop()                  # SIGKILL to every process, uploads still in flight
    uploaders.join()
    assert len(uploaders.acked) < len(uploaders.sent), "nothing was in flight at the kill"
    return uploaders


def check_survivors(srv, folder, vpath, uploaders):
    """Every acknowledged upload is there byte for byte and indexed; nothing else is visible but complete
    uploads; after a restart each acknowledged upload's event is delivered."""
    real = srv.root / folder
    for name in uploaders.acked:
        assert (real / name).read_bytes() == uploaders.sent[name], name
    indexed = {rel.rpartition("/")[2]: size for rel, size in
               srv.db_query("SELECT relpath, size FROM files WHERE volume = '/' AND relpath LIKE ?", folder + "/%")}
    for name in uploaders.acked:
        assert indexed.get(name) == len(uploaders.sent[name]), name
    assert not [n for n in indexed if n.startswith(".filedock-part-")]
    srv.start()
    listed = {f["name"] for f in requests.get(srv.url + vpath + "?ls", auth=srv.auth("admin")).json()["files"]}
    assert uploaders.acked <= listed
    for name in listed:     # an upload published but not answered when the kill came is complete too
        assert name in uploaders.sent and (real / name).read_bytes() == uploaders.sent[name], name

    def delivered():
        rows = srv.db_query("SELECT relpath FROM events WHERE kind = 'created' AND done = 1 AND volume = '/' "
                            "AND relpath LIKE ?", folder + "/%")
        return uploaders.acked <= {rel.rpartition("/")[2] for (rel,) in rows}
    wait_for(delivered, 60, "the events of every acknowledged upload to be delivered")


def test_web_puts_acknowledged_before_a_sigkill_are_all_there(make_server):
    srv = make_server()
    (srv.root / "crash").mkdir()

    def put(state, name, content):
        session = state.setdefault("session", requests.Session())
        reply = session.put(f"{srv.url}/crash/{name}", data=content, auth=srv.auth("admin"), timeout=30)
        return reply.status_code == 201

    check_survivors(srv, "crash", "/crash/", kill_in_flight(srv, put))


def test_ftp_stors_acknowledged_before_a_sigkill_are_all_there(make_server):
    srv = make_server(protocols=("ftp",))
    (srv.root / "crash").mkdir()

    def stor(state, name, content):
        if "ftp" not in state:
            state["ftp"] = ftplib.FTP()
            state["ftp"].connect("127.0.0.1", srv.ports["ftp"], timeout=30)
            state["ftp"].login("admin", password_of("admin"))
        return state["ftp"].storbinary(f"STOR /crash/{name}", io.BytesIO(content)).startswith("226")

    check_survivors(srv, "crash", "/crash/", kill_in_flight(srv, stor))
