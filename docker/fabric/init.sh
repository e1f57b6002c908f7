#!/bin/sh
# Creates channel "isthmus", joins both peers, and defines chaincode "isthmus" as a service
# (CCAAS package pointing at isthmus-chaincode:9999). Idempotent: skips what already exists.
set -eu
export FABRIC_CFG_PATH=/etc/hyperledger/fabric
CH=isthmus
ORG=/config/organizations
cd /config
if [ ! -f /config/isthmus.block ]; then
  FABRIC_CFG_PATH=/scripts configtxgen -profile IsthmusChannel -outputBlock /config/isthmus.block -channelID $CH
  osnadmin channel join --channelID $CH --config-block /config/isthmus.block -o orderer.example.com:7053
fi
as_org() { # as_org <1|2>
  export CORE_PEER_LOCALMSPID=Org$1MSP
  export CORE_PEER_MSPCONFIGPATH=$ORG/peerOrganizations/org$1.example.com/users/Admin@org$1.example.com/msp
  if [ "$1" = 1 ]; then export CORE_PEER_ADDRESS=peer0.org1.example.com:7051; else export CORE_PEER_ADDRESS=peer0.org2.example.com:9051; fi
}
for o in 1 2; do
  as_org $o
  peer channel list | grep -q "^$CH$" || peer channel join -b /config/isthmus.block
done
# chaincode-as-a-service package: connection.json names the chaincode container
mkdir -p /tmp/pkg/src && cd /tmp/pkg
printf '{"address":"isthmus-chaincode:9999","dial_timeout":"10s","tls_required":false}' > src/connection.json
printf '{"type":"ccaas","label":"isthmus_1.0"}' > metadata.json
(cd src && tar czf ../code.tar.gz connection.json)
tar czf /config/isthmus.tar.gz metadata.json code.tar.gz
for o in 1 2; do as_org $o; peer lifecycle chaincode install /config/isthmus.tar.gz || true; done
PKG=$(peer lifecycle chaincode calculatepackageid /config/isthmus.tar.gz)
echo "$PKG" > /config/chaincode-id
for o in 1 2; do
  as_org $o
  peer lifecycle chaincode approveformyorg -o orderer.example.com:7050 --channelID $CH --name isthmus --version 1.0 --package-id "$PKG" --sequence 1 || true
done
as_org 1
peer lifecycle chaincode querycommitted --channelID $CH --name isthmus >/dev/null 2>&1 || \
  peer lifecycle chaincode commit -o orderer.example.com:7050 --channelID $CH --name isthmus --version 1.0 --sequence 1 \
    --peerAddresses peer0.org1.example.com:7051 --peerAddresses peer0.org2.example.com:9051
# flat identity dirs for FabricLedger (cert.pem + key.pem), and the orderer's certificate
for o in 1 2; do
  for u in Admin User1 User2; do
    d=/out/identities/Org${o}MSP/$u; mkdir -p "$d"
    m=$ORG/peerOrganizations/org$o.example.com/users/$u@org$o.example.com/msp
    cp "$m"/signcerts/*.pem "$d/cert.pem"; cp "$m"/keystore/* "$d/key.pem"
  done
done
cp $ORG/ordererOrganizations/example.com/orderers/orderer.example.com/msp/signcerts/*.pem /out/identities/orderer.pem
echo "fabric-init done: channel $CH, chaincode isthmus ($PKG)"
