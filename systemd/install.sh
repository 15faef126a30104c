#!/usr/bin/env bash
# Install (or upgrade in place) the Device Amnesty Kiosk on Raspberry Pi OS Bookworm, Pi 4 or 5.
#
#   sudo systemd/install.sh              install or upgrade; safe to run again
#   systemd/install.sh --dry-run         print every step and change nothing (any machine,
#                                        no root needed); tests/ops/test_install.py runs it
#   sudo systemd/install.sh --headless   no staff screen: run the station headless
#                                        (kiosk-station.service) instead of the console UI
#
# Kept on re-runs: /etc/kiosk/kiosk.toml, the ledger and backups in /var/lib/kiosk.
# Every step prints one line: "+ command" when it runs (or would, with --dry-run), or
# "= what  (already done)" when the machine already has it.
set -euo pipefail

DRY_RUN=0
PREFIX=/opt/kiosk
ETC=/etc/kiosk
STATE=/var/lib/kiosk
UNIT_DIR=/etc/systemd/system
BIN=/usr/local/bin
KIOSK_USER=kiosk
# Every tool the README's and docs/day-one.md's commands use: python3-venv (the app),
# sqlite3 (inspecting a ledger or a backup), rsync (this installer), git (updates),
# console-setup + fonts-terminus (the large console font for signage), util-linux (flock).
APT_PACKAGES=(python3-venv python3-dev build-essential rsync sqlite3 git console-setup
    fonts-terminus util-linux)
# Raspberry Pi OS only: libcamera for the optional tray camera (picamera2).
APT_PI_PACKAGES=(python3-libcamera python3-kms++)
# The station is kiosk.service (staff UI on tty1) or, with --headless, kiosk-station.service
# (`kiosk run --headless`: doors, alarms, no screen). Both are installed; they conflict.
STATION_UNIT=kiosk.service
OTHER_STATION_UNIT=kiosk-station.service

usage() {
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
}

for arg in "$@"; do
    case "$arg" in
        --dry-run) DRY_RUN=1 ;;
        --headless) STATION_UNIT=kiosk-station.service OTHER_STATION_UNIT=kiosk.service ;;
        -h | --help) usage; exit 0 ;;
        *) echo "install.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
    esac
done

src=$(cd "$(dirname "$0")/.." && pwd)

step() { echo; echo "==> $*"; }
# run CMD...: print it, and run it unless --dry-run.
run() {
    echo "+ $*"
    if ((DRY_RUN == 0)); then "$@"; fi
}
# done_already WHAT: print that a step is skipped because the machine already has it.
done_already() { echo "= $*  (already done)"; }

if ((DRY_RUN)); then
    echo "install.sh --dry-run: printing every step, changing nothing (source: $src)"
    # Tests point the "already done?" checks at a folder standing in for / (dry run only).
    if [[ -n "${KIOSK_INSTALL_ROOT:-}" ]]; then
        PREFIX=$KIOSK_INSTALL_ROOT$PREFIX ETC=$KIOSK_INSTALL_ROOT$ETC
        STATE=$KIOSK_INSTALL_ROOT$STATE UNIT_DIR=$KIOSK_INSTALL_ROOT$UNIT_DIR
        BIN=$KIOSK_INSTALL_ROOT$BIN
    fi
    KIOSK_USER=${KIOSK_INSTALL_USER:-$KIOSK_USER}
elif [[ $EUID -ne 0 ]]; then
    echo "install.sh: run with sudo (or try --dry-run to see the steps)" >&2
    exit 1
fi

step "packages"
run apt-get update -q
run apt-get install -y -q --no-install-recommends "${APT_PACKAGES[@]}"
if apt-cache show "${APT_PI_PACKAGES[0]}" >/dev/null 2>&1; then
    run apt-get install -y -q --no-install-recommends "${APT_PI_PACKAGES[@]}"
else
    echo "= ${APT_PI_PACKAGES[*]}  (not in this machine's apt sources: not a Raspberry Pi OS; camera support skipped)"
fi

step "SPI on (RC522 reader), serial port free for the RS-485 adapter"
if command -v raspi-config >/dev/null 2>&1; then
    run raspi-config nonint do_spi 0
    run raspi-config nonint do_serial_hw 0
    run raspi-config nonint do_serial_cons 1
