"""SMB through Samba: the real smbd that `filedock smb` runs, driven by smbclient and the smbprotocol client.

The shared instance serves the volumes of conftest.py over SMB on an ephemeral port. What each account may do
follows docs/smb.md's mapping of rights: admin and alice write on "files" (/), bob only reads it, carol (write
without read) has no access to it; "pub" is read-only for everyone but alice, who writes; "drop" is admin's
alone (everyone else holds only the drop-box right); "get" (download by exact path) is no share at all.
"""
import json
import os
import signal
import subprocess
import sys
import uuid

import pytest
import requests
import smbclient as smbprotocol_client
from smbprotocol.exceptions import SMBOSError

from conftest import free_port, password_of, sha256_file, wait_for

SMBCLIENT_TIMEOUT = 60


@pytest.fixture(scope="module")
def smb(tmp_path_factory):
    from conftest import Server
    server = Server(tmp_path_factory.mktemp("smb"), protocols=("smb",))
    yield server
    server.stop(signal.SIGTERM)


def smbclient(server, share, user, commands, password=None, *options, cwd=None):
    """Run smbclient against a share; return (exit status, output)."""
    auth = f"{user}%{password or password_of(user)}"
    result = subprocess.run(["smbclient", "-p", str(server.ports["smb"]), f"//127.0.0.1/{share}", "-U", auth,
                             *options, "-c", commands], capture_output=True, text=True, timeout=SMBCLIENT_TIMEOUT,
                            cwd=cwd)
    return result.returncode, result.stdout + result.stderr


def shares_of(server, user, password=None):
    """The disk shares smbclient -L lists for a user."""
    result = subprocess.run(["smbclient", "-p", str(server.ports["smb"]), "-L", "127.0.0.1", "-g",
                             "-U", f"{user}%{password or password_of(user)}"],
                            capture_output=True, text=True, timeout=SMBCLIENT_TIMEOUT)
    assert result.returncode == 0, result.stdout + result.stderr
    return sorted(line.split("|")[1] for line in result.stdout.splitlines() if line.startswith("Disk|"))


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_share_list_follows_rights(smb):
    assert shares_of(smb, "admin") == ["drop", "files", "pub"]
    assert shares_of(smb, "alice") == ["files", "pub"]
    assert shares_of(smb, "bob") == ["files", "pub"]
    assert shares_of(smb, "carol") == ["pub"]


def test_put_get_rename_delete_byte_identical(smb, tmp_path):
    data = os.urandom(3 * 1024 * 1024 + 17)
    (tmp_path / "up.bin").write_bytes(data)
    folder, name = unique("dir"), unique("file")
    code, out = smbclient(smb, "files", "alice", f"mkdir {folder}; put up.bin {folder}/{name}.bin; "
                          f"rename {folder}/{name}.bin {folder}/{name}-moved.bin; "
                          f"get {folder}/{name}-moved.bin back.bin", cwd=tmp_path)
    assert code == 0, out
    assert (smb.root / folder / f"{name}-moved.bin").read_bytes() == data
    assert not (smb.root / folder / f"{name}.bin").exists()
    assert sha256_file(tmp_path / "back.bin") == sha256_file(tmp_path / "up.bin")
    code, out = smbclient(smb, "files", "alice", f"del {folder}/{name}-moved.bin; rmdir {folder}")
    assert code == 0, out
    assert not (smb.root / folder).exists()


def test_read_only_account_cannot_write(smb, tmp_path):
    (smb.root / "for-bob.txt").write_bytes(b"bob may read this\n")
    (tmp_path / "x.txt").write_bytes(b"bob may not write this\n")
    code, out = smbclient(smb, "files", "bob", "get for-bob.txt got.txt", cwd=tmp_path)
    assert code == 0, out
    assert (tmp_path / "got.txt").read_bytes() == b"bob may read this\n"
    code, out = smbclient(smb, "files", "bob", "put x.txt bob-wrote.txt", cwd=tmp_path)
    assert "NT_STATUS_ACCESS_DENIED" in out
    assert not (smb.root / "bob-wrote.txt").exists()
    code, out = smbclient(smb, "files", "bob", "del for-bob.txt")
    assert "NT_STATUS_ACCESS_DENIED" in out
    assert (smb.root / "for-bob.txt").exists()


