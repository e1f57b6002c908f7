#!/bin/sh
# Generates the network's crypto material once (cryptogen), into the shared /config volume.
set -eu
if [ -f /config/.crypto-done ]; then echo "crypto material exists"; exit 0; fi
cryptogen generate --config=/scripts/crypto-config.yaml --output=/config/organizations
touch /config/.crypto-done
