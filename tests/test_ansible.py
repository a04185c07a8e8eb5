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

from appliance import config
from appliance.accounts import hash_password, verify_password

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
                "mode": "0644"}, "vars": {"item": "filedock-web.service"}},
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
