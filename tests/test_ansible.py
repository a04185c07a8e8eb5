"""The Ansible deployment in ansible/: it parses, is lint-clean offline, and its templates produce a config
filedock accepts. ansible-lint runs with --offline so it never tries to fetch collections (the role uses only
ansible.builtin). The role's real run on a booted Debian machine is tests/test_deploy.py.
"""
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from appliance import config, daemons
from appliance.accounts import LOCKED, hash_password, verify_password

REPO = Path(__file__).resolve().parent.parent
ANSIBLE = REPO / "ansible"
ROLE = ANSIBLE / "roles" / "filedock"
BIN = Path(sys.executable).parent


def tool(name):
    """The command from this interpreter's venv if it has it, else from PATH."""
    found = BIN / name if (BIN / name).exists() else shutil.which(name)
    assert found, f"{name} is not installed (pip install ansible-core ansible-lint)"
    return str(found)


def run(*argv, cwd=REPO, **kwargs):
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_PYTHON_INTERPRETER": sys.executable}
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, **kwargs)


def lint(*paths, cwd=REPO):
    return run(tool("ansible-lint"), "--offline", "--nocolor", "--profile", "production", *paths, cwd=cwd)


def test_playbook_syntax():
    result = run(tool("ansible-playbook"), "-i", "ansible/inventory.example", "--syntax-check", "ansible/playbook.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_lint_clean():
    result = lint("ansible/playbook.yml", "ansible/roles/filedock")
    assert result.returncode == 0, result.stdout + result.stderr


def test_lint_catches_a_problem(tmp_path):
    """The check above is honest: an unnamed task that always reports a change fails it."""
    shutil.copytree(ANSIBLE, tmp_path / "ansible")
    tasks = tmp_path / "ansible" / "roles" / "filedock" / "tasks" / "main.yml"
    tasks.write_text(tasks.read_text() + "\n- ansible.builtin.command: systemctl daemon-reload\n")
    result = lint("ansible/playbook.yml", "ansible/roles/filedock", cwd=tmp_path)
    assert result.returncode != 0 and "name[missing]" in result.stdout + result.stderr


def test_every_default_is_prefixed():
    defaults = (ROLE / "defaults" / "main.yml").read_text().splitlines()
    keys = [line.split(":")[0] for line in defaults if line[:1].isalpha()]
    assert keys and all(key.startswith("filedock_") for key in keys), keys


def render(tmp_path, **overrides):
    """Render the role's templates on localhost with its defaults plus overrides; return the output folder."""
    out = tmp_path / "out"
    out.mkdir()
    playbook = tmp_path / "render.yml"
    playbook.write_text(json.dumps([{
        "name": "Render the filedock templates",
        "hosts": "localhost", "connection": "local", "gather_facts": False,
        "vars_files": [str(ROLE / "defaults" / "main.yml")],
        "tasks": [
            {"name": "Config", "ansible.builtin.template": {
                "src": str(ROLE / "templates" / "filedock.toml.j2"), "dest": str(out / "filedock.toml"),
                "mode": "0640"}},
            {"name": "Drop-in", "ansible.builtin.template": {
                "src": str(ROLE / "templates" / "volumes.conf.j2"), "dest": str(out / "volumes.conf"),
                "mode": "0644"}, "vars": {"item": {"name": "web"}}},
        ],
    }]))
    result = run(tool("ansible-playbook"), "-i", "localhost,", str(playbook), "-e", json.dumps(overrides))
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def test_templates_make_a_config_filedock_accepts(tmp_path):
    data, music = tmp_path / "data", tmp_path / "Music \"lossless\" é"
    data.mkdir()
    music.mkdir()
    admin_hash = hash_password("pw")
    out = render(tmp_path, filedock_data_dir=str(data), filedock_state_dir=str(tmp_path / "state"),
                 filedock_web_port=18080, filedock_admin_hash={"stdout": admin_hash},
                 filedock_volumes=[{"url": "/", "path": str(data), "access": {"admin": "rwmda"}},
                                   {"url": "/music", "path": str(music), "access": {"*": "r", "admin": "rw"},
                                    "max_file_size": "4G"}])
    cfg = config.load(out / "filedock.toml", environ={})
    assert cfg.get("web", "port") == 18080
    assert cfg.state_dir == tmp_path / "state"
    assert verify_password("pw", cfg.users["admin"].password_hash)
    assert [(v.url, v.path, v.max_file_size) for v in cfg.volumes] == [("/", data, 0), ("/music", music, 4 << 30)]
    assert tomllib.loads((out / "filedock.toml").read_text())["volumes"][1]["access"] == {"*": "r", "admin": "rw"}
    dropin = (out / "volumes.conf").read_text().splitlines()
    assert "ReadWritePaths=" in dropin
    assert f"ReadWritePaths={tmp_path / 'state'} {data} {music}" in dropin
    # the defaults: WebDAV, FTP and SMB on, TFTP off, each on its own port (SMB on 445, the one Windows uses);
    # announcements on, and WS-Discovery with SMB
    assert [d.name for d in daemons.enabled(cfg)] == ["web", "worker", "dav", "ftp", "smb", "announce", "wsdd"]
    assert (cfg.get("dav", "port"), cfg.get("ftp", "port"), cfg.get("tftp", "port")) == (8081, 2121, 69)
    assert (cfg.get("smb", "port"), cfg.get("smb", "workgroup")) == (445, "WORKGROUP")


def test_templates_with_every_protocol_make_a_config_check_config_accepts(tmp_path):
    """dav, ftp and tftp enabled with every variable the role has for them; `filedock check-config` (what the
    role validates the file with) accepts it, and each value lands in its section."""
    data = tmp_path / "data"
    data.mkdir()
    out = render(tmp_path, filedock_data_dir=str(data), filedock_state_dir=str(tmp_path / "state"),
                 filedock_admin_hash={"stdout": hash_password("pw")}, filedock_web_host="127.0.0.1",
                 filedock_dav_enabled=True, filedock_dav_port=18081,
                 filedock_ftp_enabled=True, filedock_ftp_port=21, filedock_ftp_passive_ports="30000-30009",
                 filedock_ftp_masquerade_address="203.0.113.7",
                 filedock_tftp_enabled=True, filedock_tftp_port=69, filedock_tftp_allow_write=True,
                 filedock_smb_port=1445, filedock_smb_workgroup="HOME", filedock_announce_name="Family Files",
                 filedock_volumes=[{"url": "/", "path": str(data), "access": {"*": "r", "admin": "rwmda"}}])
    checked = subprocess.run([sys.executable, "-m", "appliance.cli", "--config", str(out / "filedock.toml"),
                              "check-config"], cwd=REPO, capture_output=True, text=True, env={**os.environ})
    assert checked.returncode == 0, checked.stdout + checked.stderr
    cfg = config.load(out / "filedock.toml", environ={})
    assert [d.name for d in daemons.enabled(cfg)] == ["web", "worker", "dav", "ftp", "tftp", "smb", "announce",
                                                      "wsdd"]
    assert cfg.get("announce", "name") == "Family Files"
    values = {(s, k): cfg.get(s, k) for s, k in [
        ("dav", "host"), ("dav", "port"), ("ftp", "host"), ("ftp", "port"), ("ftp", "passive_ports"),
        ("ftp", "masquerade_address"), ("tftp", "host"), ("tftp", "port"), ("tftp", "allow_write"),
        ("smb", "host"), ("smb", "port"), ("smb", "workgroup")]}
    assert values == {("dav", "host"): "127.0.0.1", ("dav", "port"): 18081, ("ftp", "host"): "127.0.0.1",
                      ("ftp", "port"): 21, ("ftp", "passive_ports"): "30000-30009",
                      ("ftp", "masquerade_address"): "203.0.113.7", ("tftp", "host"): "127.0.0.1",
                      ("tftp", "port"): 69, ("tftp", "allow_write"): True, ("smb", "host"): "127.0.0.1",
                      ("smb", "port"): 1445, ("smb", "workgroup"): "HOME"}
    # what the role reads back from a deployed config to start the daemons: the same daemons and ports
    script = (ROLE / "files" / "daemon_settings.py").read_text()
    read = subprocess.run([sys.executable, "-c", script, str(out / "filedock.toml")], cwd=REPO,
                          capture_output=True, text=True)
    assert read.returncode == 0, read.stderr
    assert json.loads(read.stdout) == {"web": {"enabled": True, "port": 8080},
                                       "worker": {"enabled": True, "port": None},
                                       "dav": {"enabled": True, "port": 18081},
                                       "ftp": {"enabled": True, "port": 21},
                                       "tftp": {"enabled": True, "port": 69},
                                       "smb": {"enabled": True, "port": 1445},
                                       "announce": {"enabled": True, "port": None},
                                       "wsdd": {"enabled": True, "port": None}}


def role_daemons():
    return yaml.safe_load((ROLE / "vars" / "main.yml").read_text())["filedock_daemons"]


def test_the_role_installs_every_daemon_of_the_table_and_every_unit():
    """The role's list is appliance/daemons.py's table, in order, and names every service in units/."""
    names = [d["name"] for d in role_daemons()]
    assert names == [d.name for d in daemons.DAEMONS]
    units = sorted(p.name.removeprefix("filedock-").removesuffix(".service")
                   for p in (REPO / "units").glob("filedock-*.service"))
    assert set(units) <= set(names), units


def check_variables(tmp_path, capable=("ftp", "tftp", "smb"), **overrides):
    """Run the role's tasks/checks.yml against a checkout whose units grant CAP_NET_BIND_SERVICE to
    `capable` only; return the ansible-playbook result."""
    source = tmp_path / "source"
    (source / "units").mkdir(parents=True)
    for daemon in daemons.DAEMONS:
        capability = "CAP_NET_BIND_SERVICE" if daemon.name in capable else ""
        (source / "units" / f"filedock-{daemon.name}.service").write_text(
            f"[Service]\nCapabilityBoundingSet={capability}\nAmbientCapabilities={capability}\n")
    playbook = tmp_path / "checks.yml"
    playbook.write_text(json.dumps([{
        "name": "Check the filedock variables", "hosts": "localhost", "connection": "local",
        "gather_facts": False,
        "vars_files": [str(ROLE / "defaults" / "main.yml"), str(ROLE / "vars" / "main.yml")],
        "tasks": [{"name": "Checks", "ansible.builtin.import_tasks": str(ROLE / "tasks" / "checks.yml")}],
    }]))
    return run(tool("ansible-playbook"), "-i", "localhost,", str(playbook),
               "-e", json.dumps({"filedock_source_dir": str(source), "filedock_admin_password": "a-chosen-passphrase",
                                 **overrides}))


@pytest.mark.parametrize("overrides, refused", [
    ({}, None),
    ({"filedock_ftp_port": 21, "filedock_tftp_enabled": True, "filedock_tftp_port": 69}, None),
    ({"filedock_web_port": 80}, "filedock_web_port 80 is privileged"),
    ({"filedock_dav_port": 443}, "filedock_dav_port 443 is privileged"),
    ({"filedock_dav_enabled": False, "filedock_dav_port": 443}, None),     # a disabled daemon binds nothing
    ({"filedock_ftp_port": 8080}, "8080/tcp"),                            # the web UI's port
    ({"filedock_tftp_enabled": True, "filedock_tftp_port": 8080}, None),  # UDP beside TCP is no clash
    ({"filedock_ftp_port": 70000}, "each port 1-65535"),
    ({"filedock_ftp_passive_ports": "30000:30009"}, "filedock_ftp_passive_ports must be"),
])
def test_the_role_refuses_ports_the_units_cannot_bind(tmp_path, overrides, refused):
    result = check_variables(tmp_path, **overrides)
    output = result.stdout + result.stderr
    if refused is None:
        assert result.returncode == 0, output
    else:
        assert result.returncode != 0 and refused in output, output


def test_a_low_port_is_refused_when_the_unit_lost_its_capability(tmp_path):
    """The capability is read from the unit: without it in the ftp unit, port 21 is refused."""
    result = check_variables(tmp_path, capable=("smb",), filedock_ftp_port=21)
    assert result.returncode != 0 and "filedock_ftp_port 21 is privileged" in result.stdout, result.stdout


def admin_hash(config_path, password):
    script = (ROLE / "files" / "admin_hash.py").read_text()
    result = subprocess.run([sys.executable, "-c", script, str(config_path)], input=password, cwd=REPO,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_admin_hash_is_kept_while_the_password_matches(tmp_path):
    path = tmp_path / "filedock.toml"
    first = admin_hash(path, "old password")          # no config yet: a new hash
    assert verify_password("old password", first)
    path.write_text(f'[users.admin]\npassword_hash = "{first}"\n')
    assert admin_hash(path, "old password") == first   # unchanged password: same hash, so no rewrite
    second = admin_hash(path, "new password")
    assert second != first and verify_password("new password", second)


def run_checks(tmp_path, **overrides):
    """Run the role's checks (tasks/checks.yml, which run before anything changes) on localhost."""
    playbook = tmp_path / "checks.yml"
    playbook.write_text(json.dumps([{
        "name": "Run the filedock role's checks", "hosts": "localhost", "connection": "local",
        "gather_facts": False,
        "tasks": [{"name": "Checks", "ansible.builtin.include_role": {"name": "filedock", "tasks_from": "checks"}}],
    }]))
    env_roles = {"ANSIBLE_ROLES_PATH": str(ROLE.parent)}
    overrides = {"filedock_source_dir": str(REPO), **overrides}   # the units whose capabilities are checked
    return subprocess.run([tool("ansible-playbook"), "-i", "localhost,", str(playbook), "-e", json.dumps(overrides)],
                          cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, **env_roles, "ANSIBLE_NOCOLOR": "1",
                               "ANSIBLE_PYTHON_INTERPRETER": sys.executable})


@pytest.mark.parametrize("password", ["", "change-me", "CHANGE-ME", "short-pw"])
def test_the_role_refuses_a_missing_or_well_known_admin_password(tmp_path, password):
    overrides = {"filedock_admin_password": password} if password else {}
    result = run_checks(tmp_path, **overrides)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "set filedock_admin_password" in output, output[-3000:]
    if password:
        assert password not in output.replace("filedock_admin_password", ""), "the password is not printed"


def test_the_role_accepts_a_chosen_admin_password(tmp_path):
    result = run_checks(tmp_path, filedock_admin_password="a-chosen-passphrase")
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]


