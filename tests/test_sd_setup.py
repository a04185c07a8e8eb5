"""The pure parts of the Pi image's filedock-setup (image/sd/rootfs/usr/local/sbin/filedock-setup): reading
filedock.txt, blanking its secrets, and checking values before anything is changed. The script as a whole runs
in the booted image (tests/test_sdimage.py)."""
import importlib.machinery
import importlib.util

import pytest

from conftest import REPO

SCRIPT = REPO / "image/sd/rootfs/usr/local/sbin/filedock-setup"
TEMPLATE = REPO / "image/sd/rootfs/boot/firmware/filedock.txt"


def load_setup():
    loader = importlib.machinery.SourceFileLoader("filedock_setup", str(SCRIPT))
    spec = importlib.util.spec_from_loader("filedock_setup", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


setup = load_setup()


def test_the_shipped_filedock_txt_names_every_setting_once_and_no_secret():
    settings = setup.parse(TEMPLATE.read_text())
    assert sorted(settings) == sorted(setup.KEYS)
    assert setup.unknown_keys(settings) == []
    assert settings["hostname"] == "filedock"
    assert all(settings[key] == "" for key in setup.SECRETS)


def test_parse_takes_spaces_quotes_comments_and_windows_line_ends():
    text = ("# a comment\r\nHostname = nas\r\n  wifi_ssid=\"Home Net\"\r\nnot a setting\r\n"
            "admin_password='pw=with=equals'\r\n")
    assert setup.parse(text) == {"hostname": "nas", "wifi_ssid": "Home Net", "admin_password": "pw=with=equals"}


def test_parse_takes_a_file_notepad_saved_with_a_bom():
    assert setup.parse("\ufeffhostname=nas\r\n") == {"hostname": "nas"}


def test_unknown_keys_are_named():
    assert setup.unknown_keys({"hostname": "x", "wifi_pasword": "typo"}) == ["wifi_pasword"]


def test_blank_empties_only_the_secrets_and_keeps_every_other_line():
    text = "# Password of the admin\r\nadmin_password=s3cret-pass\r\nwifi_ssid=home\r\nwifi_password = hunter22!\r\n"
    blanked = setup.blank(text, ["admin_password", "wifi_password"])
    assert blanked == "# Password of the admin\r\nadmin_password=\r\nwifi_ssid=home\r\nwifi_password =\r\n"
    assert "s3cret" not in blanked and "hunter22" not in blanked


@pytest.mark.parametrize("name, ok", [("filedock", True), ("NAS-2", True), ("a", True), ("-nas", False),
                                      ("nas-", False), ("my nas", False), ("nas.local", False), ("x" * 64, False)])
def test_hostnames_are_checked(name, ok):
    if ok:
        assert setup.check_hostname(name) == name.lower()
    else:
        with pytest.raises(setup.Bad, match="hostname="):
            setup.check_hostname(name)


def test_a_short_admin_password_is_refused_with_the_rule():
    with pytest.raises(setup.Bad, match="admin_password: 5 characters, it needs 10"):
        setup.check_password("short")
    assert setup.check_password("long-enough-1") == "long-enough-1"


def test_wifi_keeps_only_the_psk_of_the_passphrase():
    config = setup.wpa_config("de", "IEEE", "password")
    # IEEE 802.11i-2004, annex H.4.1: passphrase "password", SSID "IEEE"
    assert "psk=f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e" in config
    assert "country=DE" in config and f"ssid={'IEEE'.encode().hex()}" in config
    assert "password" not in config.replace("ctrl_interface", "")


@pytest.mark.parametrize("country, ssid, passphrase, message", [
    ("Germany", "home", "long enough", "wifi_country="),
    ("DE", "", "long enough", "wifi_ssid"),
    ("DE", "home", "short", "wifi_password: a WPA passphrase has 8 to 63"),
])
def test_bad_wifi_settings_are_named(country, ssid, passphrase, message):
    with pytest.raises(setup.Bad, match=message):
        setup.wpa_config(country, ssid, passphrase)


def test_the_data_disk_line_is_replaced_not_added_twice():
    fstab = "LABEL=RASPIROOT / ext4 rw 0 1\n"
    once = setup.fstab_with_data_disk(fstab, "LABEL=usb")
    twice = setup.fstab_with_data_disk(once, "UUID=1234-abcd")
    assert twice.startswith(fstab)
    assert twice.count("/srv/filedock") == 1 and "UUID=1234-abcd /srv/filedock auto" in twice
    assert "nofail" in twice
    with pytest.raises(setup.Bad, match="data_disk='/dev/sda1': give LABEL=name or UUID="):
        setup.fstab_with_data_disk(fstab, "/dev/sda1")


def test_the_locked_admin_it_looks_for_is_the_one_filedock_writes():
    from appliance.accounts import LOCKED
    assert LOCKED.startswith(setup.LOCKED_PREFIX) and setup.LOCKED_PREFIX.endswith("$")
