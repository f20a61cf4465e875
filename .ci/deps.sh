#!/usr/bin/env bash
# Installs the programs chartd's handlers and tests shell out to (PostgreSQL, GnuPG, tar and
# compressors, curl and openssl, ansible-playbook for the recipes, scikit-learn for the model
# export), Chromium for the dashboard's browser tests and promtool (Debian's prometheus package) for the
# checks of /metrics and the alert rules, HAProxy for the replicas behind a load balancer, on Debian/Ubuntu; quiet, idempotent, and a no-op when everything is
# present. `npm test` runs it first (the pretest script): as root, or with sudo that asks for no password, it
# installs what is missing; otherwise it stops at once, naming each missing tool and the one command that installs them.
set -euo pipefail
# A user's PATH on Debian lacks the sbin directories, where runuser is; the tests find it there too.
PATH="$PATH:/usr/sbin:/sbin"

# command -> Debian package that provides it
declare -A PACKAGE_OF=(
  [pg_dump]=postgresql-client
  [psql]=postgresql-client
  [gpg]=gnupg
  [gpgconf]=gnupg
  [gpg-agent]=gpg-agent
  [tar]=tar
  [gzip]=gzip
  [bzip2]=bzip2
  [xz]=xz-utils
  [runuser]=util-linux
  [setpriv]=util-linux
  [curl]=curl
  [openssl]=openssl
  [bash]=bash
  [awk]=gawk
  [chromium]=chromium
  [ansible-playbook]=ansible
  [promtool]=prometheus
  [haproxy]=haproxy
)

# package -> what of it is missing, as the messages name it
declare -A MISSING=()
missing() {
  MISSING[$1]="${MISSING[$1]:+${MISSING[$1]}, }$2"
}

# initdb and pg_ctl are not on PATH in Debian's packaging; the test fixture also looks here.
has_server() {
  command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 && return 0
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null && compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null
}

# The model-export test trains a tree with the system's scikit-learn, which may not be the first python3 on PATH.
has_sklearn() {
  local python
  for python in python3 /usr/bin/python3; do
    command -v "$python" >/dev/null 2>&1 && "$python" -c 'import sklearn' >/dev/null 2>&1 && return 0
  done
  return 1
}

for program in $(printf '%s\n' "${!PACKAGE_OF[@]}" | sort); do
  command -v "$program" >/dev/null 2>&1 || missing "${PACKAGE_OF[$program]}" "$program"
done
has_server || missing postgresql 'initdb and pg_ctl'
# Chromium only recommends a font; without one the dashboard's screenshots have no legible text.
[ -d /usr/share/fonts/truetype/liberation ] || missing fonts-liberation 'a font for Chromium'
has_sklearn || missing python3-sklearn "python3's sklearn"
# Running as root, the test fixture runs initdb/postgres as this user (they refuse to run as root).
if [ "$(id -u)" = 0 ] && ! id -u postgres >/dev/null 2>&1; then missing postgresql 'the postgres user'; fi

if [ "${#MISSING[@]}" -eq 0 ]; then
  echo "deps: all present"
else
  packages=$(printf '%s\n' "${!MISSING[@]}" | sort | tr '\n' ' ')
  what=$(for package in $packages; do printf '%s (%s); ' "${MISSING[$package]}" "$package"; done)
  if [ "$(id -u)" = 0 ]; then
    as_root=()
  elif command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then
    as_root=(sudo -n)
  else
    script="${BASH_SOURCE[0]:-}"
    [ -f "$script" ] && script=$(cd "$(dirname "$script")" && pwd)/$(basename "$script") || script=.ci/deps.sh
    {
      echo "deps: the tests need what is missing here: ${what%; }"
      if command -v apt-get >/dev/null 2>&1; then
        echo "deps: this user cannot install it; as root, run once (then npm test again):"
        echo "  $(command -v sudo >/dev/null 2>&1 && echo 'sudo ')bash $script"
      else
        echo "deps: this is not a Debian/Ubuntu machine: install those packages (Debian's names) with its package manager"
      fi
    } >&2
    exit 1
  fi
  echo "deps: installing $packages(for ${what%; })"
  # Tests start their own throwaway clusters, so the package's default cluster is not wanted.
  "${as_root[@]}" mkdir -p /etc/postgresql-common
  if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
    echo 'create_main_cluster = false' | "${as_root[@]}" tee /etc/postgresql-common/createcluster.conf >/dev/null
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get update -qq
  # shellcheck disable=SC2086 # word splitting of the package list is intended
  "${as_root[@]}" apt-get install -y -qq --no-install-recommends $packages >/dev/null
  echo "deps: installed $packages"
fi

# The oldest Node every dependency (development ones included) supports: package.json's engines.
node_ok=$(node -p 'const [a, b] = process.versions.node.split(".").map(Number); a > 20 || (a === 20 && b >= 19) ? 1 : 0' 2>/dev/null || echo 0)
if [ "$node_ok" != 1 ]; then
  echo "deps: Node.js >= 20.19 is required (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi
