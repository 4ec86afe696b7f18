#!/usr/bin/env bash
# chromium.sh — print the path of a headless-capable Chromium for the web
# desk's browser tests, installing Debian's `chromium` package first when
# none is found and this runs as root (as dev-postgres.sh does for
# PostgreSQL), with a Chinese font (fonts-wqy-microhei) for the pages'
# screenshots. Only the path goes to stdout; diagnostics to stderr.
#
# Environment:
#   LEDGER_CHROMIUM          use this binary, do nothing else
#   LEDGER_CHROMIUM_NO_INSTALL=1  never run apt-get install
set -euo pipefail
log() { printf 'chromium: %s\n' "$*" >&2; }

if [[ -n ${LEDGER_CHROMIUM:-} ]]; then
	printf '%s\n' "$LEDGER_CHROMIUM"
	exit 0
fi
find_it() {
	for b in chromium chromium-browser google-chrome headless_shell; do
		if p=$(command -v "$b" 2>/dev/null); then
			printf '%s\n' "$p"
			return 0
		fi
	done
	return 1
}
have_cjk_font() { fc-list :lang=zh 2>/dev/null | grep -q .; }
can_install() { [[ -z ${LEDGER_CHROMIUM_NO_INSTALL:-} && $(id -u) == 0 ]] && command -v apt-get >/dev/null; }
install() {
	log "installing Debian's $* (once)"
	(
		flock 9
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >&2 ||
			{ DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >&2; }
	) 9>/tmp/ledger-chromium-install.lock
}
if ! find_it >/dev/null; then
	can_install || { log "no Chromium found; install Debian's chromium package (apt-get install chromium) or set LEDGER_CHROMIUM"; exit 1; }
	install chromium fonts-wqy-microhei
fi
if ! have_cjk_font; then
	if can_install; then
		install fonts-wqy-microhei
	else
		log "no Chinese font: the screenshots will show boxes (apt-get install fonts-wqy-microhei)"
	fi
fi
find_it || { log "the chromium package installed no browser"; exit 1; }
