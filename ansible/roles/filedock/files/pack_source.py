# pack_source.py: pack what the host needs of the checkout into one tar file. Run by the role on the
# controller with Ansible's own python: argv[1] is the checkout, argv[2] the archive to write. The archive is
# reproducible (sorted names, no times, owners or caches), so an unchanged checkout packs to the same bytes
# and the copy to the host reports no change.
import os
import sys
import tarfile

PARTS = ["pyproject.toml", "requirements.lock", "appliance", "webapp", "docs"]
# Made by the build, not in git (the Makefile's web-assets; webapp/app.py's BUILT_ASSETS): never pack without.
BUILT = ["webapp/static/vendor/hash-wasm-sha512.js"]


def members(root):
    for part in PARTS:
        path = os.path.join(root, part)
        yield part
        for folder, subfolders, files in os.walk(path):
            subfolders[:] = sorted(d for d in subfolders if d != "__pycache__")
            for name in subfolders + sorted(f for f in files if not f.endswith(".pyc")):
                yield os.path.relpath(os.path.join(folder, name), root)


def normalized(info):
    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "root", "root"
    info.mode = 0o755 if info.isdir() else 0o644
    return info


root, archive = sys.argv[1], sys.argv[2]
for name in BUILT:
    if not os.path.isfile(os.path.join(root, name)):
        sys.exit(f"pack_source: {name} is missing from {root}: run `make web-assets` there first")
with tarfile.open(archive + ".new", "w", format=tarfile.GNU_FORMAT) as tar:
    for name in members(root):
        tar.add(os.path.join(root, name), name, recursive=False, filter=normalized)
os.replace(archive + ".new", archive)
