"""Tests of the salary library: data, modeling, the model codec and the model store."""
