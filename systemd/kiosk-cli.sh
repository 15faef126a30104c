#!/bin/sh
# /usr/local/bin/kiosk (installed by systemd/install.sh): run the kiosk command as the service
# user with the station's config, so files it creates stay the service's (0600, user kiosk)
# and nobody has to type the long form. Admins are asked for their sudo password; commands
# that show pupils or change a record then ask for the person's own badge and PIN as well
# (`kiosk holdings --badge UID`, docs/auth.md): running as user kiosk is not a sign-in.
set -eu
KIOSK=/opt/kiosk/.venv/bin/kiosk
CONFIG=/etc/kiosk/kiosk.toml
if [ "$(id -un)" = kiosk ]; then
    exec env KIOSK_CONFIG="$CONFIG" "$KIOSK" "$@"
fi
exec sudo -u kiosk env KIOSK_CONFIG="$CONFIG" "$KIOSK" "$@"
