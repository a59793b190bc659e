#!/bin/sh
# Debian packages that tests drive for real (editors, browsers). Part of the README's test
# command; CI runs it on a clean machine as root. Add a package here when a test needs it.
set -eu
PACKAGES="melt blender chromium fonts-wqy-zenhei"   # editors; report.html in a real browser; CJK glyphs
[ -n "$PACKAGES" ] || exit 0
missing=""
for p in $PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
[ -n "$missing" ] || exit 0
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing
