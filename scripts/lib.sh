# Shared helpers for the project's scripts. Sourced, not run.

# Installs the Debian packages named, if any of their commands is missing.
# Usage: ensure_packages "command:package" ...
ensure_packages() {
  local missing=()
  for pair in "$@"; do
    local command=${pair%%:*} package=${pair#*:}
    command -v "$command" >/dev/null 2>&1 || missing+=("$package")
  done
  install_packages "${missing[@]}"
}

# Installs the Debian packages given (none: nothing to do).
install_packages() {
  [ $# -eq 0 ] && return 0
  echo "installing Debian packages: $*" >&2
  if [ "$(id -u)" -ne 0 ]; then
    echo "need root to install $*; run: sudo apt-get install -y $*" >&2
    return 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# Installs the Debian packages named, if any of their files is missing.
# Usage: ensure_files "path:package" ...
ensure_files() {
  local missing=()
  for pair in "$@"; do
    local path=${pair%%:*} package=${pair#*:}
    [ -e "$path" ] || missing+=("$package")
  done
  install_packages "${missing[@]}"
}

# The packages every part of Zonal needs at build and test time.
ensure_build_dependencies() {
  command -v swift >/dev/null 2>&1 || { echo "Swift 6.3 is required (swift not found in PATH)" >&2; return 1; }
  ensure_packages "python3:python3" "curl:curl" "pkg-config:pkg-config"
  ensure_files "/usr/include/zstd.h:libzstd-dev" "/usr/include/sqlite3.h:libsqlite3-dev"
}

# PostgreSQL 15 for `zonal db` (Debian's package; Zonal runs its own servers, not the package's).
ensure_database_dependencies() {
  ensure_files "/usr/lib/postgresql/15/bin/postgres:postgresql" "/usr/bin/psql:postgresql-client"
}

# Redis 7 for the cache service, and the clients its tests use: redis-cli, redis-py (Debian's,
# for /usr/bin/python3), redis-benchmark and twemproxy for the benchmark.
ensure_cache_dependencies() {
  ensure_files "/usr/bin/redis-server:redis-server" "/usr/bin/redis-cli:redis-tools" "/usr/lib/python3/dist-packages/redis/__init__.py:python3-redis"
}

# The clients the balancer's tests speak HTTP/2 and WebSocket with: h2load and nghttp
# (nghttp2-client), curl (built with nghttp2) and Python's websockets (Debian's, for /usr/bin/python3).
ensure_balancer_test_dependencies() {
  ensure_packages "h2load:nghttp2-client" "nghttp:nghttp2-client" "curl:curl"
  ensure_files "/usr/lib/python3/dist-packages/websockets/__init__.py:python3-websockets"
}

# The DNS clients the tests query Zonal's server with (dig, kdig) and Knot, the secondary that
# transfers a Zonal zone.
ensure_dns_test_dependencies() {
  ensure_packages "dig:dnsutils" "kdig:knot-dnsutils" "knotd:knot"
}

# An S3 endpoint for the tests of S3 backup repositories: moto's standalone server (Debian
# has no S3 server package), from pip. Exports ZONAL_MOTO_SERVER, where the tests find it.
ensure_s3_test_server() {
  find_moto_server || {
    echo "installing moto[server] (an S3 endpoint for tests) with pip" >&2
    python3 -m pip install --quiet 'moto[server]' || python3 -m pip install --quiet --break-system-packages 'moto[server]'
    hash -r
    find_moto_server
  } || { echo "moto_server not found after installing moto[server]" >&2; return 1; }
}

find_moto_server() {
  local found
  found=$(command -v moto_server || ls "$HOME"/.pyenv/versions/*/bin/moto_server /usr/local/bin/moto_server 2>/dev/null | head -n 1) || true
  [ -n "$found" ] || return 1
  export ZONAL_MOTO_SERVER=$found
}

# The S3 clients the object store's tests drive it with: rclone, s3cmd and restic (Debian's),
# boto3 and the AWS CLI (from pip for the python3 on PATH, as moto is).
ensure_s3_clients() {
  ensure_packages "rclone:rclone" "s3cmd:s3cmd" "restic:restic"
  python3 -c 'import boto3' 2>/dev/null && command -v aws >/dev/null 2>&1 && return 0
  echo "installing boto3 and awscli (S3 clients for tests) with pip" >&2
  python3 -m pip install --quiet boto3 awscli || python3 -m pip install --quiet --break-system-packages boto3 awscli
  hash -r
  python3 -c 'import boto3' && command -v aws >/dev/null 2>&1 || { echo "boto3 or aws not found after installing them" >&2; return 1; }
}

# What the tests start as real parts: etcd (coordination), PostgreSQL, an S3 endpoint.
ensure_test_dependencies() {
  ensure_packages "etcd:etcd-server" "etcdctl:etcd-client"
  ensure_balancer_test_dependencies
  ensure_dns_test_dependencies
  ensure_database_dependencies
  ensure_cache_dependencies
  ensure_s3_test_server
  ensure_s3_clients
}
