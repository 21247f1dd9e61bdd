"""The project's tests, in one folder per layer; shared helpers in tests.support."""
