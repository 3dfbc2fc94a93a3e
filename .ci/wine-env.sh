# Environment for building procctl for Windows and running it under Wine.
#
# Source it (`. .ci/wine-env.sh`) after `.ci/setup-windows.sh` has run, then
#   cargo test --target x86_64-pc-windows-gnu --test portable
# runs the Windows test binaries under Wine through cargo's runner.
#
# Nothing here is committed to .cargo/config.toml on purpose: a runner set
# there would apply to everyone building this crate for Windows, including
# people on a real Windows machine or with their own Wine set-up.

# A prefix of our own, so a user's ~/.wine is never touched.
export WINEPREFIX="${PROCCTL_WINEPREFIX:-${HOME:-/root}/.cache/procctl-wine}"
export WINEARCH=win64
# Wine's debug channels are noisy and slow; errors still reach stderr.
export WINEDEBUG="${WINEDEBUG:--all}"
# Our bcryptprimitives.dll (ProcessPrng) wins over a builtin one, should a
# newer Wine bring its own; no Mono/Gecko installer dialogs; no menu entries.
export WINEDLLOVERRIDES="bcryptprimitives=n,b;mscoree=;mshtml=;winemenubuilder.exe=d"
# No X display: console programs only, never a dialog waiting for a click.
unset DISPLAY WAYLAND_DISPLAY
# Debian's wine64 package installs the loader as /usr/lib/wine/wine64.
if command -v wine64 >/dev/null 2>&1; then
    PROCCTL_WINE=$(command -v wine64)
elif [ -x /usr/lib/wine/wine64 ]; then
    PROCCTL_WINE=/usr/lib/wine/wine64
else
    PROCCTL_WINE=wine
fi
export PROCCTL_WINE
if command -v wineserver >/dev/null 2>&1; then
    PROCCTL_WINESERVER=$(command -v wineserver)
else
    PROCCTL_WINESERVER=/usr/lib/wine/wineserver
fi
export PROCCTL_WINESERVER
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER="${CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER:-$PROCCTL_WINE}"
