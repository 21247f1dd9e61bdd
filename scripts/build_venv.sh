#!/bin/sh
# The build stage of both images: /opt/venv gets the pinned dependencies of one requirements file and
# this project's wheel with the named packages only. The venv has no pip or setuptools of its own and the
# build tools stay in the build stage, so nothing can be pip-installed at run time.
# Usage, from the source root inside a Dockerfile build stage: sh scripts/build_venv.sh REQUIREMENTS PACKAGE...
set -eu
requirements=$1
shift
export PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
python -m venv --without-pip /opt/venv
pip --python /opt/venv/bin/python install -r "$requirements" -c constraints.txt
pip install -r requirements-build.txt -c constraints.txt
sh scripts/build_wheel.sh /tmp/wheels "$@"
pip --python /opt/venv/bin/python install --no-deps /tmp/wheels/*.whl
