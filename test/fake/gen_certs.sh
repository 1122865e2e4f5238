#!/usr/bin/env bash
# Test TLS material for the fake vendor APIs, made fresh at every test start in $1:
#   ca.pem            the test CA (pg_billing.ca_file points here)
#   good.pem/.key     127.0.0.1 and localhost, signed by the CA
#   selfsigned.pem    127.0.0.1, signed by itself (not by the CA)
#   wrongname.pem     signed by the CA, but for wrong.example only
#   expired.pem       signed by the CA for 127.0.0.1, valid only in January 2020
set -euo pipefail
d=$1
mkdir -p "$d" && cd "$d"
rm -rf ca-db && mkdir ca-db && : > ca-db/index.txt && echo 1000 > ca-db/serial
q() { "$@" >/dev/null 2>&1; }
q openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 30 -subj "/CN=pg_billing test CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
cat > ca.cnf <<CNF
[ ca ]
default_ca = test
[ test ]
dir = $d/ca-db
database = \$dir/index.txt
serial = \$dir/serial
new_certs_dir = \$dir
default_md = sha256
policy = any
unique_subject = no
copy_extensions = copy
[ any ]
commonName = supplied
CNF
leaf() {  # name subject-alt-names [ca-args...]
    local name=$1 san=$2; shift 2
    q openssl req -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" -subj "/CN=$name" -addext "subjectAltName=$san"
    q openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in "$name.csr" -out "$name.pem" -notext "$@"
}
leaf good "IP:127.0.0.1,DNS:localhost" -days 30
leaf wrongname "DNS:wrong.example" -days 30
leaf expired "IP:127.0.0.1,DNS:localhost" -startdate 20200101000000Z -enddate 20200201000000Z
q openssl req -x509 -newkey rsa:2048 -nodes -keyout selfsigned.key -out selfsigned.pem -days 30 -subj "/CN=selfsigned" \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost"
chmod 644 ./*.pem
