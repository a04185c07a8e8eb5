"""The Raspberry Pi SD-card image, built by image/build-sd (mmdebstrap, then the Ansible role through the chroot
connection) and used as a user uses it: checked and written with bmaptool, its filedock.txt edited on the boot
partition with mtools (as from a PC), then booted under qemu-system-aarch64 -M virt -cpu cortex-a72 (TCG: no
KVM here) with the image's own kernel, initramfs and cmdline.txt from its boot partition and the image as its
disk. The guest's port 80 (the web UI) and 22 (SSH) are forwarded to 127.0.0.1 ephemeral ports; its user-mode
network is restricted (restrict=on), so it reaches nothing else.

One module fixture builds the image; each boot test boots its own copy of it: a card with a password, an SSH
key, a hostname and a time zone in filedock.txt is booted twice (upload with u2c on the first boot, the file
and the password still there on the second); a card with nothing set gets a generated password, read back from
the boot partition, and keeps its files on a USB disk named in filedock.txt.
"""
import ftplib
import json
import os
import re
import subprocess
import sys
import tomllib

import pytest
import requests

from appliance.accounts import LOCKED
from conftest import REPO, free_port, sha256_file, wait_for

MiB = 1024 * 1024
BUILD_TIMEOUT = 40 * 60
BOOT_TIMEOUT = 15 * 60          # first start under TCG: growing the root, SSH keys, scrypt, Python daemons
PASSWORD = "pi-admin-pw-2026"
U2C = [sys.executable, "-m", "copyparty.web.a.u2c", "-ns"]
PLAYBOOK = REPO / ".venv-build/bin/ansible-playbook"
# the first test also waits for the build (the module fixture); every boot stays well within this
pytestmark = pytest.mark.timeout(BUILD_TIMEOUT + BOOT_TIMEOUT)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """image/build-sd's output folder: the .img.xz, its .bmap and SHA256SUMS."""
    out = tmp_path_factory.mktemp("sdimage")
    result = subprocess.run([str(REPO / "image/build-sd"), "--out", str(out), "--ansible-playbook", str(PLAYBOOK),
                             "--ca-bundle", "/etc/ssl/certs/ca-certificates.crt"],
                            capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    assert result.returncode == 0, result.stdout + result.stderr
    print(result.stdout)
    return out


@pytest.fixture(scope="module")
def raw_image(built, tmp_path_factory):
    """The image as it lands on the card (xz -d of the .img.xz), kept sparse."""
    raw = tmp_path_factory.mktemp("raw") / "card.img"
    compressed = next(built.glob("*.img.xz"))
    subprocess.run(f"xz -dc '{compressed}' | cp --sparse=always /dev/stdin '{raw}'", shell=True, check=True)
    return raw


def partitions(disk):
    """The image's partition table, as sfdisk reads it."""
    table = json.loads(subprocess.run(["sfdisk", "--json", str(disk)], capture_output=True, text=True,
                                      check=True).stdout)["partitiontable"]
    return table["partitions"]


def boot_partition(disk):
    """mtools' name for the FAT boot partition inside the image file."""
    return f"{disk}@@{partitions(disk)[0]['start'] * 512}"


def mtools(*args, check=True):
    result = subprocess.run(list(args), capture_output=True, text=True, env=dict(os.environ, MTOOLS_SKIP_CHECK="1"))
    assert not check or result.returncode == 0, result.stdout + result.stderr
    return result


def read_boot_file(disk, name):
    """A file of the boot partition, as a PC with the card in its reader shows it (None if missing)."""
    result = mtools("mtype", "-i", boot_partition(disk), f"::{name}", check=False)
    return result.stdout if result.returncode == 0 else None


def write_boot_file(disk, name, text, tmp_path):
    source = tmp_path / name
    source.write_text(text)
    mtools("mcopy", "-o", "-i", boot_partition(disk), str(source), f"::{name}")


def edited_settings(disk, **values):
    """The card's filedock.txt with values set, the way a user edits it."""
    text = read_boot_file(disk, "filedock.txt")
    for key, value in values.items():
        text, count = re.subn(rf"(?m)^{key}=.*$", f"{key}={value}", text)
        assert count == 1, key
    return text


def root_partition_file(disk, folder):
    """The root partition cut out of the image (sparse), for debugfs."""
    root = partitions(disk)[1]
    start, size = root["start"], root["size"]
    cut = folder / "root.ext4"
    subprocess.run(["dd", f"if={disk}", f"of={cut}", "bs=512", f"skip={start}", f"count={size}", "conv=sparse",
                    "status=none"], check=True)
    return cut


def debugfs(filesystem, request):
    return subprocess.run(["debugfs", "-R", request, str(filesystem)], capture_output=True, text=True,
                          check=True).stdout


class Pi:
    """One boot of a card image under qemu-system-aarch64, its web UI and SSH forwarded to 127.0.0.1."""

    def __init__(self, disk, folder, key, extra_disks=()):
        self.disk, self.folder, self.key, self.extra_disks = disk, folder, key, extra_disks
        self.web_port, self.ssh_port, self.dav_port, self.ftp_port = free_port(), free_port(), free_port(), free_port()
        self.smb_port = free_port()
        self.console = folder / f"console-{self.web_port}.log"
        self.process = None

    def start(self):
        files = mtools("mdir", "-b", "-i", boot_partition(self.disk), "::/").stdout.split()
        kernel = next(name for name in files if re.search(r"/vmlinuz-", name)).lstrip(":/")
        initrd = next(name for name in files if re.search(r"/initrd\.img-", name)).lstrip(":/")
        for name in (kernel, initrd):
            mtools("mcopy", "-o", "-i", boot_partition(self.disk), f"::{name}", str(self.folder / name))
        # the card's own kernel command line, with the serial port qemu's virt board has as the last console
        cmdline = read_boot_file(self.disk, "cmdline.txt").strip() + " console=ttyAMA0"
        drives = []
        for index, path in enumerate([self.disk, *self.extra_disks]):
            drives += ["-drive", f"file={path},format=raw,if=none,id=d{index},cache=writeback",
                       "-device", f"virtio-blk-pci,drive=d{index}"]
        with open(self.folder / "qemu.err", "w") as errors:   # (the child keeps its own copy)
            self.process = self._qemu(kernel, initrd, cmdline, drives, errors)
        return self

    def _qemu(self, kernel, initrd, cmdline, drives, errors):
        """Boot the card under qemu (virt board, Cortex-A72), its stderr to errors."""
        return subprocess.Popen(
            ["qemu-system-aarch64", "-M", "virt", "-cpu", "cortex-a72", "-smp", "2", "-m", "1024",
             "-kernel", str(self.folder / kernel), "-initrd", str(self.folder / initrd), "-append", cmdline,
             *drives, "-device", "virtio-rng-pci",
             "-netdev", f"user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:{self.web_port}-:80,"
                        f"hostfwd=tcp:127.0.0.1:{self.ssh_port}-:22,hostfwd=tcp:127.0.0.1:{self.dav_port}-:8081,"
                        f"hostfwd=tcp:127.0.0.1:{self.ftp_port}-:21,hostfwd=tcp:127.0.0.1:{self.smb_port}-:445",
             # romfile= : no PXE option ROM (it boots from -kernel), so Debian's ipxe-qemu is not needed
             "-device", "virtio-net-pci,netdev=n0,romfile=", "-display", "none", "-monitor", "none",
             "-serial", f"file:{self.console}", "-no-reboot"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors)

    def url(self, path="/"):
        return f"http://127.0.0.1:{self.web_port}{path}"

    def console_text(self):
        return self.console.read_text(errors="replace") if self.console.exists() else ""

    def wait_until_serving(self):
        """Wait for the web UI's health check through the forwarded port; fail with the console's tail."""
        def healthy():
            assert self.process.poll() is None, \
                "qemu exited:\n" + (self.folder / "qemu.err").read_text() + self.console_text()[-3000:]
            try:
                return requests.get(self.url("/-/health"), timeout=10).status_code == 200
            except requests.RequestException:
                return False
        try:
            wait_for(healthy, timeout=BOOT_TIMEOUT, what="the Pi's web UI")
        except AssertionError as error:
            raise AssertionError(f"{error}\n{self.console_text()[-4000:]}") from None

    def ssh(self, command, check=True):
        """Run a command as root on the Pi (with the key filedock.txt gave it); its output."""
        result = subprocess.run(
            ["ssh", "-i", str(self.key), "-p", str(self.ssh_port), "-o", "BatchMode=yes",
             "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
             "-o", "ConnectTimeout=30", "root@127.0.0.1", command], capture_output=True, text=True, timeout=300)
        assert not check or result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def power_off(self):
        """Shut down cleanly from inside (as a user would before pulling the card), and wait for qemu to end."""
        self.ssh("systemctl poweroff", check=False)   # the connection may drop before ssh hears back
        self.process.wait(timeout=300)

    def kill(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def boot(tmp_path):
    """Start Pi boots; whatever a test leaves running is switched off at its end."""
    started = []
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)

    def start(disk, extra_disks=()):
        pi = Pi(disk, tmp_path, key, extra_disks).start()
        started.append(pi)
        return pi
    start.public_key = key.with_suffix(".pub").read_text().strip()
    yield start
    for pi in started:
        pi.kill()


def card(raw_image, folder, grow_by=1024 * MiB):
    """A copy of the image on a card bigger than the image, as every real card is."""
    disk = folder / "card.img"
    subprocess.run(["cp", "--sparse=always", str(raw_image), str(disk)], check=True)
    os.truncate(disk, disk.stat().st_size + grow_by)
    return disk


def login(pi, password):
    """Log in through the web UI's form; return the session."""
    session = requests.Session()
    response = session.post(pi.url("/-/login"), data={"username": "admin", "password": password},
                            allow_redirects=False, timeout=60)
    assert response.status_code == 303, response.text
    return session


def u2c_upload(pi, password, path):
    done = subprocess.run(U2C + ["--ba", f"admin:{password}", pi.url("/"), str(path)],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_image_is_small_checksummed_and_flashable_with_bmaptool(built, raw_image, tmp_path):
    compressed = next(built.glob("*.img.xz"))
    assert compressed.stat().st_size <= 300 * MiB, compressed.stat().st_size
    checked = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=built, capture_output=True, text=True)
    assert checked.returncode == 0 and checked.stdout.count(": OK") == 2, checked.stdout + checked.stderr
    target = tmp_path / "sdcard"
    flashed = subprocess.run(["bmaptool", "copy", "--bmap", str(compressed.with_suffix(".bmap")), str(compressed),
                              str(target)], capture_output=True, text=True)
    assert flashed.returncode == 0, flashed.stderr
    assert sha256_file(target) == sha256_file(raw_image)


def test_the_image_holds_the_pi_boot_files_and_no_secret(raw_image, tmp_path):
    boot, root = partitions(raw_image)
    assert boot["type"] == "c" and boot.get("bootable") and root["type"] == "83"
    assert mtools("mlabel", "-s", "-i", boot_partition(raw_image), "::").stdout.strip().endswith("RASPIFIRM")
    files = mtools("mdir", "-b", "-i", boot_partition(raw_image), "::/").stdout
    for name in ("bootcode.bin", "start4.elf", "fixup4.dat", "bcm2711-rpi-4-b.dtb", "bcm2837-rpi-3-b.dtb",
                 "bcm2711-rpi-400.dtb", "filedock.txt"):
        assert f"/{name}" in files, name
    config = read_boot_file(raw_image, "config.txt")
    assert "arm_64bit=1" in config and re.search(r"(?m)^kernel=vmlinuz-\S+-arm64$", config)
    assert re.search(r"(?m)^initramfs initrd\.img-\S+-arm64", config)
    cmdline = read_boot_file(raw_image, "cmdline.txt")
    assert "root=LABEL=RASPIROOT" in cmdline and "cma=" not in cmdline
    root_fs = root_partition_file(raw_image, tmp_path)
    assert "RASPIROOT" in subprocess.run(["e2label", str(root_fs)], capture_output=True, text=True).stdout
    # no secret is baked in: every card makes its own SSH keys, machine id and filedock secrets
    assert "ssh_host_" not in debugfs(root_fs, "ls /etc/ssh")
    assert "Size: 0" in debugfs(root_fs, "stat /etc/machine-id")
    assert "sqlite3" not in debugfs(root_fs, "ls /var/lib/filedock")
    config = tomllib.loads(debugfs(root_fs, "cat /etc/filedock/filedock.toml"))
    assert config["users"]["admin"]["password_hash"] == LOCKED and config["web"]["port"] == 80
    for unit in ("filedock.target.wants/filedock-web.service", "filedock.target.wants/filedock-dav.service",
                 "filedock.target.wants/filedock-ftp.service", "multi-user.target.wants/filedock.target",
                 "sysinit.target.wants/filedock-setup.service", "timers.target.wants/apt-daily-upgrade.timer",
                 "multi-user.target.wants/avahi-daemon.service", "multi-user.target.wants/systemd-networkd.service"):
        assert "Type: symlink" in debugfs(root_fs, f"stat /etc/systemd/system/{unit}"), unit
    # Debian's security updates install by themselves
    assert 'APT::Periodic::Unattended-Upgrade "1";' in debugfs(root_fs, "cat /etc/apt/apt.conf.d/20auto-upgrades")
    assert "bookworm-security" in debugfs(root_fs, "cat /etc/apt/sources.list")


def test_a_card_set_up_in_filedock_txt_serves_u2c_uploads_and_keeps_them_over_a_restart(raw_image, boot, tmp_path):
    disk = card(raw_image, tmp_path)
    write_boot_file(disk, "filedock.txt", edited_settings(
        disk, hostname="pi-test", admin_password=PASSWORD, timezone="Europe/Berlin",
        ssh_public_key=boot.public_key), tmp_path)
    original_root = partitions(disk)[1]["size"] * 512

    pi = boot(disk)
    pi.wait_until_serving()
    assert requests.post(pi.url("/-/login"), data={"username": "admin", "password": "wrong-password"},
                         allow_redirects=False, timeout=60).status_code == 401
    session = login(pi, PASSWORD)
    payload = tmp_path / "holiday.bin"
    payload.write_bytes(os.urandom(6 * MiB + 12345))
    u2c_upload(pi, PASSWORD, payload)
    assert session.get(pi.url("/holiday.bin"), timeout=120).content == payload.read_bytes()
    # WebDAV and FTP run as their units, with the same account and the same file
    dav = f"http://127.0.0.1:{pi.dav_port}/holiday.bin"
    assert requests.get(dav, auth=("admin", PASSWORD), timeout=120).content == payload.read_bytes()
    assert requests.get(dav, auth=("admin", "wrong-password"), timeout=60).status_code == 401
    with ftplib.FTP() as ftp:
        ftp.connect("127.0.0.1", pi.ftp_port, timeout=60)
        ftp.login("admin", PASSWORD)
        ftp.voidcmd("TYPE I")
        assert ftp.size("holiday.bin") == payload.stat().st_size
    # SMB (Samba on 445) with the password filedock.txt set: the first start gave Samba its hash too
    smb = subprocess.run(["smbclient", "-p", str(pi.smb_port), "//127.0.0.1/files", "-U", f"admin%{PASSWORD}",
                          "-c", "get holiday.bin smb.bin"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert smb.returncode == 0, smb.stdout + smb.stderr
    assert (tmp_path / "smb.bin").read_bytes() == payload.read_bytes()
    assert pi.ssh("hostname").strip() == "pi-test"
    assert pi.ssh("readlink /etc/localtime").strip() == "/usr/share/zoneinfo/Europe/Berlin"
    assert pi.ssh("getent ahostsv4 pi-test.local").split()[0] == "10.0.2.15"   # avahi answers for NAME.local
    assert int(pi.ssh("findmnt -bno SIZE /").strip()) > original_root + 768 * MiB   # grown to the card
    assert pi.ssh("ls /etc/ssh").count("_key.pub") >= 3                             # made on this card
    pi.power_off()

    settings = read_boot_file(disk, "filedock.txt")
    assert PASSWORD not in settings and re.search(r"(?m)^admin_password=\s*$", settings)
    assert read_boot_file(disk, "filedock-password.txt") is None
    assert read_boot_file(disk, "filedock-problems.txt") is None

    again = boot(disk)
    again.wait_until_serving()
    session = login(again, PASSWORD)
    assert session.get(again.url("/holiday.bin"), timeout=120).content == payload.read_bytes()
    again.power_off()


def test_a_card_with_nothing_set_generates_a_password_and_keeps_files_on_the_usb_disk(raw_image, boot, tmp_path):
    disk = card(raw_image, tmp_path)
    usb = tmp_path / "usb.img"
    # bigger than the 256 MiB filedock keeps free
    subprocess.run(["mkfs.ext4", "-q", "-L", "FDUSB", str(usb), "1G"], check=True, capture_output=True)
    write_boot_file(disk, "filedock.txt", edited_settings(
        disk, data_disk="LABEL=FDUSB", ssh_public_key=boot.public_key, wifi_country="Germany",
        wifi_ssid="home", wifi_password="a-long-passphrase"), tmp_path)

    pi = boot(disk, extra_disks=[usb])
    pi.wait_until_serving()
    note = wait_for(lambda: read_boot_file(disk, "filedock-password.txt"), what="filedock-password.txt")
    password = re.search(r"^\s+(\S+)\s*$", note, re.MULTILINE).group(1)
    assert f"password: {password}" in pi.console_text()          # shown on the console too
    login(pi, password)
    payload = tmp_path / "on-usb.bin"
    payload.write_bytes(os.urandom(3 * MiB))
    u2c_upload(pi, password, payload)
    # a setting that cannot apply is named, on the card, and the rest still applied
    problems = read_boot_file(disk, "filedock-problems.txt")
    assert problems and "wifi_country='Germany'" in problems, problems
    pi.power_off()

    assert not re.search(r"(?m)^wifi_password=\S", read_boot_file(disk, "filedock.txt"))   # refused, still blanked
    copied = tmp_path / "copied.bin"
    debugfs(usb, f"dump /on-usb.bin {copied}")
    assert sha256_file(copied) == sha256_file(payload)
