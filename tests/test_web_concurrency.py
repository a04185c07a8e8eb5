"""Under gevent, one slow download never stalls other requests of the same worker."""
import socket
import time

import requests


def test_slow_downloads_do_not_stall_other_requests(make_server):
    srv = make_server(web_workers=1)
    (srv.root / "big.bin").write_bytes(b"\0" * (64 * 1024 * 1024))
    slow = []
    for _ in range(10):     # ten clients that read nothing: their sends block once the socket buffers fill
        sock = socket.create_connection(("127.0.0.1", srv.port))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YWxpY2U6YWxpY2UtcHc=\r\n\r\n")
        slow.append(sock)
    time.sleep(0.5)
    started = time.monotonic()
    for _ in range(20):
        assert requests.get(srv.url + "/?ls", auth=srv.auth("alice"), timeout=5).status_code == 200
    elapsed = time.monotonic() - started
    for sock in slow:
        assert sock.recv(12).startswith(b"HTTP/1.1 200")
        sock.close()
    assert elapsed < 5, f"20 listings took {elapsed:.1f}s while 10 downloads were stalled"


def test_a_big_copy_does_not_stall_other_requests(make_server):
    """?copy runs its read/write/fsync loop in a thread: the worker's other clients are served meanwhile."""
    import threading
    srv = make_server(web_workers=1)
    with open(srv.root / "huge.bin", "wb") as f:
        f.truncate(768 << 20)     # sparse: instant to make, a real 768 MiB to copy and fsync
    done = []
    copier = threading.Thread(target=lambda: done.append(requests.post(
        srv.url + "/huge.bin?copy", json={"to": "/huge-copy.bin"}, auth=srv.auth("alice"), timeout=300)))
    copier.start()
    answered_during_copy = 0
    deadline = time.monotonic() + 300
    while copier.is_alive() and time.monotonic() < deadline:
        if requests.get(srv.url + "/-/health", timeout=60).status_code == 200 and copier.is_alive():
            answered_during_copy += 1
    copier.join()
    assert done and done[0].status_code == 201
    assert (srv.root / "huge-copy.bin").stat().st_size == 768 << 20
    assert answered_during_copy >= 3, "the copy held the gevent loop: nothing else was answered meanwhile"
