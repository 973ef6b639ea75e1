# Helpers for the registry tests (source after tests/lib/common.sh).
#   make_model DIR MIB     a model directory with a random MIB-MiB weights file and a config
#   start_proxy MODE [ARGS...]  starts fault_proxy.py in front of $REGISTRY; sets PROXY (host:port)
#                          and PROXY_LOG (the file listing the requests it saw)
#   same_files A B         fails unless the two directories hold identical files
#   make_tls DIR [SAN]     a CA (DIR/ca.pem) and a server certificate for 127.0.0.1 and localhost
#                          (and SAN, e.g. DNS:us-docker.pkg.dev) (DIR/srv.pem, DIR/srv.key);
#                          exports MC_REGISTRY_TLS_CERT/KEY for mc_start_registry
#   make_pass_store DIR    a throwaway pass store and GPG key under DIR (see below)
MC=${MODELCAR_BIN:?MODELCAR_BIN is not set}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

make_model() {
  mkdir -p "$1"
  head -c $(($2 * 1048576)) /dev/urandom > "$1/model.safetensors"
  head -c 70000 /dev/urandom | base64 > "$1/tokenizer.json"
  echo '{"architectures":["Qwen2ForCausalLM"],"torch_dtype":"bfloat16"}' > "$1/config.json"
}

start_proxy() {
  local port; port=$(mc_free_port)
  PROXY_LOG=$MC_TMP/proxy-$port.log
  /usr/bin/python3 "$HERE/fault_proxy.py" "$port" "$REGISTRY" "$@" 2>"$PROXY_LOG" &
  local pid=$!
  MC_CLEANUP+=("kill $pid 2>/dev/null; wait $pid 2>/dev/null")
  PROXY=127.0.0.1:$port
  for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://$PROXY/v2/" && return 0
    sleep 0.1
  done
  mc_fail "fault proxy did not start"
}

same_files() {
  diff -r "$1" "$2" >/dev/null || mc_fail "files differ between $1 and $2"
}

make_tls() {
  mkdir -p "$1"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1/ca.key" -out "$1/ca.pem" -days 2 \
    -subj /CN=modelcar-test-ca 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout "$1/srv.key" -out "$1/srv.csr" -subj /CN=127.0.0.1 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost%s\n' "${2:+,$2}" > "$1/ext"
  openssl x509 -req -in "$1/srv.csr" -CA "$1/ca.pem" -CAkey "$1/ca.key" -CAcreateserial \
    -out "$1/srv.pem" -days 2 -extfile "$1/ext" 2>/dev/null
  export MC_REGISTRY_TLS_CERT=$1/srv.pem MC_REGISTRY_TLS_KEY=$1/srv.key
}

# make_pass_store DIR: a throwaway `pass` store (for docker-credential-pass) with a passphrase-less
# GPG key, all under DIR: exports GNUPGHOME and PASSWORD_STORE_DIR; its gpg-agent stops at exit.
make_pass_store() {
  export GNUPGHOME=$1/gnupg PASSWORD_STORE_DIR=$1/pass
  mkdir -p -m 700 "$GNUPGHOME"
  MC_CLEANUP+=("gpgconf --kill gpg-agent")
  gpg --batch --quiet --passphrase '' --quick-gen-key modelcar-test@example.invalid default default never \
    2>/dev/null || mc_fail "gpg key generation"
  pass init modelcar-test@example.invalid >/dev/null || mc_fail "pass init"
}
