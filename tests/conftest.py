"""Settings for every test directory."""

from hypothesis import settings

# Two cores shared by the whole suite (pytest -n 2, a Home Assistant per test): a
# property's examples are judged by what they return, never by how fast they ran.
settings.register_profile("evflex", deadline=None, print_blob=True)
settings.load_profile("evflex")
