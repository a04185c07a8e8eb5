"""The gevent daemons' process shapes (appliance.wsgiserver), started as their systemd units start them.

With one worker the daemon is that worker, in its own process: READY=1 once listening, downloads byte for
byte, and SIGTERM lets a download in flight finish before it exits 0. With several, there is
no master: the first process serves too and keeps its siblings, which share its listening socket, are
started again when they die, stop with it, and end when it is killed.
"""
import contextlib
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


def answers(port):
    """Whether a GET of /a.txt, through a new connection, is answered with its content."""
    reply = requests.get(f"http://127.0.0.1:{port}/a.txt", headers=CLOSE, timeout=30)
    assert reply.status_code == 200 and reply.content == b"alpha\n"
    return True


def sibling_answers(process, port):
    """Whether /a.txt is answered while the first process is stopped (SIGSTOP): by a sibling, then."""
    os.kill(process.pid, signal.SIGSTOP)
    try:
        return answers(port)
    finally:
        os.kill(process.pid, signal.SIGCONT)


def socket_inodes(pid):
    found = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            found.append(target[8:-1])
    return found


@contextlib.contextmanager
def several(tmp_path, name):
    """The daemon with two workers: (process, port, notify socket, the sibling's pid) once both serve;
    stopped at the end."""
    process, port, notify = start_daemon(tmp_path, name, workers=2)
    try:
        assert notify.recv(100).startswith(b"READY=1")
        (tmp_path / "files" / "a.txt").write_bytes(b"alpha\n")
        wait_for(lambda: port_answers(socket.SOCK_STREAM, port) and answers(port), what="an answer")
        sibling = wait_for(lambda: children(process.pid), timeout=30, what="a sibling")
        assert len(sibling) == 1, "workers = 2: the first process and one sibling"
        wait_for(lambda: maps_gevent(sibling[0]) and listens_with(sibling[0], port), timeout=30,
                 what="the sibling to serve on the inherited socket")
        yield process, port, notify, sibling[0]
    finally:
        stop(process)
        notify.close()


def listens_with(pid, port):
    """Whether process pid holds the listening socket of port."""
    suffix = f":{port:04X}"
    inodes = set(socket_inodes(pid))
    return any(fields[9] in inodes and fields[1].endswith(suffix) and fields[3] == "0A"
               for fields in (line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]))


@pytest.mark.parametrize("name", ["web", "dav"])
def test_several_workers_are_siblings_that_share_the_socket_and_stop_together(tmp_path, name):
    with several(tmp_path, name) as (process, port, notify, sibling):
        assert maps_gevent(process.pid), "no master: the first process serves too"
        assert sibling_answers(process, port)
        with pytest.raises(socket.timeout):
            notify.settimeout(0.5)
            notify.recv(100)   # one READY=1, from the first process: the sibling's NOTIFY_SOCKET is withheld
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0, process.stdout.read().decode()
        wait_for(lambda: not Path(f"/proc/{sibling}").exists(), timeout=15,
                 what="the sibling to stop with the first process")


def test_a_sibling_that_dies_is_started_again(tmp_path):
    with several(tmp_path, "web") as (process, port, notify, sibling):
        os.kill(sibling, signal.SIGKILL)
        again = wait_for(lambda: [pid for pid in children(process.pid) if pid != sibling], timeout=30,
                         what="a new sibling")
        wait_for(lambda: maps_gevent(again[0]) and listens_with(again[0], port), timeout=30,
                 what="the new sibling to serve on the inherited socket")
        assert sibling_answers(process, port)
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
        log = process.stdout.read().decode()
        assert "web worker 2 exited with status" in log and f"started web worker 2 (pid {again[0]})" in log, log


def test_siblings_end_when_the_first_process_is_killed(tmp_path):
    with several(tmp_path, "dav") as (process, port, notify, sibling):
        process.kill()
        process.wait()
        wait_for(lambda: not Path(f"/proc/{sibling}").exists(), timeout=15,
                 what="the sibling to exit once its first process is gone")
        assert not port_answers(socket.SOCK_STREAM, port)

def test_a_sibling_whose_first_process_dies_while_it_starts_ends_too(tmp_path):
    """Its new parent (init) is not taken for the first process: the port is free for a restart."""
    process, port, notify = start_daemon(tmp_path, "web", workers=2)
    try:
        assert notify.recv(100).startswith(b"READY=1")
        sibling = wait_for(lambda: children(process.pid), timeout=30, what="a sibling")
        process.kill()
        process.wait()
        wait_for(lambda: not Path(f"/proc/{sibling[0]}").exists(), timeout=30,
                 what="the sibling to exit once its app is loaded and its first process is gone")
        assert not port_answers(socket.SOCK_STREAM, port)
    finally:
        stop(process)
        notify.close()
