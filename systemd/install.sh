#!/usr/bin/env bash
# Install the Device Amnesty Kiosk on Raspberry Pi OS (Bookworm, Pi 4 or Pi 5).
# Run from a clone of the repository:  sudo systemd/install.sh
# Re-running upgrades in place; the config and the ledger in /var/lib/kiosk are kept.
set -euo pipefail

if [[ $EUID -ne 0 ]]; then
    echo "install.sh: run with sudo" >&2
    exit 1
fi
src=$(cd "$(dirname "$0")/.." && pwd)

echo "==> packages (python3-venv, libcamera for the optional tray camera)"
apt-get update -q
apt-get install -y -q rsync python3-venv python3-dev build-essential python3-libcamera python3-kms++ || \
    apt-get install -y -q rsync python3-venv python3-dev build-essential

echo "==> SPI on (RC522 reader) and serial port free for the RS-485 adapter"
if command -v raspi-config >/dev/null; then
    raspi-config nonint do_spi 0
    raspi-config nonint do_serial_hw 0 || true
    raspi-config nonint do_serial_cons 1 || true
fi

echo "==> user and folders"
id kiosk >/dev/null 2>&1 || useradd --system --home /var/lib/kiosk --shell /usr/sbin/nologin kiosk
for g in gpio spi dialout video; do getent group "$g" >/dev/null && usermod -aG "$g" kiosk; done
install -d -o kiosk -g kiosk -m 0750 /var/lib/kiosk
install -d -m 0755 /etc/kiosk /opt/kiosk

echo "==> application in /opt/kiosk/.venv"
rsync -a --delete --exclude .venv --exclude .git "$src/" /opt/kiosk/src/
# --system-site-packages lets the venv see Raspberry Pi OS's python3-libcamera for picamera2.
python3 -m venv --system-site-packages /opt/kiosk/.venv
/opt/kiosk/.venv/bin/pip install -q --upgrade pip
/opt/kiosk/.venv/bin/pip install -q "/opt/kiosk/src[pi]"

if [[ ! -f /etc/kiosk/kiosk.toml ]]; then
    echo "==> example config to /etc/kiosk/kiosk.toml (edit it: station id, profile, hardware)"
    install -m 0640 -g kiosk "$src/docs/kiosk.example.toml" /etc/kiosk/kiosk.toml
fi

echo "==> database"
sudo -u kiosk KIOSK_CONFIG=/etc/kiosk/kiosk.toml /opt/kiosk/.venv/bin/kiosk db upgrade

echo "==> services"
install -m 0644 "$src"/systemd/*.service "$src"/systemd/*.timer /etc/systemd/system/
systemctl daemon-reload
systemctl enable --now kiosk.service kiosk-signage.service kiosk-purge.timer
echo "Done. Next: import pupils, contacts and staff (README, Operations), then run"
echo "  sudo -u kiosk KIOSK_CONFIG=/etc/kiosk/kiosk.toml /opt/kiosk/.venv/bin/kiosk hw test"
