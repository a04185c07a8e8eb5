#!/bin/sh
# docker-entrypoint.sh: PID 1's child in the filedock image (tini runs it).
# First start: write a starter config for /data into /config (admin password from
# $FILEDOCK_ADMIN_PASSWORD if set, else generated and printed to the log). Every start:
# exec filedock with the container's arguments, "run" if none, so
# `docker run --rm -it ... IMAGE user add bob` works too.
set -eu

config="${FILEDOCK_CONFIG:-/config/filedock.toml}"

if [ ! -f "$config" ]; then
    filedock init --root /data --config "$config"    # reads $FILEDOCK_ADMIN_PASSWORD itself: not in argv
fi

[ "$#" -gt 0 ] || set -- run
exec filedock --config "$config" "$@"
