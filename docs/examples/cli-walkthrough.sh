#!/bin/sh
# From key generation to a card, from the command line, in the gateway's repository with a
# development gateway running (npm start; its demo product DEMO_VIRTUAL_USD is there).
set -eu
json() { node -p "JSON.parse(require('fs').readFileSync(0, 'utf8'))$1"; }

# 1. The partner makes its keys. Add --signing-alg PS256 --encryption-alg RSA-OAEP-256 --x509 for
#    self-signed certificates of RSA keys. The private keys stay with the partner.
export PARTNER_KEYS_DIR="${PARTNER_KEYS_DIR:-$HOME/.config/card-gateway/acme-keys}"
npm run --silent partner:keygen
kid() { json ".$1[0].kid" < "$PARTNER_KEYS_DIR/registration.json"; }

# 2. The operator registers the project and the two public keys from registration.json, funds the
#    project and makes a verified cardholder (the admin API does the same: docs/back-office.md).
PROJECT=$(npm run --silent admin -- projects create --name "Acme" --currency USD --json | json .project_id)
npm run --silent admin -- keys add "$PROJECT" --use signing --alg ES256 --jwk "@$PARTNER_KEYS_DIR/signing.public.jwk.json" --kid "$(kid signing_keys)"
npm run --silent admin -- keys add "$PROJECT" --use encryption --alg ECDH-ES+A256KW --jwk "@$PARTNER_KEYS_DIR/encryption.public.jwk.json" --kid "$(kid encryption_keys)"
npm run --silent admin -- fund "$PROJECT" --amount 100.00 --reason "first float"
npm run --silent admin -- cardholders create "$PROJECT" --user user-42 --status verified

# 3. The partner calls the gateway (PARTNER_GATEWAY_URL, default http://127.0.0.1:8080): a card
#    with 25.00 on it, waited for until issued, read back, then topped up.
export PARTNER_PROJECT_ID="$PROJECT"
ORDER=$(npm run --silent partner -- create --wait --body "{\"product_code\":\"${PARTNER_PRODUCT_CODE:-DEMO_VIRTUAL_USD}\",\"external_user_id\":\"user-42\",\"initial_balance\":\"25.00\"}")
echo "$ORDER"
CARD=$(echo "$ORDER" | json .data.card_id)
npm run --silent partner -- get --body "{\"card_id\":\"$CARD\"}" | json '.data.masked_pan'
npm run --silent partner -- topup --wait --body "{\"card_id\":\"$CARD\",\"amount\":\"10.00\",\"currency\":\"USD\"}"
npm run --silent partner -- call /api/v1/balance --body '{"limit":3}'
