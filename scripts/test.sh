#!/usr/bin/env bash
# Install what the tests need, then run the whole suite.
#
# As root, the third-party programs the tests talk to are installed from
# Debian's packages when missing. As another user nothing is installed: the
# script says which programs are missing, and the tests that need them are
# skipped with that reason. Python packages go into ./.venv.
set -euo pipefail
cd "$(dirname "$0")/.."

# program → Debian package
declare -A PEERS=(
    [dig]=bind9-dnsutils
    [kdig]=knot-dnsutils
    [nsd]=nsd
    [nginx]=nginx-light
    [curl]=curl
    [chromium]=chromium
    [tshark]=tshark
    [unbound]=unbound
    [ip]=iproute2
    [tc]=iproute2
    [nft]=nftables
    [node]=nodejs
)

missing_programs=()
missing_packages=()
for program in "${!PEERS[@]}"; do
    if ! PATH="$PATH:/usr/sbin:/sbin" command -v "$program" >/dev/null 2>&1; then
        missing_programs+=("$program")
        missing_packages+=("${PEERS[$program]}")
    fi
done

if ((${#missing_packages[@]})); then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "test.sh: installing ${missing_packages[*]} from Debian's packages"
        export DEBIAN_FRONTEND=noninteractive
        # The tests start their own nginx, NSD and Unbound on loopback: keep the packages
        # from starting system-wide daemons (Debian's policy-rc.d convention).
        policy=/usr/sbin/policy-rc.d
        created=""
        if [ ! -e "$policy" ]; then
            printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy"
            created=yes
            trap 'rm -f "$policy"' EXIT  # also if the install fails
        fi
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing_packages[@]}" >/dev/null
        if [ -n "$created" ]; then
            rm -f "$policy"
            trap - EXIT
        fi
    else
        echo "test.sh: not root, so not installing: ${missing_programs[*]}." \
             "The tests that talk to them will be SKIPPED (pytest lists each with its reason)."
    fi
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
# axe-core (npm) checks the replay app and webtrip ui for accessibility; optional.
if command -v npm >/dev/null 2>&1 && [ ! -d tests/.npm/node_modules/axe-core ]; then
    if ! npm install --prefix tests/.npm --no-audit --no-fund --silent axe-core@4 \
        >/dev/null 2>&1; then
        echo "test.sh: could not install the axe-core npm package;" \
             "the accessibility tests will be SKIPPED."
    fi
fi
# mermaid itself (npm) renders the mermaid view in headless Chromium; optional.
if command -v npm >/dev/null 2>&1 && [ ! -d tests/.npm/node_modules/mermaid ]; then
    if ! npm install --prefix tests/.npm --no-audit --no-fund --silent mermaid@11 \
        >/dev/null 2>&1; then
        echo "test.sh: could not install the mermaid npm package;" \
             "the mermaid rendering test will be SKIPPED."
    fi
fi
.venv/bin/ruff check
.venv/bin/ruff format --check --quiet
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
