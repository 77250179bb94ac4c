# Shared by scripts/start and scripts/test (sourced, not run): the virtualenv bootstrap and OS packages.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${PIAOWU_VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"

say() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }
warn() { printf '\033[1;33mwarning:\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

now_s() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now_s)" 'BEGIN { printf "%.1f", b - a }'; }

python_ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; }

# The first Python 3.11+ on PATH ($PYTHON wins when set).
find_python() {
    local candidate
    for candidate in ${PYTHON:-} python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 && python_ok "$candidate"; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

can_apt() {
    command -v apt-get >/dev/null 2>&1 || return 1
    [ "$(id -u)" = 0 ] && return 0
    command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null
}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }

pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

# apt_ensure PKG... → installs the missing ones when apt is usable; returns 1 when some are still missing.
apt_ensure() {
    local missing=() p
    command -v dpkg-query >/dev/null 2>&1 || return 1
    for p in "$@"; do pkg_installed "$p" || missing+=("$p"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    if ! can_apt; then
        warn "missing OS packages: ${missing[*]} (not root and no passwordless sudo: install them yourself)"
        return 1
    fi
    say "installing OS packages: ${missing[*]}"
    local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Use-Pty=0 install --no-install-recommends)
    # Package lists are refreshed only when there are none, or when an install from the present ones fails.
    if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
        as_root apt-get -q update >/dev/null || true
    fi
    if ! as_root "${apt[@]}" "${missing[@]}" >/dev/null; then
        as_root apt-get -q update >/dev/null || true
        as_root "${apt[@]}" "${missing[@]}" >/dev/null || { warn "apt-get could not install ${missing[*]}"; return 1; }
    fi
}

# ensure_venv EXTRAS → .venv with the project installed editable; EXTRAS is "" (runtime) or "test".
# Reinstalls only when pyproject.toml changed since the last install (stamp files inside the venv).
ensure_venv() {
    local extras="$1" python
    if [ -x "$PY" ] && ! python_ok "$PY"; then
        die "$VENV uses $("$PY" --version 2>&1); Piaowu needs Python 3.11+. Remove $VENV and run again."
    fi
    if [ ! -x "$PY" ]; then
        python="$(find_python)" || die "Piaowu needs Python 3.11 or newer; found: $(python3 --version 2>&1 || echo none).
  Install it (Debian 12: apt-get install python3 python3-venv) or point PYTHON=/path/to/python3.11 at one."
        say "creating $VENV with $("$python" --version 2>&1)"
        if ! "$python" -m venv "$VENV" 2>/dev/null; then
            rm -rf "$VENV"
            # Debian splits venv/ensurepip out of the interpreter package.
            apt_ensure python3-venv || true
            "$python" -m venv "$VENV" || die "python -m venv failed: install your distribution's python3-venv package"
        fi
    fi
    local hash stamp_dir="$VENV/.piaowu-stamps"
    hash="$(sha256sum <"$ROOT/pyproject.toml" | cut -d' ' -f1)"
    mkdir -p "$stamp_dir"
    # A test install includes the runtime, so it satisfies a runtime request too.
    if [ "$(cat "$stamp_dir/test" 2>/dev/null)" = "$hash" ]; then return 0; fi
    if [ -z "$extras" ] && [ "$(cat "$stamp_dir/runtime" 2>/dev/null)" = "$hash" ]; then return 0; fi
    local target="."
    [ -n "$extras" ] && target=".[${extras}]"
    say "installing Piaowu${extras:+ with [$extras]} into $VENV (pip; about a minute the first time)"
    local log="$VENV/.piaowu-pip.log"
    if ! (cd "$ROOT" && "$PY" -m pip install --disable-pip-version-check -e "$target") >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        die "pip install failed (full log: $log)"
    fi
    echo "$hash" >"$stamp_dir/${extras:-runtime}"
}

# ensure_browser_packages → node_modules/ as package-lock.json says (npm ci), again only when the lock changed.
# The pages serve those files (piaowu/vendor.py: the API reference's Swagger UI, the gate camera's QR decoder);
# without them the pages still work, with less. --ignore-scripts: nothing of a package runs at install (one of
# swagger-ui-dist's dependencies would otherwise send install analytics).
ensure_browser_packages() {
    local lock="$ROOT/package-lock.json" stamp="$ROOT/node_modules/.piaowu-lock" hash
    [ -f "$lock" ] || return 0
    hash="$(sha256sum <"$lock" | cut -d' ' -f1)"
    [ "$(cat "$stamp" 2>/dev/null)" = "$hash" ] && return 0
    if ! command -v npm >/dev/null 2>&1; then
        apt_ensure npm || {
            warn "npm is missing: the API reference page and the gate's camera fallback stay off (install npm)"
            return 1
        }
    fi
    say "installing the pages' browser packages (npm ci: swagger-ui-dist, jsqr; axe-core for the accessibility test)"
    if ! (cd "$ROOT" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) >&2; then
        warn "npm ci failed: the API reference page and the gate's camera fallback stay off"
        return 1
    fi
    echo "$hash" >"$stamp"
}
