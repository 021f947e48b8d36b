#!/usr/bin/env bash
# Each host's install-and-use path, as a user outside this repository would follow it:
#
#   c (pkg-config)     `make install PREFIX=<tmp>`, then `cc app.c $(pkg-config --cflags --libs
#                      pyrt)` (tests/install/app.c) and run it; checks the soname, the links, the
#                      recorded DT_NEEDED and the pkg-config metadata
#   c (DESTDIR)        a staged `make install DESTDIR=... PREFIX=/usr LIBDIR=...` and `make uninstall`
#   rust (crate)       examples/rust, a crate depending on pyrt (`cargo run -p pyrt-example`), with
#                      the libpython given as an argument and through $PYRT_LIBPYTHON
#   go (module)        tests/install/main.go in a temporary module outside the repository that
#                      requires the Go binding (a replace directive points at this checkout; go mod
#                      tidy resolves the rest through the module proxy), built with CGO_ENABLED=0
#                      and run with no PYRT_* variables: libpyrt must be the copy embedded in the
#                      module (loaded from memory), libpython found by discovery
#   node (npm package) `npm pack` of bindings/node installed into a temporary project (koffi from
#                      the npm cache/registry), libpyrt from `make install` into a temporary prefix
#                      on LD_LIBRARY_PATH (found by its soname; no PYRT_LIBRARY), tests/install/app.js
#   C quick start (throwaway prefix)
#                      README.md's quick starts, taken from README.md when the check runs and run
#                      as written: its "C, installed, with pkg-config" block from the repository
#                      root with HOME a temporary directory, building its "C quick start" program
#                      (written to app.c there, removed afterwards); no PYRT_* variables
#   quick starts as root (/usr/local)
#                      as root, when /usr/local holds no pyrt (else SKIP): the Node block's `make
#                      install` with the default prefix (it must run ldconfig), the C program built
#                      with the block's pkg-config line and run with no environment, the Node block
#                      in a new project and its js block as app.js; then `make uninstall` + ldconfig
#                      and nothing pyrt left in /usr/local
#
# Each check runs once; the first five with the first CPython of scripts/pythons.sh, the quick
# starts with the libpython discovered from the python3 on PATH, as a user's would be. Output: one
# line per check, then "N passed, N failed, N skipped". Results for scripts/test.sh:
# build/install/results.tsv (once <check> PASS|FAIL|SKIP <detail>); a SKIP is not a pass.
# Logs: build/install/logs/<check>.log.
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH="$HOME/.cargo/bin:$PATH:/usr/local/go/bin"
if (($#)); then export PYRT_TEST_PYTHONS="$*"; fi

OUT=$ROOT/build/install
LOGS=$OUT/logs
RESULTS=$OUT/results.tsv
rm -rf "$LOGS"
mkdir -p "$LOGS"
: >"$RESULTS"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/pyrt-install.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

fail_early() {
  echo "$1"
  printf 'once\tsetup\tFAIL\t%s\n' "$1" >>"$RESULTS"
  echo "0 passed, 1 failed"
  exit 1
}

mapfile -t PYTHONS < <(scripts/pythons.sh)
((${#PYTHONS[@]})) || fail_early "no CPython found by scripts/pythons.sh"
LIBPYTHON=${PYTHONS[0]#* }
echo "== install checks with ${PYTHONS[0]%% *} ($LIBPYTHON)"

echo "== building libpyrt.so (make lib)"
make --no-print-directory lib >"$LOGS/build.log" 2>&1 || { tail -20 "$LOGS/build.log"; fail_early "BUILD FAILED"; }
VERSION=$(sed -n 's/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -n 1)

# A check function returns SKIP_RC after printing "SKIP <why>" when it cannot run here.
SKIP_RC=77
check() {  # name function -> runs the function with its output in the log
  local name=$1 fn=$2 log="$LOGS/${1//[ \/()]/_}.log" status=PASS detail="" start=$SECONDS rc
  # Not inside `if` or `||`: there bash ignores set -e, and a failed step (a want, a build) in
  # the middle of a function would not fail the check.
  (set -e; "$fn") >"$log" 2>&1
  rc=$?
  if ((rc == SKIP_RC)); then
    status=SKIP
    detail=$(sed -n 's/^SKIP //p' "$log" | head -n 1)
  elif ((rc != 0)); then
    status=FAIL
    # a want's FAIL line first, before any error message the check printed on the way
    detail=$(grep -m1 '^FAIL' "$log" || grep -m1 -E 'FAIL|error|Error' "$log" || tail -1 "$log")
  fi
  printf '  %-34s %-5s %4ss  %s\n' "$name" "$status" "$((SECONDS - start))" "$detail"
  printf 'once\t%s\t%s\t%s\n' "$name" "$status" "$detail" >>"$RESULTS"
}

# want <description> <got> <expected>
want() {
  if [[ $2 != "$3" ]]; then
    echo "FAIL $1: got '$2', want '$3'"
    return 1
  fi
  echo "ok   $1: $2"
}

# readme_block <line start> <fence language>: the first ```<language> block after the README.md
# line that starts with <line start> (a heading), before any further heading. The quick-start
# checks run what this prints, so the README and the test cannot drift apart.
readme_block() {
  awk -v h="$1" -v fence='```'"$2" '
    !seen { if (index($0, h) == 1) seen = 1; next }
    !on && /^(#|\*\*)/ { exit }
    !on && $0 == fence { on = 1; next }
    on && $0 == "```" { exit }
    on { print }' "$ROOT/README.md"
}

c_pkg_config() {
  local prefix=$TMP/prefix soname pc=$TMP/prefix/lib/pkgconfig
  make --no-print-directory install PREFIX="$prefix"
  soname=libpyrt.so.$(cut -d. -f1 <<<"$VERSION")
  [[ $VERSION == 0.* ]] && soname=libpyrt.so.0.$(cut -d. -f2 <<<"$VERSION")
  want "soname of the installed library" \
    "$(readelf -d "$prefix/lib/libpyrt.so.$VERSION" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')" "$soname"
  want "libpyrt.so ->" "$(readlink "$prefix/lib/libpyrt.so")" "$soname"
  want "$soname ->" "$(readlink "$prefix/lib/$soname")" "libpyrt.so.$VERSION"
  cmp include/pyrt.h "$prefix/include/pyrt.h"
  want "pkg-config --modversion" "$(PKG_CONFIG_PATH=$pc pkg-config --modversion pyrt)" "$VERSION"
  # Build exactly as a user would, from a directory outside the repository.
  mkdir -p "$TMP/app"
  cp tests/install/app.c "$TMP/app/app.c"
  (
    cd "$TMP/app"
    flags=$(PKG_CONFIG_PATH=$pc pkg-config --cflags --libs pyrt)
    echo "cc app.c $flags -o app"
    # shellcheck disable=SC2086
    cc -std=c99 -Wall -Wextra -Werror app.c $flags -o app
  )
  want "DT_NEEDED of the program" \
    "$(readelf -d "$TMP/app/app" | sed -n 's/.*Shared library: \[\(libpyrt[^]]*\)\]/\1/p')" "$soname"
  # The prefix is not in the linker's search path: without LD_LIBRARY_PATH (or an rpath) the
  # program must not start, and with it the installed copy must be the one loaded.
  if (cd "$TMP/app" && ./app) 2>"$TMP/app/noenv.err"; then
    echo "FAIL the program started without LD_LIBRARY_PATH: it found a libpyrt outside the prefix"
    return 1
  fi
  grep -q "$soname" "$TMP/app/noenv.err" && echo "ok   without LD_LIBRARY_PATH: $(cat "$TMP/app/noenv.err")"
  want "libpyrt resolved by ldd" \
    "$(LD_LIBRARY_PATH=$prefix/lib ldd "$TMP/app/app" | awk -v s="$soname" '$1 == s { print $3 }')" \
    "$prefix/lib/$soname"
  out=$(cd "$TMP/app" && LD_LIBRARY_PATH=$prefix/lib PYRT_LIBPYTHON=$LIBPYTHON ./app)
  echo "$out"
  want "app output" "$(tail -n 1 <<<"$out")" "OK"
  want "app loaded the installed library" "$(head -n 1 <<<"$out")" \
    "pyrt $VERSION ($(scripts/source-hash.sh))"
  make --no-print-directory uninstall PREFIX="$prefix"
  left=$(find "$prefix" -type f -o -type l)
  want "files left after make uninstall" "$left" ""
}

c_destdir() {
  local stage=$TMP/stage multi
  multi=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
  make --no-print-directory install DESTDIR="$stage" PREFIX=/usr LIBDIR="/usr/lib/$multi"
  for f in "usr/lib/$multi/libpyrt.so" "usr/lib/$multi/libpyrt.so.$VERSION" "usr/include/pyrt.h" \
           "usr/lib/$multi/pkgconfig/pyrt.pc"; do
    [[ -e $stage/$f ]] || { echo "FAIL missing $stage/$f"; return 1; }
    echo "ok   $f"
  done
  want "pyrt.pc prefix" "$(sed -n 's/^prefix=//p' "$stage/usr/lib/$multi/pkgconfig/pyrt.pc")" "/usr"
  want "pyrt.pc libdir" "$(sed -n 's/^libdir=//p' "$stage/usr/lib/$multi/pkgconfig/pyrt.pc")" "\${prefix}/lib/$multi"
  make --no-print-directory uninstall DESTDIR="$stage" PREFIX=/usr LIBDIR="/usr/lib/$multi"
  want "files left after make uninstall" "$(find "$stage" -type f -o -type l)" ""
}

rust_example() {
  cargo build --release -p pyrt-example
  local out
  out=$(env -u PYRT_LIBPYTHON target/release/pyrt-example "$LIBPYTHON")
  echo "$out"
  grep -q "^pyrt $VERSION running Python .* from $LIBPYTHON\$" <<<"$out" || { echo "FAIL banner"; return 1; }
  want "sqrt line" "$(grep '^math.sqrt(16.0)' <<<"$out")" "math.sqrt(16.0) = 4"
  want "describe line" "$(grep '^describe' <<<"$out")" "describe(...) = mean 5, stdev 2.1381, median 4.5"
  want "counter line" "$(grep '^Counter' <<<"$out")" 'Counter.most_common(2) = [("a", 8), ("b", 2)]'
  want "error line" "$(grep 'sqrt(-1.0)' <<<"$out")" "math.sqrt(-1.0) raised ValueError: math domain error"
  out=$(PYRT_LIBPYTHON=$LIBPYTHON target/release/pyrt-example)
  grep -q "from $LIBPYTHON\$" <<<"$out" || { echo "FAIL with \$PYRT_LIBPYTHON: $out"; return 1; }
  echo "ok   with \$PYRT_LIBPYTHON"
}

go_module() {
  local dir=$TMP/goapp out emb
  command -v go >/dev/null || { echo "FAIL go not found"; return 1; }
  mkdir -p "$dir"
  cp tests/install/main.go "$dir/main.go"
  printf 'module example.com/goapp\n\ngo 1.25\n\nrequire github.com/pyrt-dev/pyrt/bindings/go v0.0.0\n\nreplace github.com/pyrt-dev/pyrt/bindings/go => %s\n' \
    "$ROOT/bindings/go" >"$dir/go.mod"
  (cd "$dir" && GOWORK=off go mod tidy)
  (cd "$dir" && GOWORK=off CGO_ENABLED=0 go build -o app .)
  out=$(cd "$dir" && env -u PYRT_LIBRARY -u PYRT_LIBPYTHON ./app)
  echo "$out"
  emb=$(sed -n 's/^\t*sha256: *"\([0-9a-f]*\)",/\1/p' bindings/go/embed_linux_amd64.go)
  want "libpyrt" "$(sed -n 's/^libpyrt: //p' <<<"$out")" \
    "libpyrt $VERSION embedded for linux/amd64 (sha256 ${emb:0:12}), loaded from memory"
  want "sqrt" "$(grep '^math.sqrt' <<<"$out")" "math.sqrt(16.0) = 4"
  want "exception" "$(grep '^1/0' <<<"$out")" "1/0 raised ZeroDivisionError"
}

node_package() {
  local dir=$TMP/nodeapp prefix=$TMP/nodeprefix tgz out soname
  command -v npm >/dev/null || { echo "FAIL npm not found"; return 1; }
  make --no-print-directory install PREFIX="$prefix"
  mkdir -p "$dir"
  tgz=$(cd bindings/node && npm pack --silent --pack-destination "$dir")
  echo "packed $tgz"
  tar -tzf "$dir/$tgz" | sort | tr '\n' ' '
  echo
  cp tests/install/app.js "$dir/app.js"
  printf '{"name": "nodeapp", "version": "1.0.0", "private": true}\n' >"$dir/package.json"
  (cd "$dir" && npm install --ignore-scripts --prefer-offline --no-audit --no-fund "./$tgz")
  soname=libpyrt.so.$(cut -d. -f1 <<<"$VERSION")
  [[ $VERSION == 0.* ]] && soname=libpyrt.so.0.$(cut -d. -f2 <<<"$VERSION")
  out=$(cd "$dir" && env -u PYRT_LIBRARY LD_LIBRARY_PATH="$prefix/lib" PYRT_LIBPYTHON="$LIBPYTHON" node app.js)
  echo "$out"
  want "libpyrt" "$(sed -n 's/^libpyrt: //p' <<<"$out")" "$soname $VERSION $(scripts/source-hash.sh)"
  want "python" "$(sed -n 's/^python: [^ ]* //p' <<<"$out")" "$LIBPYTHON"
  want "sqrt" "$(grep '^math.sqrt' <<<"$out")" "math.sqrt(16) = 4"
  want "exception" "$(grep '^1/0' <<<"$out")" "1/0 raised ZeroDivisionError"
}

# The README's "C, installed, with pkg-config" block run verbatim from the repository root (where
# it runs `make install`), with the README's C program as app.c there and HOME a temporary
# directory, so its $HOME/.local is thrown away. Nothing pyrt-specific is set: libpython is
# found by discovery (the python3 on PATH).
quickstart_c_prefix() {
  local home=$TMP/home code block out
  code=$(readme_block '## C quick start' c)
  block=$(readme_block '**C, installed, with pkg-config**' sh)
  [[ -n $code && -n $block ]] || { echo "FAIL a quick-start snippet is missing from README.md"; return 1; }
  if [[ -e $ROOT/app.c || -e $ROOT/app ]]; then
    echo "FAIL $ROOT/app.c or $ROOT/app exists: not overwriting it"
    return 1
  fi
  trap 'rm -f "$ROOT/app.c" "$ROOT/app"' EXIT
  printf '%s\n' "$code" >"$ROOT/app.c"
  mkdir -p "$home"
  printf '%s\n' "$block"
  # Only ~/.local moves: cargo and rustup keep the toolchain where this user has it.
  out=$(cd "$ROOT" && env -u PYRT_LIBPYTHON -u PYRT_LIBRARY -u PKG_CONFIG_PATH -u LD_LIBRARY_PATH \
    CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}" RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}" \
    HOME="$home" bash -e -c "$block") || { echo "$out"; echo "FAIL the block failed"; return 1; }
  echo "$out"
  [[ -e $home/.local/lib/pkgconfig/pyrt.pc ]] || { echo "FAIL nothing installed under \$HOME/.local"; return 1; }
  want "sqrt line" "$(grep '^math.sqrt' <<<"$out")" "math.sqrt(16.0) = 4.0"
  want "add line" "$(grep '^add(' <<<"$out")" "add(2, 3) = 5"
  want "exception line" "$(grep 'ZeroDivisionError' <<<"$out")" "ZeroDivisionError: division by zero"
}

# As root, the quick starts with the default prefix, as on a fresh machine: the Node block's
# `make install` (into /usr/local, which must run ldconfig), the README's C program built with
# the pkg-config line and run with no environment, then the rest of the Node block in a new
# project directory (/path/to/pyrt replaced by this checkout: the only substitution) and the js
# block as app.js. Always uninstalled afterwards; skipped unless root and /usr/local holds no pyrt.
quickstart_root() {
  local dir=$TMP/root code cc_line node_block install_line rest js out mapped
  local lib=/usr/local/lib inc=/usr/local/include pc=/usr/local/lib/pkgconfig
  if (($(id -u) != 0)); then echo "SKIP not root (installs into /usr/local)"; return "$SKIP_RC"; fi
  # Another run of this check (another checkout) would install over this one.
  exec 9>"${TMPDIR:-/tmp}/pyrt-install-root.lock"
  flock -w 900 9 || { echo "FAIL another install test held /usr/local for 15 minutes"; return 1; }
  if compgen -G "$lib/libpyrt*" >/dev/null || [[ -e $inc/pyrt.h || -e $pc/pyrt.pc ]]; then
    echo "SKIP pyrt is already installed under /usr/local (left as it is)"
    return "$SKIP_RC"
  fi
  # (Not grep -q: under pipefail, ldconfig killed by SIGPIPE would fail the test.)
  if ldconfig -p | grep libpyrt >/dev/null; then
    echo "SKIP a libpyrt is already in the loader's cache: $(ldconfig -p | grep -m1 libpyrt)"
    return "$SKIP_RC"
  fi
  code=$(readme_block '## C quick start' c)
  cc_line=$(readme_block '**C, installed, with pkg-config**' sh | grep '^cc ')
  node_block=$(readme_block '**Node.js**' sh)
  js=$(readme_block '**Node.js**' js)
  install_line=$(grep '^make install' <<<"$node_block")
  rest=$(grep -v '^make install' <<<"$node_block")
  rest=${rest//\/path\/to\/pyrt/$ROOT}
  if [[ -z $code || -z $cc_line || -z $install_line || $rest != *"$ROOT/bindings/node"* || -z $js ]]; then
    echo "FAIL a quick-start snippet is missing from README.md (or has changed shape)"
    return 1
  fi
  # make uninstall leaves directories, as is usual; those this check created go too (global:
  # the trap runs after the function's locals are gone).
  QS_CREATED=()
  for d in "$lib" "$inc" "$pc"; do [[ -d $d ]] || QS_CREATED+=("$d"); done
  trap 'make --no-print-directory -C "$ROOT" uninstall >/dev/null 2>&1; ldconfig
        for ((i = ${#QS_CREATED[@]} - 1; i >= 0; i--)); do rmdir "${QS_CREATED[i]}" 2>/dev/null; done' EXIT
  unset PYRT_LIBPYTHON PYRT_LIBRARY PKG_CONFIG_PATH LD_LIBRARY_PATH

  echo "\$ $install_line"
  out=$(cd "$ROOT" && bash -e -c "$install_line") || { echo "$out"; echo "FAIL make install"; return 1; }
  echo "$out"
  want "make install ran ldconfig" "$(grep '^ran ldconfig' <<<"$out")" \
    "ran ldconfig: $lib is on the loader's search path"

  mkdir -p "$dir/c" "$dir/node"
  printf '%s\n' "$code" >"$dir/c/app.c"
  echo "\$ $cc_line"
  out=$(cd "$dir/c" && bash -e -c "$cc_line") || { echo "$out"; echo "FAIL the C program"; return 1; }
  echo "$out"
  want "C: libpyrt resolved by ldd" "$(ldd "$dir/c/app" | awk '$1 ~ /^libpyrt/ { print $3 }')" \
    "$lib/$(readelf -d "$lib/libpyrt.so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')"
  want "C: sqrt line" "$(grep '^math.sqrt' <<<"$out")" "math.sqrt(16.0) = 4.0"
  want "C: add line" "$(grep '^add(' <<<"$out")" "add(2, 3) = 5"
  want "C: exception line" "$(grep 'ZeroDivisionError' <<<"$out")" "ZeroDivisionError: division by zero"

  echo "\$ $rest"
  (cd "$dir/node" && bash -e -c "$rest")
  printf '%s\n' "$js" >"$dir/node/app.js"
  out=$(cd "$dir/node" && node app.js) || { echo "$out"; echo "FAIL node app.js"; return 1; }
  echo "$out"
  want "Node: app.js output" "$out" "4"
  # Which libpyrt the binding loaded: the installed one, through the loader's cache.
  mapped=$(cd "$dir/node" && node -e "const { Runtime } = require('pyrt'); new Runtime().close();
    const m = require('fs').readFileSync('/proc/self/maps', 'utf8').match(/\/\S*libpyrt\S*/);
    console.log(m ? m[0] : 'none')")
  want "Node: libpyrt mapped" "$mapped" "$(readlink -f "$lib/libpyrt.so")"

  make --no-print-directory uninstall
  ldconfig
  want "pyrt files left under /usr/local" \
    "$(find /usr/local -path /usr/local/go -prune -o \( -name 'libpyrt*' -o -name pyrt.h -o -name pyrt.pc \) -print)" ""
  want "libpyrt in the loader's cache" "$(ldconfig -p | grep libpyrt || true)" ""
}

check "c (pkg-config)" c_pkg_config
check "c (DESTDIR, uninstall)" c_destdir
check "rust (crate)" rust_example
check "go (module, embedded libpyrt)" go_module
check "node (npm package)" node_package
check "C quick start (throwaway prefix)" quickstart_c_prefix
check "quick starts as root (/usr/local)" quickstart_root

# A skipped check is neither passed nor failed; it is counted and its reason is on its line.
passed=$(awk -F'\t' '$3 == "PASS"' "$RESULTS" | wc -l)
skipped=$(awk -F'\t' '$3 == "SKIP"' "$RESULTS" | wc -l)
failed=$(awk -F'\t' '$3 != "PASS" && $3 != "SKIP"' "$RESULTS" | wc -l)
if ((failed)); then
  echo
  echo "Failures (logs in build/install/logs/):"
  for log in "$LOGS"/*.log; do
    grep -q '^FAIL' "$log" && grep '^FAIL' "$log" | sed "s|^|  [$(basename "$log" .log)] |"
  done
fi
echo "$passed passed, $failed failed, $skipped skipped"
((failed == 0))
