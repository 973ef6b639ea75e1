#!/usr/bin/env bash
# Makes a self-signed CA and a serving certificate for modelcar-webhook.modelcar-system.svc in this
# directory (ca.crt, tls.crt, tls.key; the CA key is kept as ca.key, do not commit it). Then:
#   kubectl apply -k deploy/overlays/self-signed
# Re-run before the certificate expires (DAYS, default 365); the webhook reloads the new files
# without a restart once the Secret is updated.
set -euo pipefail
cd "$(dirname "$0")"
days=${DAYS:-365}
svc=modelcar-webhook.modelcar-system.svc
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days "$days" \
  -subj "/CN=modelcar-webhook-ca" -keyout ca.key -out ca.crt 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$svc" \
  -keyout tls.key -out tls.csr 2>/dev/null
printf 'subjectAltName=DNS:%s,DNS:%s.cluster.local\nextendedKeyUsage=serverAuth\n' "$svc" "$svc" > ext.cnf
openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days "$days" \
  -extfile ext.cnf -out tls.crt 2>/dev/null
rm -f tls.csr ext.cnf ca.srl
chmod 600 ca.key tls.key
echo "wrote $(pwd)/{ca.crt,tls.crt,tls.key}"
