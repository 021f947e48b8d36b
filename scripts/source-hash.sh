#!/usr/bin/env bash
# Print the SHA-256 of pyrt's sources, exactly as build.rs computes it into the library
# (pyrt_source_hash()): sha256 of the `sha256sum` manifest of Cargo.toml, Cargo.lock, build.rs,
# cbindgen.toml and src/**/*.rs, in bytewise path order.
set -euo pipefail
cd "$(dirname "$0")/.."
{ ls Cargo.toml Cargo.lock build.rs cbindgen.toml 2>/dev/null; find src -name '*.rs' -type f; } |
  LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1
