# Dockerfile: the filedock OCI image. Serves /data with its config and database in /config: the web UI on
# 8080, WebDAV on 8081, FTP/FTPS on 2121 with passive ports 30000-30009, SMB (Samba) on 4450, TFTP (off until
# enabled) on 6969/udp.
#   make web-assets && docker build -t filedock .
#   docker run -d -p 8080:8080 -p 8081:8081 -p 2121:2121 -p 30000-30009:30000-30009 \
#       -e FILEDOCK_FTP__MASQUERADE_ADDRESS=192.168.1.20 -v /path/data:/data -v /path/config:/config \
#       --user 1000:1000 filedock
# See docs/deployment.md.
# BASE: image/build-oci builds without a Docker engine and passes a Debian 12 base it made itself.
ARG BASE=debian:12-slim
FROM ${BASE}
ARG BASE

ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="filedock" \
      org.opencontainers.image.description="Self-hosted file server: web UI, resumable uploads, WebDAV, FTP, SMB, TFTP." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="${BASE}"

# Debian 12's stable updates are wanted, so the packages are not pinned.
# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-venv tini \
       samba samba-vfs-modules libnss-wrapper wsdd \
    && rm -rf /var/lib/apt/lists/*

# Dependencies first, so a code change does not reinstall them. Behind a TLS-inspecting proxy, mount its CA
# bundle and name it: --build-arg PIP_CERT=/path/in/build (seen only by these RUN steps, not kept).
ARG PIP_CERT
COPY requirements.lock /opt/filedock/src/
RUN python3 -m venv /opt/filedock/venv \
    && /opt/filedock/venv/bin/pip install --no-cache-dir --require-hashes -r /opt/filedock/src/requirements.lock
COPY pyproject.toml /opt/filedock/src/
COPY appliance /opt/filedock/src/appliance
COPY webapp /opt/filedock/src/webapp
# webapp/static/vendor/ is made by `make web-assets` (npm), not kept in git: refuse to build an image without it.
RUN test -s /opt/filedock/src/webapp/static/vendor/hash-wasm-sha512.js \
    || { echo "webapp/static/vendor/hash-wasm-sha512.js is missing: run make web-assets first" >&2; exit 1; } \
    && /opt/filedock/venv/bin/pip install --no-cache-dir --no-deps /opt/filedock/src
COPY --chmod=0755 image/docker-entrypoint.sh /opt/filedock/docker-entrypoint.sh

# Fixed UID/GID 1000; `docker run --user UID:GID` picks another (see docs/deployment.md).
RUN groupadd --gid 1000 filedock \
    && useradd --uid 1000 --gid 1000 --home-dir /config --no-create-home --shell /usr/sbin/nologin filedock \
    && mkdir -p /data /config \
    && chown 1000:1000 /data /config

# FTP's passive data ports are fixed, so `-p 30000-30009:30000-30009` (published 1:1) reaches them; behind
# the engine's NAT, FILEDOCK_FTP__MASQUERADE_ADDRESS is the host's address that clients are told to use.
ENV PATH="/opt/filedock/venv/bin:${PATH}" \
    HOME=/config \
    PYTHONUNBUFFERED=1 \
    FILEDOCK_CONFIG=/config/filedock.toml \
    FILEDOCK_SERVER__STATE_DIR=/config/state \
    FILEDOCK_FTP__PASSIVE_PORTS=30000-30009 \
    FILEDOCK_SMB__ENABLED=true \
    FILEDOCK_ANNOUNCE__ENABLED=false

USER 1000:1000
WORKDIR /config
VOLUME ["/data", "/config"]
# web UI, WebDAV, FTP control, SMB (publish it as 445 for Windows: -p 445:4450), FTP passive data, TFTP (enabled in /config/filedock.toml). The passive ports
# are listed one by one: docker build expands a range, buildah would keep "30000-30009/tcp" as one entry,
# which the image spec does not define.
EXPOSE 8080 8081 2121 4450 6969/udp \
       30000 30001 30002 30003 30004 30005 30006 30007 30008 30009

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/-/health' % os.environ.get('FILEDOCK_WEB__PORT', '8080'), timeout=4)"]

# Arguments go to filedock; none means `filedock run` (every enabled daemon).
ENTRYPOINT ["tini", "--", "/opt/filedock/docker-entrypoint.sh"]
