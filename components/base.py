"""How every component of this project is built: our own image, nothing installed at run time."""

import functools

from kfp import dsl

from salary.defaults import COMPONENTS_IMAGE

# The image already has kfp and this project installed, so the executor installs nothing.
salary_component = functools.partial(dsl.component, base_image=COMPONENTS_IMAGE, install_kfp_package=False)
