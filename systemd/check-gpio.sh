#!/usr/bin/env bash
# Pi 5: make sure only rpi-lgpio provides RPi.GPIO in the kiosk venv, and print which package
# provides it (on any board). Usage: systemd/check-gpio.sh [/opt/kiosk/.venv]
# The logic (and why) is in hardware/gpio_check.py.
set -euo pipefail
venv="${1:-/opt/kiosk/.venv}"
exec "$venv/bin/python" -m hardware.gpio_check
