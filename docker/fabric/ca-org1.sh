#!/bin/sh
# Org1's CA. It signs with the CA key cryptogen generated for Org1, so what it enrolls is a
# member of Org1MSP, and it enrolls the Isthmus KRW issuer with the certificate attribute
# isthmus.role=issuer (the chaincode's Mint checks it; cryptogen cannot add attributes).
# The issuer's cert.pem/key.pem go to /out/identities/Org1MSP/issuer. Idempotent.
set -eu
while [ ! -f /config/.crypto-done ]; do sleep 1; done
CA=/config/organizations/peerOrganizations/org1.example.com/ca
fabric-ca-server start -b admin:adminpw --ca.name ca-org1 --port 7054 \
  --ca.certfile "$CA/ca.org1.example.com-cert.pem" --ca.keyfile "$CA/priv_sk" &
SERVER=$!
export FABRIC_CA_CLIENT_HOME=/tmp/ca-admin
until fabric-ca-client getcainfo -u http://localhost:7054 --caname ca-org1 >/dev/null 2>&1; do sleep 1; done
fabric-ca-client enroll -u http://admin:adminpw@localhost:7054 --caname ca-org1
# already registered after a restart of this container: then only enroll again
fabric-ca-client register -u http://localhost:7054 --caname ca-org1 --id.name issuer --id.secret issuerpw \
  --id.type client --id.attrs 'isthmus.role=issuer:ecert' || true
fabric-ca-client enroll -u http://issuer:issuerpw@localhost:7054 --caname ca-org1 -M /tmp/issuer-msp
d=/out/identities/Org1MSP/issuer
mkdir -p "$d"
cp /tmp/issuer-msp/signcerts/*.pem "$d/cert.pem"
cp /tmp/issuer-msp/keystore/*_sk "$d/key.pem"
echo "ca-org1: issuer enrolled into $d"
wait "$SERVER"
