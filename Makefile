# filedock: two commands on a fresh machine do everything.
#   make run   - set up .venv, write a starter config for ./srv if none, serve it
#   make test  - install what the tests need (Debian packages too) and run them
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
CONFIG ?= filedock.toml
ROOT ?= srv
# Debian packages image/build-sd needs (the Raspberry Pi image).
DEB_SDIMAGE_PACKAGES := mmdebstrap arch-test qemu-user-static binfmt-support dosfstools mtools fdisk e2fsprogs \
  bmap-tools xz-utils
BUILD_VENV := .venv-build
# Debian packages the tests drive as real clients (the image tests boot the Pi image in qemu-system-arm).
DEB_TEST_PACKAGES := curl lftp litmus cadaver davfs2 smbclient samba samba-vfs-modules libnss-wrapper wsdd tftp-hpa atftp rclone chromium wrk iperf3 \
  systemd python3-seccomp iproute2 util-linux xfsprogs fonts-liberation fonts-dejavu-core debootstrap systemd-container openssh-client \
  buildah podman runc qemu-system-arm $(DEB_SDIMAGE_PACKAGES)
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
# Node.js (with npm) comes with the machine; Debian's nodejs is the fallback.
NODE_PACKAGE := $(if $(shell command -v npm),,nodejs npm)

.PHONY: install web-assets run test test-deps bench oci-image sdimage lock clean

# The browser libraries the web app serves, installed by npm exactly as package-lock.json pins them; the one
# file each needs is copied to webapp/static/vendor/ (gitignored, served as /-/static/vendor/, shipped in the
# pip package, the OCI image and the Ansible role's source archive, each of which refuses to go without it).
# Today: hash-wasm's SHA-512 (WebAssembly), which the uploader's hashing workers use where crypto.subtle is
# missing (plain http on a LAN address).
WEB_ASSETS := webapp/static/vendor/hash-wasm-sha512.js

$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q --require-hashes -r requirements.lock
	$(PIP) install -q --no-deps -e .
	touch $@

node_modules/.package-lock.json: package.json package-lock.json
	@command -v npm >/dev/null || { echo "the web app's browser libraries need npm (apt-get install npm)" >&2; exit 2; }
	npm ci --silent --no-audit --no-fund

webapp/static/vendor/hash-wasm-sha512.js: node_modules/.package-lock.json
	mkdir -p $(@D)
	cp node_modules/hash-wasm/dist/sha512.umd.min.js $@

web-assets: $(WEB_ASSETS)

install: $(VENV)/.installed $(WEB_ASSETS)

run: install
	@test -f $(CONFIG) || $(VENV)/bin/filedock init --root $(ROOT) --config $(CONFIG)
	$(VENV)/bin/filedock --config $(CONFIG) run

$(VENV)/.test-installed: $(VENV)/.installed requirements-test.txt
	$(PIP) install -q -r requirements-test.txt
	touch $@

$(BUILD_VENV)/.installed: image/sd/requirements-build.txt
	$(PYTHON) -m venv $(BUILD_VENV)
	$(BUILD_VENV)/bin/pip install -q -r image/sd/requirements-build.txt
	touch $@

test-deps: $(VENV)/.test-installed $(BUILD_VENV)/.installed
	@missing=""; for p in $(DEB_TEST_PACKAGES) $(NODE_PACKAGE); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@test ! -f tests/node/package-lock.json || test -d tests/node/node_modules || \
	  (cd tests/node && npm ci --silent --no-audit --no-fund)
	@# arm64 programs (the arm64 image's build and run) through qemu-user; needs binfmt_misc mounted
	@test -e /proc/sys/fs/binfmt_misc/qemu-aarch64 || { \
	  mountpoint -q /proc/sys/fs/binfmt_misc || $(SUDO) mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc; \
	  $(SUDO) update-binfmts --enable qemu-aarch64; }

# Two test processes (pytest-xdist): the image builds and boots, mostly one core each under qemu, run beside
# the rest instead of before it (tests/conftest.py, LONG_MODULES). TEST_WORKERS=1 runs them one after another.
TEST_WORKERS ?= 2
test: test-deps $(WEB_ASSETS)
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder tests

bench: test-deps $(WEB_ASSETS)
	bash bench/run

# The OCI image from the Dockerfile, without a Docker engine (needs root, debootstrap, buildah);
# ARCH=arm64 for Pis and ARM NAS boxes (through qemu-user-static on other machines).
oci-image: $(WEB_ASSETS)
	image/build-oci $(if $(ARCH),--arch $(ARCH))

# The Raspberry Pi SD-card image (arm64) in dist/: .img.xz, .bmap, SHA256SUMS (needs root; README, "Raspberry
# Pi"). Downloads are cached in /var/cache/filedock-sdimage for the next build.
sdimage: $(BUILD_VENV)/.installed $(WEB_ASSETS)
	@missing=""; for p in $(DEB_SDIMAGE_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	$(SUDO) image/build-sd --ansible-playbook $(BUILD_VENV)/bin/ansible-playbook

# requirements.lock: every package that ships, pinned with hashes, from requirements.txt (the Ansible role,
# the OCI image and make install all install exactly this). Run after editing requirements.txt.
LOCK_VENV := .venv-lock
lock:
	test -x $(LOCK_VENV)/bin/pip-compile || { $(PYTHON) -m venv $(LOCK_VENV) && $(LOCK_VENV)/bin/pip install -q pip-tools; }
	$(LOCK_VENV)/bin/pip-compile -q --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
	  --no-emit-find-links --no-header -o requirements.lock requirements.txt

clean:
	rm -rf $(VENV) .pytest_cache node_modules webapp/static/vendor
