"""Table-driven tests of the two functions every protocol shares: access.decide/require and storage.resolve."""
import os
from pathlib import Path

import pytest

from appliance import access, storage
from appliance.access import Action, Principal
from appliance.config import Config, Volume
from appliance.refusal import Kind, Refused

R, G, W, U, M, D, A = (access.Right(c) for c in "rgwumda")


def make_config(tmp_path):
    for name in ("root", "pub", "drop", "get", "private"):
        (tmp_path / name).mkdir()
    volumes = (
        Volume("/", tmp_path / "root", {"admin": {A}, "alice": {R, W, M, D}, "bob": {R}, "carol": {W}},
               "hardlink", "rename", 0),
        Volume("/pub", tmp_path / "pub", {"*": {R}, "@family": {W}}, "hardlink", "rename", 0),
        Volume("/drop", tmp_path / "drop", {"*": {U}}, "hardlink", "rename", 0),
        Volume("/get", tmp_path / "get", {"*": {G}}, "hardlink", "rename", 0),
        Volume("/private", tmp_path / "private", {"admin": {A}}, "hardlink", "rename", 0),
    )
    return Config(path=tmp_path / "filedock.toml", values={}, volumes=volumes)


ANON = Principal()
ADMIN, ALICE, BOB, CAROL = (Principal("admin"), Principal("alice"), Principal("bob"),
                            Principal("carol", frozenset({"family"})))
# Visitors of share links (appliance/shares.py): a read link of /proj, a drop box of /pub/in.
READ_LINK = Principal(share=access.ShareGrant("/", "proj", frozenset({R})))
DROP_LINK = Principal(share=access.ShareGrant("/pub", "in", frozenset({U})))

# (who, action, path, allowed?, refusal kind when refused by require)
DECISIONS = [
    (ADMIN, Action.DELETE, "/private/x", True, None),
    (ADMIN, Action.ADMIN, "/", True, None),
    (ALICE, Action.LIST, "/", True, None),
    (ALICE, Action.OVERWRITE, "/a.txt", True, None),     # w + d
    (ALICE, Action.ADMIN, "/", False, Kind.FORBIDDEN),
    (BOB, Action.LIST, "/docs/", True, None),
    (BOB, Action.READ, "/a.txt", True, None),
    (BOB, Action.CREATE, "/a.txt", False, Kind.FORBIDDEN),
    (BOB, Action.DELETE, "/a.txt", False, Kind.FORBIDDEN),
    (BOB, Action.LIST, "/private/", False, Kind.HIDDEN),  # no right at all: the volume stays unknown
    (BOB, Action.CREATE, "/private/x", False, Kind.HIDDEN),
    (CAROL, Action.CREATE, "/new.txt", True, None),
    (CAROL, Action.READ, "/a.txt", False, Kind.FORBIDDEN),
    (CAROL, Action.OVERWRITE, "/a.txt", False, Kind.FORBIDDEN),   # w without d cannot replace
    (CAROL, Action.CREATE, "/pub/x", True, None),        # through @family
    (ANON, Action.LIST, "/pub/", True, None),
    (ANON, Action.CREATE, "/pub/x", False, Kind.LOGIN_NEEDED),
    (ANON, Action.LIST, "/", False, Kind.LOGIN_NEEDED),
    (ANON, Action.CREATE, "/drop/x", True, None),
    (ANON, Action.LIST, "/drop/", False, Kind.LOGIN_NEEDED),
    (ANON, Action.READ, "/drop/x", False, Kind.LOGIN_NEEDED),
    (ANON, Action.OVERWRITE, "/drop/x", False, Kind.LOGIN_NEEDED),
    (ANON, Action.READ, "/get/x", True, None),
    (ANON, Action.LIST, "/get/", False, Kind.LOGIN_NEEDED),
    (ALICE, Action.READ, "/pub/../private/x", False, Kind.BAD_PATH),
    (ALICE, Action.READ, "/./a", False, Kind.BAD_PATH),
    (ALICE, Action.READ, "/a\0b", False, Kind.BAD_PATH),
    (ALICE, Action.READ, "/publisher/x", True, None),    # a prefix of a volume URL is not that volume
    (READ_LINK, Action.LIST, "/proj/", True, None),
    (READ_LINK, Action.READ, "/proj/sub/a.txt", True, None),
    (READ_LINK, Action.CREATE, "/proj/new", False, Kind.FORBIDDEN),   # "this share link does not let you..."
    (READ_LINK, Action.LIST, "/", False, Kind.LOGIN_NEEDED),          # its parent is not shared
    (READ_LINK, Action.READ, "/project/a.txt", False, Kind.LOGIN_NEEDED),   # nor a name it is a prefix of
    (READ_LINK, Action.READ, "/proj/../a.txt", False, Kind.BAD_PATH),
    (DROP_LINK, Action.CREATE, "/pub/in/gift.txt", True, None),
    (DROP_LINK, Action.LIST, "/pub/in/", True, None),         # everyone's r on /pub, not the link's
    (DROP_LINK, Action.OVERWRITE, "/pub/in/gift.txt", False, Kind.FORBIDDEN),
    (DROP_LINK, Action.CREATE, "/pub/x", False, Kind.LOGIN_NEEDED),
    (DROP_LINK, Action.CREATE, "/in/x", False, Kind.LOGIN_NEEDED),   # the same path in another volume
]


