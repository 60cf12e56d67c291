"""Fixtures of the scene tests: one torch thread per test module (the annotate tests' fixture)."""
from tests.annotate.conftest import single_torch_thread  # noqa: F401  (autouse, module scope)