def test_accounts_without_rights_cannot_connect(smb):
    code, out = smbclient(smb, "drop", "alice", "ls")       # alice holds only "u" there: no SMB access
    assert code != 0 and "NT_STATUS_ACCESS_DENIED" in out
    code, out = smbclient(smb, "files", "carol", "ls")      # write without read: no SMB access
    assert code != 0 and "NT_STATUS_ACCESS_DENIED" in out
    code, out = smbclient(smb, "get", "admin", "ls")        # download-by-path only: not a share
    assert code != 0 and "NT_STATUS_BAD_NETWORK_NAME" in out
    code, out = smbclient(smb, "drop", "admin", "ls")
    assert code == 0, out


def test_wrong_password_and_unknown_account_are_refused(smb):
    code, out = smbclient(smb, "files", "alice", "ls", "not-her-password")
    assert code != 0 and "NT_STATUS_LOGON_FAILURE" in out
    code, out = smbclient(smb, "files", "nobody", "ls", "whatever")
    assert code != 0 and "NT_STATUS_LOGON_FAILURE" in out


@pytest.mark.parametrize("dialect,protection", [("SMB2_02", "off"), ("SMB2_10", "sign"), ("SMB3", "encrypt")])
def test_dialects_and_encryption(smb, tmp_path, dialect, protection):
    data = os.urandom(200_000)
    (tmp_path / "d.bin").write_bytes(data)
    name = unique(f"dialect-{dialect}")
    code, out = smbclient(smb, "files", "admin", f"put d.bin {name}; get {name} back.bin", None,
                          "-m", dialect, f"--client-protection={protection}", cwd=tmp_path)
    assert code == 0, out
    assert (smb.root / name).read_bytes() == data == (tmp_path / "back.bin").read_bytes()


def test_smb1_is_refused(smb):
    code, out = smbclient(smb, "files", "admin", "ls", None, "-m", "NT1", "--option=client min protocol=NT1")
    assert code != 0
    assert "NT_STATUS_CONNECTION_RESET" in out or "NT_STATUS_INVALID_NETWORK_RESPONSE" in out \
        or "protocol negotiation failed" in out, out


def test_smbprotocol_client_lists_writes_renames_deletes(smb):
    server, port = "127.0.0.1", smb.ports["smb"]
    smbprotocol_client.register_session(server, username="alice", password=password_of("alice"), port=port)
    try:
        folder = unique("py")
        base = rf"\\{server}\files\{folder}"
        smbprotocol_client.mkdir(base, port=port)
        data = os.urandom(1024 * 1024 + 3)
        with smbprotocol_client.open_file(rf"{base}\a.bin", mode="wb", port=port) as f:
            f.write(data)
        assert (smb.root / folder / "a.bin").read_bytes() == data
        smbprotocol_client.rename(rf"{base}\a.bin", rf"{base}\b.bin", port=port)
        assert smbprotocol_client.listdir(base, port=port) == ["b.bin"]
        with smbprotocol_client.open_file(rf"{base}\b.bin", mode="rb", port=port) as f:
            assert f.read() == data
        smbprotocol_client.remove(rf"{base}\b.bin", port=port)
        smbprotocol_client.rmdir(base, port=port)
        assert not (smb.root / folder).exists()
    finally:
        smbprotocol_client.reset_connection_cache()


def test_smbprotocol_read_only_account_is_refused_writing(smb):
    server, port = "127.0.0.1", smb.ports["smb"]
    smbprotocol_client.register_session(server, username="bob", password=password_of("bob"), port=port)
    try:
        with pytest.raises(SMBOSError) as refused:
            with smbprotocol_client.open_file(rf"\\{server}\pub\bob.txt", mode="wb", port=port) as f:
                f.write(b"no")
        assert "STATUS_ACCESS_DENIED" in str(refused.value)
        assert not (smb.pub / "bob.txt").exists()
    finally:
        smbprotocol_client.reset_connection_cache()


def test_symlink_out_of_the_volume_is_refused(smb):
    link = smb.root / unique("etc-link")
    link.symlink_to("/etc")
    code, out = smbclient(smb, "files", "admin", f"get {link.name}/hostname /dev/null")
    assert code != 0 and ("NT_STATUS_OBJECT_PATH_NOT_FOUND" in out or "NT_STATUS_ACCESS_DENIED" in out), out
    code, out = smbclient(smb, "files", "admin", f"ls {link.name}/*")
    assert "hostname" not in out


def test_temporary_upload_names_are_never_listed(smb):
    (smb.root / ".filedock-part-0123456789abcdef").write_bytes(b"an upload in progress")
    code, out = smbclient(smb, "files", "admin", "ls")
    assert code == 0, out
    assert ".filedock-part-" not in out
    code, out = smbclient(smb, "files", "admin", "get .filedock-part-0123456789abcdef /dev/null")
    assert code != 0


