#!/bin/sh
# The build stage of both images: /opt/venv gets the pinned dependencies of one requirements file and
# this project's wheel. The venv has no pip or setuptools of its own and the build tools stay in the
# build stage, so nothing can be pip-installed at run time.
# Usage, from the source root inside a Dockerfile build stage: sh scripts/build_venv.sh REQUIREMENTS
set -eu
requirements=$1
export PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
python -m venv --without-pip /opt/venv
pip --python /opt/venv/bin/python install -r "$requirements" -c constraints.txt
pip install -r requirements-build.txt -c constraints.txt
pip wheel --no-deps --no-build-isolation --wheel-dir /tmp/wheels .
pip --python /opt/venv/bin/python install --no-deps /tmp/wheels/*.whl
