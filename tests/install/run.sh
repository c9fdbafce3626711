#!/bin/sh
# run.sh - the install_package test: installs the current build tree into a temporary prefix,
# then builds and runs a consumer program against it two ways, with CMake's find_package(vas)
# (vas::vas and vas::vas_static) and with `pkg-config --cflags --libs vas`.
#   run.sh CMAKE BUILD_DIR CONSUMER_DIR C_COMPILER [CFLAGS]
# Exits 77 (ctest SKIP_RETURN_CODE) when pkg-config is missing, after the CMake half passed.
set -eu
cmake_command=$1 build_dir=$2 consumer_dir=$3 cc=$4 cflags=${5:-}
work=$(mktemp -d "${TMPDIR:-/tmp}/vas-install.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

echo "== cmake --install $build_dir --prefix $prefix"
"$cmake_command" --install "$build_dir" --prefix "$prefix" > "$work/install.log" ||
    { cat "$work/install.log"; exit 1; }
for f in include/vas.h; do
    test -f "$prefix/$f" || { echo "missing after install: $f"; exit 1; }
done
config=$(find "$prefix" -name vasConfig.cmake | head -n 1)
pc=$(find "$prefix" -name vas.pc | head -n 1)
test -n "$config" || { echo "missing after install: vasConfig.cmake"; exit 1; }
test -n "$pc" || { echo "missing after install: vas.pc"; exit 1; }
libdir=$(dirname "$(dirname "$pc")")

echo "== find_package(vas)"
"$cmake_command" -S "$consumer_dir" -B "$work/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="$cflags" -DCMAKE_BUILD_TYPE=Release > "$work/configure.log" ||
    { cat "$work/configure.log"; exit 1; }
"$cmake_command" --build "$work/cmake-build" > "$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
"$work/cmake-build/consumer"
"$work/cmake-build/consumer_static"

echo "== pkg-config --cflags --libs vas"
if ! command -v pkg-config > /dev/null 2>&1; then
    echo "pkg-config not found: the pkg-config half is skipped"
    exit 77
fi
PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_PATH
flags=$(pkg-config --cflags --libs vas)
echo "pkg-config: $flags"
# shellcheck disable=SC2086 # the flags are meant to split
"$cc" $cflags "$consumer_dir/consumer.c" $flags -o "$work/consumer_pc"
LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} "$work/consumer_pc"
# shellcheck disable=SC2046,SC2086 # and statically, with --static for the private libraries
"$cc" $cflags "$consumer_dir/consumer.c" $(pkg-config --cflags vas) \
    $(pkg-config --static --libs vas | sed "s|-lvas\\b|$libdir/libvas.a|") -o "$work/consumer_pc_static"
"$work/consumer_pc_static"
echo "install_package: passed"
