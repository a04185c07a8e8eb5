"""The `filedock` command: set up, check and run the appliance.

    filedock init [--root DIR] [--config FILE] [--admin-password PW]   (PW also from $FILEDOCK_ADMIN_PASSWORD)
    filedock check-config
    filedock user add NAME [--password PW] [--group G ...] | passwd NAME [--password PW] | del NAME | list
    filedock run                  every enabled daemon under one supervisor (make run, containers)
    filedock web | worker | dav | ftp | tftp | smb | announce | wsdd
                                  one daemon in the foreground (systemd units; daemons.DAEMONS)

Contract: a bad config makes every command exit with status 2 and one line naming the file, the key and
the fix, never a traceback. The config file is found by --config (before or after the subcommand),
$FILEDOCK_CONFIG, /etc/filedock, ./.
"""
import argparse
import getpass
import logging
import os
import sys
from pathlib import Path

from . import daemons, netaddr, supervisor
from .config import ConfigError, find_config_path, load


NAMES = {"web": "web UI", "dav": "WebDAV", "ftp": "FTP", "tftp": "TFTP", "smb": "SMB"}


def _urls(cfg, section="web"):
    """A daemon's URLs to print: this machine, and the LAN when listening on every interface."""
    host, port, scheme = cfg.get(section, "host"), cfg.get(section, "port"), daemons.url_scheme(cfg, section)
    if host not in ("0.0.0.0", "::", ""):
        return [f"{scheme}://{host}:{port}/"]
    lan = netaddr.lan_addresses()[:1]
    return [f"{scheme}://127.0.0.1:{port}/"] + [f"{scheme}://{address}:{port}/" for address in lan]


def cmd_init(args):
    from . import accounts, configfile   # here, not at the top: daemons' masters never need hashlib
    path = find_config_path(args.config)
    root = Path(args.root)
    root.mkdir(parents=True, exist_ok=True)
    password = args.admin_password or accounts.generate_password()
    configfile.write_starter(path, root, accounts.hash_password(password), state_dir=args.state_dir)
    cfg = load(path)
    _store_smb_password(cfg, "admin", password)
    print(f"wrote {path}: serving {root.resolve()} at {' and '.join(_urls(cfg))}")
    if not args.admin_password:
        print(f"log in as admin with password: {password}")
    return 0


def cmd_check_config(args):
    cfg = load(args.config)
    print(f"{cfg.path}: OK ({len(cfg.volumes)} volumes, {len(cfg.users)} users)")
    return 0


def _ask_password(args):
    if args.password:
        return args.password
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if first != getpass.getpass("again: "):
        raise SystemExit("the passwords differ")
    return first


def _store_smb_password(cfg, name, password):
    """Give Samba its hash of a password just set (admin.store_smb_password), saying why when it cannot."""
    from .admin import store_smb_password
    warning = store_smb_password(cfg, name, password)
    if warning:
        print(f"filedock: {warning}", file=sys.stderr)


def cmd_user(args):
    from . import accounts, admin, configfile
    path = find_config_path(args.config)
    cfg = load(path)
    if args.action == "list":
        for user in cfg.users.values():
            print(user.name + (f"  ({', '.join(sorted(user.groups))})" if user.groups else ""))
        return 0
    exists = args.name in cfg.users
    if args.action == "add" and exists:
        raise SystemExit(f"user {args.name!r} exists; use: filedock user passwd {args.name}")
    if args.action in ("passwd", "del") and not exists:
        raise SystemExit(f"no user {args.name!r}; see: filedock user list")
    if args.action == "del":
        admin.delete_user(cfg, args.name)
        print(f"deleted {args.name}")
        return 0
    password = _ask_password(args)
    # the same password again changes nothing but makes sure SMB has its copy (the Ansible role relies on it)
    unchanged = (args.action == "passwd" and not args.group
                 and accounts.verify_password(password, cfg.users[args.name].password_hash))
    if not unchanged:
        hashed = accounts.hash_password(password)
        configfile.edit(path, lambda doc: configfile.set_user(doc, args.name, hashed, args.group or ()))
    _store_smb_password(cfg, args.name, password)
    if unchanged:
        print(f"password of {args.name} unchanged")
    elif args.action == "passwd":   # a new password logs out every session of the old one
        admin.end_sessions(cfg, args.name)
        print(f"changed password of {args.name}")
    else:
        print(f"added {args.name}")
    return 0


def cmd_run(args):
    cfg = load(args.config)
    for daemon in daemons.enabled(cfg):
        if daemon.serves and daemon.section in daemons.SCHEMES:
            print(f"filedock: {NAMES[daemon.section]} at {' and '.join(_urls(cfg, daemon.section))}", flush=True)
    supervisor.become_supervisor(cfg.path, [(d.name, d.niceness) for d in daemons.enabled(cfg)])


def cmd_daemon(args):
    cfg = load(args.config)
    daemon = daemons.BY_NAME[args.command]
    off = [section for section in daemon.sections if not cfg.get(section, "enabled")]
    if off:
        raise ConfigError(f"{cfg.path}: [{off[0]}] enabled is false, so {daemon.name} is not served; "
                          f"set it to true (or FILEDOCK_{off[0].upper()}__ENABLED=true)")
    daemons.run(daemon, cfg)
    return 0


def parser():
    config_help = "config file (default: $FILEDOCK_CONFIG, /etc/filedock/filedock.toml, ./filedock.toml)"
    p = argparse.ArgumentParser(prog="filedock", description="A self-hosted file server appliance.")
    p.add_argument("--config", help=config_help)
    # every subcommand takes --config too; SUPPRESS keeps one given before the subcommand
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", default=argparse.SUPPRESS, help=config_help)
    sub = p.add_subparsers(dest="command", required=True)
    init = sub.add_parser("init", help="write a starter config", parents=[common])
    init.add_argument("--root", default="srv", help="folder to serve at / (created if missing)")
    init.add_argument("--admin-password", default=os.environ.get("FILEDOCK_ADMIN_PASSWORD") or None,
                      help="password of the admin account (default: $FILEDOCK_ADMIN_PASSWORD, else generated)")
    init.add_argument("--state-dir", default="state", help="database folder (relative to the config file)")
    init.set_defaults(func=cmd_init)
    sub.add_parser("check-config", help="validate the config and exit",
                   parents=[common]).set_defaults(func=cmd_check_config)
    user = sub.add_parser("user", help="manage accounts", parents=[common])
    user.add_argument("action", choices=["add", "passwd", "del", "list"])
    user.add_argument("name", nargs="?")
    user.add_argument("--password", help="the password (default: asked, or one line from stdin)")
    user.add_argument("--group", action="append", help="add the user to this group (repeatable)")
    user.set_defaults(func=cmd_user)
    sub.add_parser("run", help="run every enabled daemon, restarting any that dies",
                   parents=[common]).set_defaults(func=cmd_run)
    for daemon in daemons.DAEMONS:
        sub.add_parser(daemon.name, help=f"run {daemon.summary} in the foreground",
                       parents=[common]).set_defaults(func=cmd_daemon)
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    if args.command == "user" and args.action != "list" and not args.name:
        parser().error("user add/passwd/del need a NAME")
    logging.basicConfig(level=logging.INFO, format=supervisor.LOG_FORMAT)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"filedock: config error: {exc}", file=sys.stderr)
        return 2
    except FileExistsError as exc:
        print(f"filedock: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
