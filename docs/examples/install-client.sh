#!/bin/sh
# Installs the partner client into your Node.js project (run it in that project's folder) from a
# checkout of the gateway's repository (GATEWAY_REPO, where `npm ci` has been run), then makes
# your keys: private ones in ~/.config/card-gateway/partner-keys (mode 0600), and
# registration.json (public keys only) for the gateway's operator.
set -eu
npm pack "${GATEWAY_REPO:?set GATEWAY_REPO to the gateway repository}/packages/client" --pack-destination .
npm install ./card-gateway-client-0.1.0.tgz
npx card-gateway-keygen
