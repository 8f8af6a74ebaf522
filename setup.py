"""The one compiled part of hall, ``hall/_chain.c`` (the journal's hash chain, a batch a call:
its comment says why); everything else about the project is in pyproject.toml. It links
OpenSSL's libcrypto, whose headers come with Debian's ``libssl-dev``."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("hall._chain", ["hall/_chain.c"], libraries=["crypto"])])
