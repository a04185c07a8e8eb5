"""The gevent daemons' process shapes (appliance.wsgiserver), started as their systemd units start them.

With one worker the daemon is that worker, in its own process: READY=1 once listening, downloads byte for
byte, and SIGTERM lets a download in flight finish before it exits 0. With several, the gunicorn master
forks them and never maps gevent itself (its memory is the daemon's cost beyond the workers).
"""
import os
import signal
import socket
from pathlib import Path

import pytest
import requests

from conftest import free_port, port_answers, start_alone, wait_for

CLOSE = {"Connection": "close"}   # no idle kept-alive connection holds a graceful stop until its timeout


def start_daemon(tmp_path, name, workers):
    """`filedock NAME` alone ([NAME] on 127.0.0.1 with `workers`, one volume anyone may read and write), with
    a NOTIFY_SOCKET of the test's own; returns (process, port, notify socket)."""
    port = free_port()
    (tmp_path / "files").mkdir(exist_ok=True)
    process, notify = start_alone(
        tmp_path, name,
        f'[server]\nstate_dir = "state"\nscan_interval = 0\n\n[announce]\nenabled = false\n\n'
        f'[{name}]\nenabled = true\nhost = "127.0.0.1"\nport = {port}\nworkers = {workers}\n\n'
        f'[[volumes]]\nurl = "/"\npath = "{tmp_path}/files"\naccess = {{ "*" = "rwmd" }}\n')
    return process, port, notify


def stop(process):
    if process.poll() is None:
        process.kill()
        process.wait()


def children(pid):
    """The pids whose parent is pid."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def maps_gevent(pid):
    """Whether a process has gevent's compiled modules mapped (it imported gevent)."""
    return "/gevent/" in Path(f"/proc/{pid}/maps").read_text()


def test_one_worker_is_the_daemon_itself_and_stops_gracefully(tmp_path):
    process, port, notify = start_daemon(tmp_path, "dav", workers=1)
    try:
        assert notify.recv(100).startswith(b"READY=1")
        assert port_answers(socket.SOCK_STREAM, port)
        data = os.urandom(64 << 20)    # more than loopback's socket buffers hold: the send waits for the reader
        (tmp_path / "files" / "big.bin").write_bytes(data)
        whole = requests.get(f"http://127.0.0.1:{port}/big.bin", headers=CLOSE, timeout=60)
        assert whole.status_code == 200 and whole.content == data
        assert children(process.pid) == [], "no master: the daemon serves in its own process"
        assert maps_gevent(process.pid)

        in_flight = requests.get(f"http://127.0.0.1:{port}/big.bin", headers=CLOSE, stream=True,
                                 timeout=60)
        first = in_flight.raw.read(1 << 20)
        process.send_signal(signal.SIGTERM)
        wait_for(lambda: not port_answers(socket.SOCK_STREAM, port), timeout=10,
                 what="the daemon to stop accepting connections after SIGTERM")
        assert process.poll() is None, "it waits for the download in flight"
        assert first + in_flight.raw.read() == data, "the download in flight is finished, byte for byte"
        assert process.wait(15) == 0, process.stdout.read().decode()
    finally:
        stop(process)
        notify.close()


@pytest.mark.parametrize("name", ["web", "dav"])
def test_several_workers_are_forked_by_a_master_without_gevent(tmp_path, name):
    process, port, notify = start_daemon(tmp_path, name, workers=2)
    try:
        assert notify.recv(100).startswith(b"READY=1")
        (tmp_path / "files" / "a.txt").write_bytes(b"alpha\n")
        answer = wait_for(lambda: port_answers(socket.SOCK_STREAM, port)
                          and requests.get(f"http://127.0.0.1:{port}/a.txt", headers=CLOSE, timeout=30),
                          what="an answer")
        assert answer.status_code == 200 and answer.content == b"alpha\n"
        workers = wait_for(lambda: len(children(process.pid)) == 2 and children(process.pid), timeout=30,
                           what="two workers")
        wait_for(lambda: all(maps_gevent(pid) for pid in workers), timeout=30, what="gevent in every worker")
        assert not maps_gevent(process.pid), "the master never imports gevent"
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0, process.stdout.read().decode()
    finally:
        stop(process)
        notify.close()