def test_an_image_build_needs_no_admin_password_and_writes_a_locked_admin(tmp_path):
    """filedock_admin_at_first_boot (the Pi image): no password is asked for, the admin account is written
    locked (no password logs in), and `filedock check-config` accepts it; the first boot sets the password."""
    assert run_checks(tmp_path, filedock_admin_at_first_boot=True).returncode == 0
    data = tmp_path / "data"
    data.mkdir()
    out = render(tmp_path, filedock_data_dir=str(data), filedock_state_dir=str(tmp_path / "state"),
                 filedock_admin_at_first_boot=True, filedock_web_port=80,
                 filedock_volumes=[{"url": "/", "path": str(data), "access": {"admin": "rwmda"}}])
    checked = subprocess.run([sys.executable, "-m", "appliance.cli", "--config", str(out / "filedock.toml"),
                              "check-config"], cwd=REPO, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    locked = config.load(out / "filedock.toml", environ={}).users["admin"].password_hash
    assert locked == LOCKED and not any(verify_password(guess, locked) for guess in ("", "admin", LOCKED))


def test_the_image_playbook_parses_and_is_lint_clean(monkeypatch):
    monkeypatch.setenv("ANSIBLE_ROLES_PATH", str(ROLE.parent))    # as image/build-sd runs it
    playbook = "image/sd/playbook.yml"
    result = run(tool("ansible-playbook"), "-i", "/tmp/rootfs,", "--syntax-check", playbook)
    assert result.returncode == 0, result.stdout + result.stderr
    result = lint(playbook)
    assert result.returncode == 0, result.stdout + result.stderr
