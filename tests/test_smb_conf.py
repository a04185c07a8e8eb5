"""The pure parts of SMB: share names, rights reduced to what SMB can say, smb.conf, Samba's passdb lines."""
import pytest

from appliance.access import parse_rights
from appliance.config import load
from appliance.smb import conf, passdb, shares


def config_with(tmp_path, volumes_toml):
    (tmp_path / "v").mkdir(exist_ok=True)
    path = tmp_path / "filedock.toml"
    path.write_text('[server]\nstate_dir = "state"\n[smb]\nenabled = true\nport = 4455\n'
                    '[users.alice]\npassword_hash = "locked$x"\n[users.bob]\npassword_hash = "locked$x"\n'
                    '[groups]\nfamily = ["bob"]\n' + volumes_toml)
    return load(path, environ={})


@pytest.mark.parametrize("url, name", [("/", "files"), ("/music", "music"), ("/media/music", "media-music"),
                                       ("/a:b", "a_b"), ("/homes", "homes-2")])
def test_share_names(tmp_path, url, name):
    cfg = config_with(tmp_path, f'[[volumes]]\nurl = "{url}"\npath = "v"\naccess = {{ alice = "r" }}\n')
    assert [s.name for s in shares.shares(cfg)] == [name]


def test_share_names_never_clash_case_insensitively(tmp_path):
    (tmp_path / "w").mkdir()
    cfg = config_with(tmp_path, '[[volumes]]\nurl = "/Music"\npath = "v"\naccess = { alice = "r" }\n'
                                '[[volumes]]\nurl = "/x/music"\npath = "w"\naccess = { alice = "r" }\n')
    assert [s.name for s in shares.shares(cfg)] == ["Music", "x-music"]
    assert shares.share_name("/music") == "music"


@pytest.mark.parametrize("letters, level", [("r", "read"), ("rw", "read"), ("rwm", "read"), ("rwd", "read"),
                                            ("rwmd", "write"), ("rwmda", "write"), ("g", None), ("u", None),
                                            ("w", None), ("wmd", None), ("", None)])
def test_rights_are_reduced_to_the_safe_side(letters, level):
    assert shares.level(parse_rights(letters)) == level


def test_groups_and_everyone_become_accounts_and_a_share_nobody_may_use_is_left_out(tmp_path):
    (tmp_path / "w").mkdir()
    cfg = config_with(tmp_path, '[[volumes]]\nurl = "/"\npath = "v"\naccess = { "*" = "r", "@family" = "rwmd" }\n'
                                '[[volumes]]\nurl = "/drop"\npath = "w"\naccess = { "*" = "u" }\n')
    (share,) = shares.shares(cfg)
    assert (share.name, share.readers, share.writers) == ("files", ("alice",), ("bob",))


def test_smb_conf_is_safe_by_default_and_names_every_path_absolutely(tmp_path):
    cfg = config_with(tmp_path, '[[volumes]]\nurl = "/tm"\npath = "v"\naccess = { alice = "rwmd", bob = "r" }\n'
                                'time_machine = "500G"\n')
    layout = conf.Layout(cfg.state_dir)
    text = conf.render(cfg, layout, shares.shares(cfg))
    for line in ("server min protocol = SMB2_02", "map to guest = never", "restrict anonymous = 2",
                 "wide links = no", "disable netbios = yes", "smb ports = 4455", "veto files = /.filedock-part-*/",
                 f"passdb backend = smbpasswd:{passdb.file_path(cfg.state_dir)}",
                 'valid users = "alice" "bob"', 'write list = "alice"', "access based share enum = yes",
                 f"force user = {conf.DAEMON_ACCOUNT}", "fruit:time machine = yes",
                 f"fruit:time machine max size = {500 << 30}"):
        assert f"   {line}\n" in text, line
    for option in ("lock directory", "state directory", "cache directory", "pid directory", "private dir",
                   "ncalrpc dir", "log file"):
        value = text.split(f"   {option} = ", 1)[1].split("\n", 1)[0]
        assert value.startswith(str(layout.root)), option
    assert "force user" not in text.split("[tm]")[0]      # IPC$ keeps the account: share listing needs it


def test_every_account_has_an_id_of_its_own_and_files_belong_to_the_daemons():
    text = conf.passwd_text(["bob", "alice"], 998, 997)
    lines = [line.split(":") for line in text.splitlines()]
    assert lines[0][:4] == [conf.DAEMON_ACCOUNT, "x", "998", "997"]
    ids = [fields[2] for fields in lines]
    assert len(set(ids)) == len(ids) == 4                  # the daemons, alice, bob and the guest
    assert conf.group_text(997) == f"{conf.DAEMON_ACCOUNT}:x:997:\n"


def test_nt_hash_and_passdb_lines(tmp_path):
    assert passdb.nt_hash("password") == "8846F7EAEE8FB117AD06BDD830B7586C"   # the well-known test vector
    passdb.set_password(tmp_path / "state", "alice", "password")
    passdb.set_password(tmp_path / "state", "bob", "other")
    text = passdb.file_path(tmp_path / "state").read_text()
    assert text.startswith("alice:") and ":8846F7EAEE8FB117AD06BDD830B7586C:[U          ]:LCT-" in text
    assert passdb.file_path(tmp_path / "state").stat().st_mode & 0o777 == 0o600
    assert passdb.folder(tmp_path / "state").stat().st_mode & 0o777 == 0o700
    passdb.keep_only(tmp_path / "state", ["bob"])
    assert passdb.known(tmp_path / "state") == {"bob"}
    passdb.remove(tmp_path / "state", "bob")
    assert passdb.known(tmp_path / "state") == set()
    with pytest.raises(ValueError, match="cannot be an SMB account"):
        passdb.set_password(tmp_path / "state", "a:b", "x")
