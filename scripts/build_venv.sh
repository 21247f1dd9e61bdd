#!/bin/sh
# The build stage of both images, in two steps so the dependencies are a layer of their own that a
# source change does not rebuild:
#   sh scripts/build_venv.sh deps REQUIREMENTS          /opt/venv gets the pinned dependencies (before the source is copied)
#   sh scripts/build_venv.sh project PACKAGE...         /opt/venv gets this project's wheel with the named packages only (after)
# The venv has no pip or setuptools of its own and the build tools stay in the build stage, so nothing
# can be pip-installed at run time.
set -eu
export PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
case ${1:-} in
  deps)
    python -m venv --without-pip /opt/venv
    pip --python /opt/venv/bin/python install -r "$2" -c constraints.txt
    pip install -r requirements-build.txt -c constraints.txt
    ;;
  project)
    shift
    sh scripts/build_wheel.sh /tmp/wheels "$@"
    pip --python /opt/venv/bin/python install --no-deps /tmp/wheels/*.whl
    ;;
  *)
    echo "usage: build_venv.sh deps REQUIREMENTS | project PACKAGE..." >&2
    exit 2
    ;;
esac