def test_password_change_is_the_smb_password_at_once(make_server):
    server = make_server(protocols=("smb",))
    assert smbclient(server, "files", "alice", "ls")[0] == 0
    server.cli("user", "passwd", "alice", "--password", "a-new-password")
    code, out = smbclient(server, "files", "alice", "ls", "a-new-password")
    assert code == 0, out
    code, out = smbclient(server, "files", "alice", "ls")
    assert "NT_STATUS_LOGON_FAILURE" in out
    server.cli("user", "add", "dave", "--password", "dave-pw")   # no rights yet: sees no share
    wait_for(lambda: "dave" in (server.state_dir / "smb" / "passwd").read_text(), 10, "dave in smbd's accounts")
    assert shares_of(server, "dave", "dave-pw") == ["pub"]       # "*" reads pub
    server.cli("user", "del", "dave")
    wait_for(lambda: smbclient(server, "pub", "dave", "ls", "dave-pw")[0] != 0, 10, "dave refused after del")


def test_rights_change_without_restart(make_server):
    server = make_server(protocols=("smb",))
    assert "drop" not in shares_of(server, "bob")
    text = server.config_path.read_text()
    server.config_path.write_text(text.replace('access = { "*" = "u", admin = "rwmda" }',
                                               'access = { "*" = "u", admin = "rwmda", bob = "r" }'))
    wait_for(lambda: "drop" in shares_of(server, "bob"), 15, "bob to see the drop share")
    code, out = smbclient(server, "drop", "bob", "ls")
    assert code == 0, out


def test_stopping_stops_samba_and_its_helpers(make_server):
    server = make_server(protocols=("smb",))
    assert shares_of(server, "admin")          # starts samba-dcerpcd, Samba's RPC helper
    assert server.leftover_processes()
    server.stop(signal.SIGTERM)
    wait_for(lambda: not server.leftover_processes(), 20, "every Samba process to end")


def test_no_nt_hash_is_written_while_smb_is_off(make_server):
    server = make_server()
    server.cli("user", "passwd", "alice", "--password", "another-password")
    assert not (server.state_dir / "smb" / "private" / "smbpasswd").exists()


def test_a_file_copied_in_over_smb_is_indexed_hashed_and_hooked(make_server, tmp_path):
    """Samba writes behind filedock's back: the watcher finds the file, the worker hashes it, hooks run."""
    inbox, seen = tmp_path / "inbox", tmp_path / "events.jsonl"
    inbox.mkdir()
    record = f"import sys; open({str(seen)!r}, 'a').write(sys.stdin.read().strip() + '\\n')"
    server = make_server(protocols=("smb",), scan_interval=0, extra=f"""
[[volumes]]
url = "/inbox"
path = "{inbox}"
access = {{ alice = "rwmd" }}

[[volumes.hooks]]
on = ["created"]
command = ["{sys.executable}", "-c", {json.dumps(record)}]
""")
    data = os.urandom(512 * 1024)
    (tmp_path / "photo.jpg").write_bytes(data)
    code, out = smbclient(server, "inbox", "alice", "put photo.jpg photo.jpg", cwd=tmp_path)
    assert code == 0, out
    wait_for(lambda: server.db_query("SELECT wark FROM files WHERE volume = '/inbox' AND relpath = 'photo.jpg' "
                                     "AND wark IS NOT NULL"), 15, "the SMB upload indexed and hashed")
    events = wait_for(lambda: seen.exists() and [json.loads(line) for line in seen.read_text().splitlines()],
                      15, "the created hook to run")
    assert [(e["kind"], e["volume"], e["path"], e["size"]) for e in events] == \
        [("created", "/inbox", "photo.jpg", len(data))]
    listing = requests.get(f"{server.url}/inbox/?ls", auth=server.auth("alice")).json()
    assert [f["name"] for f in listing["files"]] == ["photo.jpg"]


def test_a_new_port_is_served_after_the_config_changes(make_server):
    server = make_server(protocols=("smb",))
    old, new = server.ports["smb"], free_port()
    server.config_path.write_text(server.config_path.read_text().replace(f"port = {old}\n", f"port = {new}\n"))
    server.ports["smb"] = new
    wait_for(lambda: smbclient(server, "files", "admin", "ls")[0] == 0, 30, "SMB on the new port")
    server.ports["smb"] = old
    assert smbclient(server, "files", "admin", "ls")[0] != 0