else
    echo "= raspi-config nonint do_spi 0; do_serial_hw 0; do_serial_cons 1  (no raspi-config: not a Raspberry Pi OS)"
fi

step "user $KIOSK_USER and folders"
if id "$KIOSK_USER" >/dev/null 2>&1; then
    done_already "useradd $KIOSK_USER"
else
    run useradd --system --home "$STATE" --shell /usr/sbin/nologin "$KIOSK_USER"
fi
for g in gpio spi dialout video; do
    if ! getent group "$g" >/dev/null; then
        echo "= usermod -aG $g $KIOSK_USER  (no group $g on this machine)"
    elif id -nG "$KIOSK_USER" 2>/dev/null | tr ' ' '\n' | grep -qx "$g"; then
        done_already "usermod -aG $g $KIOSK_USER"
    else
        run usermod -aG "$g" "$KIOSK_USER"
    fi
done
# 0700 and a 0077 umask in the units: the ledger and its backups are readable by kiosk only.
run install -d -o "$KIOSK_USER" -g "$KIOSK_USER" -m 0700 "$STATE" "$STATE/backups"
run install -d -m 0750 -g "$KIOSK_USER" "$ETC"
run install -d -m 0755 "$PREFIX"

step "application in $PREFIX/.venv"
run rsync -a --delete --exclude .venv --exclude .git "$src/" "$PREFIX/src/"
# --system-site-packages lets the venv see Raspberry Pi OS's python3-libcamera for picamera2.
if [[ -x "$PREFIX/.venv/bin/python" ]]; then
    done_already "python3 -m venv $PREFIX/.venv"
else
    run python3 -m venv --system-site-packages "$PREFIX/.venv"
fi
run "$PREFIX/.venv/bin/pip" install -q --upgrade pip
if [[ -d /proc/device-tree ]] && grep -qa "Raspberry Pi" /proc/device-tree/model 2>/dev/null; then
    run "$PREFIX/.venv/bin/pip" install -q "$PREFIX/src[pi]"
    # mfrc522 pulls in RPi.GPIO, which does not work on a Pi 5: keep only rpi-lgpio there.
    run "$PREFIX/src/systemd/check-gpio.sh" "$PREFIX/.venv"
else
    run "$PREFIX/.venv/bin/pip" install -q "$PREFIX/src"
fi

# `kiosk ...` for admins: runs as user kiosk with the station's config (systemd/kiosk-cli.sh).
run install -m 0755 "$src/systemd/kiosk-cli.sh" "$BIN/kiosk"

step "config $ETC/kiosk.toml"
if [[ -f "$ETC/kiosk.toml" ]]; then
    done_already "install $src/docs/kiosk.example.toml $ETC/kiosk.toml (kept: yours)"
else
    run install -m 0640 -g "$KIOSK_USER" "$src/docs/kiosk.example.toml" "$ETC/kiosk.toml"
    echo "   edit it: station id, profile, hardware (docs/day-one.md, step 3)"
fi

step "database (creates or upgrades; safe to repeat)"
run runuser -u "$KIOSK_USER" -- env KIOSK_CONFIG="$ETC/kiosk.toml" "$PREFIX/.venv/bin/kiosk" db upgrade

step "services"
units=()
for unit in "$src"/systemd/*.service "$src"/systemd/*.timer; do
    units+=("$unit")
done
run install -m 0644 "${units[@]}" "$UNIT_DIR/"
run systemctl daemon-reload
UNITS_ENABLED=("$STATION_UNIT" kiosk-signage.service kiosk-signage-page.service
    kiosk-purge.timer kiosk-backup.timer)
# One station unit owns the hardware: the other is disabled (a re-run can switch them).
run systemctl disable --now "$OTHER_STATION_UNIT"
run systemctl enable "${UNITS_ENABLED[@]}"
# restart, not start: a re-run after `git pull` must load the new code.
run systemctl restart "$STATION_UNIT" kiosk-signage.service kiosk-signage-page.service
run systemctl start kiosk-purge.timer kiosk-backup.timer

echo
echo "Done. Next (docs/day-one.md): import pupils, contacts and staff, enrol badges, then with"
echo "the station stopped (sudo systemctl stop kiosk) run the hardware test:  kiosk hw test"
