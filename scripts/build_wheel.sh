#!/bin/sh
# This project's wheel holding only the named packages, so that an image carries only the code it runs
# (the web app's: salary and webapp, no components or pipeline code).
# Usage, from the source root: sh scripts/build_wheel.sh WHEEL_DIR PACKAGE...
set -eu
wheel_dir=$1
shift
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp pyproject.toml "$stage/"
for package in "$@"; do
    cp -R "$package" "$stage/$package"
done
pip wheel --no-deps --no-build-isolation --wheel-dir "$wheel_dir" "$stage"
