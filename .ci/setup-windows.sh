#!/usr/bin/env bash
# Sets up cross-building procctl for x86_64-pc-windows-gnu and running the
# result under Wine, on Debian (as root, or with sudo); with it, the other
# targets .ci/run checks or tests (musl, macOS, FreeBSD). Idempotent: a
# second run only checks and takes well under a second.
#
#   1. Debian packages: gcc-mingw-w64-x86-64 (the linker), wine64 (the
#      64-bit runtime) and wine (its wineserver/wineboot front ends; 134 kB).
#      No recommends: they would pull in 32-bit Wine, fonts and multimedia.
#      Also musl-tools (musl-gcc), for `cargo test --target
#      x86_64-unknown-linux-musl`: procctl has no C code, but criterion's
#      dev-dependency `alloca` compiles C with the target's C compiler.
#   2. rustup targets: x86_64-pc-windows-gnu, x86_64-unknown-linux-musl,
#      x86_64-apple-darwin, x86_64-unknown-freebsd (the last two for checks).
#   3. A Wine prefix of our own (see wine-env.sh), made without any dialog.
#   4. bcryptprimitives.dll (.ci/wine/processprng.c): Wine 8 lacks
#      ProcessPrng, which Rust's std imports; without it no Rust program
#      starts under Wine. Built with mingw and put in the prefix's system32.
#   5. A smoke test (.ci/wine/smoke.c): a Windows program that imports
#      ProcessPrng must run and get random bytes.
#
# Then: `. .ci/wine-env.sh && cargo test --target x86_64-pc-windows-gnu`.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup-windows] %s\n' "$*"; }
start=$(date +%s)

# --- 1. Debian packages -----------------------------------------------------
packages=(gcc-mingw-w64-x86-64 wine64 wine musl-tools)
missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    log "installing ${missing[*]}"
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq \
        --no-install-recommends "${missing[@]}" >/dev/null
else
    log "Debian packages present: ${packages[*]}"
fi

# Chooses the Wine binaries: only now that they are installed.
. .ci/wine-env.sh

# --- 2. rustup targets --------------------------------------------------------
targets=(x86_64-pc-windows-gnu x86_64-unknown-linux-musl x86_64-apple-darwin x86_64-unknown-freebsd)
installed=$(rustup target list --installed)
for t in "${targets[@]}"; do
    if ! grep -qx "$t" <<<"$installed"; then
        log "rustup target add $t"
        rustup target add "$t" >/dev/null
    fi
done

# --- 3. bcryptprimitives.dll ------------------------------------------------
out="${CARGO_TARGET_DIR:-target}/wine"
dll="$out/bcryptprimitives.dll"
mkdir -p "$out"
# Not next to the DLL: Wine would find it in the program's own directory
# and the test would prove nothing about system32.
smoke="$out/smoke/smoke.exe"
mkdir -p "$out/smoke"
if [ ! -f "$dll" ] || [ .ci/wine/processprng.c -nt "$dll" ] || [ .ci/wine/processprng.def -nt "$dll" ]; then
    log "building $dll"
    x86_64-w64-mingw32-gcc -shared -O2 -Wall -Werror -s -o "$dll" \
        .ci/wine/processprng.c .ci/wine/processprng.def -ladvapi32
    rm -f "$smoke"
fi
if [ ! -f "$smoke" ] || [ .ci/wine/smoke.c -nt "$smoke" ]; then
    # Linked against the DLL itself: it imports ProcessPrng by name, as
    # Rust's std does.
    x86_64-w64-mingw32-gcc -O2 -Wall -Werror -s -o "$smoke" .ci/wine/smoke.c "$dll"
fi

# --- 4. the Wine prefix -----------------------------------------------------
if [ ! -f "$WINEPREFIX/system.reg" ]; then
    log "initialising Wine prefix $WINEPREFIX"
    mkdir -p "$WINEPREFIX"
    # A 64-bit-only prefix: wineboot complains that syswow64's rundll32 is
    # missing (there is no 32-bit Wine) and carries on.
    "$PROCCTL_WINE" wineboot --init </dev/null >/dev/null 2>&1 || true
    # wineboot returns before the server has written the registry out.
    "$PROCCTL_WINESERVER" -w || true
fi
sys32="$WINEPREFIX/drive_c/windows/system32"
if [ ! -d "$sys32" ]; then
    echo "setup-windows: Wine prefix $WINEPREFIX has no system32" >&2
    exit 1
fi
if ! cmp -s "$dll" "$sys32/bcryptprimitives.dll"; then
    log "installing bcryptprimitives.dll into $sys32"
    cp "$dll" "$sys32/bcryptprimitives.dll"
fi

# --- 5. smoke test: a Windows program importing ProcessPrng starts ----------
if ! got=$("$PROCCTL_WINE" "$smoke" </dev/null 2>&1) || [ "$(tr -d '\r' <<<"$got")" != "ProcessPrng ok" ]; then
    echo "setup-windows: the Wine smoke test failed:" >&2
    echo "$got" >&2
    echo "(exit code 53 from Wine: a DLL import could not be resolved)" >&2
    exit 1
fi
log "smoke test: a program importing ProcessPrng runs under Wine"

log "ready in $(($(date +%s) - start)) s (runner: $CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER, prefix: $WINEPREFIX)"
