# Sourced by the scripts: sets CARGO_TARGET_DIR (unless already set) to a directory outside
# the clone, so later runs and CI reuse compiled dependencies. It is keyed by the checkout's
# path: binaries embed their crate's path (CARGO_MANIFEST_DIR), so two checkouts sharing one
# target dir could run each other's binaries against the wrong files.
checkout_key="$(pwd | cksum | cut -d' ' -f1)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/spool-target/$checkout_key}"
