"""Every web route refuses the same way: a volume a user holds no right on answers exactly as a missing one
(404) for listings, downloads, PUT, up2k and tus alike, so none of them reveals that it exists."""
import base64

import pytest
import requests

from appliance.uploads import hashing

PRIVATE = """
[[volumes]]
url = "/private"
path = "{base}/drop"
access = {{ admin = "rwmda" }}
"""


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    from conftest import Server
    base = tmp_path_factory.mktemp("refusals")
    server = Server(base, extra=PRIVATE.format(base=base))
    yield server
    server.stop()


def tus_create(srv, folder, auth):
    name = base64.b64encode(b"t.txt").decode()
    return requests.post(srv.url + folder + "?tus", auth=auth, headers={
        "Tus-Resumable": "1.0.0", "Upload-Length": "3", "Upload-Metadata": f"filename {name}"})


def up2k_handshake(srv, folder, auth):
    data = b"abc"
    offer = {"name": "u.txt", "size": len(data), "lmod": 1700000000, "hash": [hashing.chunk_hash(data)]}
    return requests.post(srv.url + folder, json=offer, auth=auth)


REQUESTS = {
    "listing": lambda srv, folder, auth: requests.get(srv.url + folder + "?ls", auth=auth),
    "download": lambda srv, folder, auth: requests.get(srv.url + folder + "x.txt", auth=auth),
    "put": lambda srv, folder, auth: requests.put(srv.url + folder + "p.txt", data=b"p", auth=auth),
    "mkdir": lambda srv, folder, auth: requests.post(srv.url + folder + "?mkdir", json={"name": "n"}, auth=auth),
    "up2k": up2k_handshake,
    "tus": tus_create,
}


@pytest.mark.parametrize("what", sorted(REQUESTS))
def test_a_volume_without_rights_is_not_found(srv, what):
    hidden = REQUESTS[what](srv, "/private/", srv.auth("bob"))
    assert hidden.status_code == 404, hidden.text
    assert hidden.json()["error"] == "no such file or folder"
    assert REQUESTS[what](srv, "/private/", None).status_code == 401, "anonymous is asked to log in"
    if what in ("put", "mkdir", "up2k", "tus"):
        refused = REQUESTS[what](srv, "/", srv.auth("bob"))   # bob reads "/" but may not write: 403
        assert refused.status_code == 403 and "you may not upload here" in refused.json()["error"]
    assert list((srv.base / "drop").iterdir()) == []