@pytest.mark.parametrize("who,action,path,allowed,kind", DECISIONS)
def test_decide_and_require(tmp_path, who, action, path, allowed, kind):
    config = make_config(tmp_path)
    if "\0" not in path:
        assert access.decide(config, who, action, path).allowed is allowed
    if allowed:
        assert access.require(config, who, action, path).allowed
    else:
        with pytest.raises(Refused) as refused:
            access.require(config, who, action, path)
        assert refused.value.kind is kind


def test_the_longest_volume_url_wins(tmp_path):
    config = make_config(tmp_path)
    decision = access.decide(config, ANON, Action.LIST, "/pub/photos/2024/")
    assert decision.volume.url == "/pub" and decision.relpath == "photos/2024"
    assert access.decide(config, ANON, Action.LIST, "/publisher/").volume.url == "/"


def test_no_volume_serves_the_path(tmp_path):
    config = make_config(tmp_path)
    config = Config(path=config.path, values={}, volumes=config.volumes[1:])   # no "/" volume
    with pytest.raises(Refused) as refused:
        access.require(config, ADMIN, Action.LIST, "/nothing/")
    assert refused.value.kind is Kind.NOT_FOUND and refused.value.not_found


@pytest.fixture
def volume(tmp_path):
    root = tmp_path / "vol"
    (root / "sub").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    os.symlink(tmp_path / "outside", root / "escape")
    os.symlink("/etc/passwd", root / "passwd")
    os.symlink("sub", root / "inner")
    return Volume("/", root.resolve(), {}, "hardlink", "rename", 0)


# (relpath, resolves to (relative to the volume) or None when refused)
RESOLVES = [
    ("", ""),
    ("a.txt", "a.txt"),
    ("sub/a.txt", "sub/a.txt"),
    ("sub//a.txt", "sub/a.txt"),
    ("%2e%2e", "%2e%2e"),                # decoded once by the protocol: now a literal name
    ("inner/a.txt", "inner/a.txt"),      # a symlink that stays inside is followed
    ("..", None),
    ("sub/../..", None),
    ("./a", None),
    ("/etc/passwd", None),
    ("a\\..\\b", None),
    ("a\0b", None),
    ("escape/x", None),                  # a symlink that leaves the volume
    ("escape", None),
    ("passwd", None),
    (".filedock-part-0123", None),       # filedock's own temporary names
    ("x" * 256, None),
]


@pytest.mark.parametrize("relpath,expected", RESOLVES)
def test_resolve(volume, relpath, expected):
    if expected is None:
        with pytest.raises(storage.PathRefused) as refused:
            storage.resolve(volume, relpath)
        assert refused.value.kind is Kind.BAD_PATH
    else:
        assert storage.resolve(volume, relpath) == Path(volume.path, *[p for p in expected.split("/") if p])


def test_a_server_admin_holds_admin_on_every_volume(tmp_path):
    config = make_config(tmp_path)
    assert not any(access.is_server_admin(config, who) for who in (ADMIN, ALICE, ANON))   # admin lacks /pub
    everywhere = tuple(Volume(v.url, v.path, dict(v.access, admin={A}), "hardlink", "rename", 0)
                       for v in config.volumes)
    config = Config(path=config.path, values={}, volumes=everywhere)
    assert access.is_server_admin(config, ADMIN)
    assert not access.is_server_admin(config, ALICE) and not access.is_server_admin(config, ANON)
    assert not access.is_server_admin(Config(path=config.path, values={}, volumes=()), ADMIN)   # no volume: nobody
