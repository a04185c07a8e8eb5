"""requirements.lock is the one pinned dependency set that ships: it satisfies requirements.txt, pins every
package with hashes, and is what make, the Ansible role and the OCI image install (`make lock` renews it)."""
import re
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parent.parent


def locked():
    """{name: (version, hash count)} of requirements.lock."""
    text = (REPO / "requirements.lock").read_text()
    entries = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text.strip()):
        head = block.split()[0]
        if "==" in head:
            name, version = head.split("==")
            entries[canonicalize_name(name)] = (version, block.count("--hash=sha256:"))
    return entries


def wanted():
    lines = (REPO / "requirements.txt").read_text().splitlines()
    return [Requirement(line.split("#")[0].strip()) for line in lines if line.split("#")[0].strip()]


def test_the_lock_satisfies_every_requirement_and_pins_each_package_with_hashes():
    pins = locked()
    for requirement in wanted():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is in requirements.txt but not locked: run make lock"
        assert requirement.specifier.contains(pins[name][0], prereleases=True), (
            f"{name}=={pins[name][0]} does not satisfy {requirement}: run make lock")
    assert all(hashes >= 1 for _version, hashes in pins.values()), "every pin carries its hashes"


def test_this_venv_runs_exactly_the_locked_versions():
    """make install installs the lock with --require-hashes; the test packages changed none of it."""
    for name, (version, _hashes) in locked().items():
        assert metadata.version(name) == version, f"{name}: {metadata.version(name)} installed, {version} locked"


def test_every_install_path_uses_the_lock_with_hashes():
    tasks = (REPO / "ansible/roles/filedock/tasks/main.yml").read_text()
    assert 'requirements: "{{ filedock_install_dir }}/src/requirements.lock"' in tasks
    assert "extra_args: --require-hashes" in tasks
    assert "--require-hashes -r /opt/filedock/src/requirements.lock" in (REPO / "Dockerfile").read_text()
    assert "--require-hashes -r requirements.lock" in (REPO / "Makefile").read_text()
    assert '"requirements.lock"' in (REPO / "ansible/roles/filedock/files/pack_source.py").read_text()
