"""Tests of the tree as a whole: the layers, the docs and the Makefile, the local demo scripts."""
