"""How every component of this project is built: our own image, nothing installed at run time."""

import functools

from kfp import dsl

# What the spec names when compile.py is given no --image: the local tag of the components image
# (`docker build -f components/Dockerfile -t salary-components:dev .`). Cloud Build passes the Artifact Registry URI instead.
DEFAULT_IMAGE = "salary-components:dev"

# The image already has kfp and this project installed, so the executor installs nothing.
salary_component = functools.partial(dsl.component, base_image=DEFAULT_IMAGE, install_kfp_package=False)
