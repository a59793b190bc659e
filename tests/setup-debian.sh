#!/bin/sh
# Debian packages that tests drive for real (editors, browsers). Part of the README's test
# command; CI runs it on a clean machine as root. Add a package here when a test needs it.
set -eu
PACKAGES="melt blender chromium fonts-wqy-zenhei redis-server"   # editors; report.html in a real browser; CJK glyphs; the service's broker
[ -n "$PACKAGES" ] || exit 0
missing=""
for p in $PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
[ -n "$missing" ] || exit 0
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# policy-rc.d 101: the package installs without starting a system redis (tests start their own)
rc=/usr/sbin/policy-rc.d; made=""
if [ ! -e "$rc" ]; then printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$rc" >/dev/null && $SUDO chmod +x "$rc" && made=1; fi
$SUDO apt-get install -y -qq --no-install-recommends $missing
[ -z "$made" ] || $SUDO rm -f "$rc"
