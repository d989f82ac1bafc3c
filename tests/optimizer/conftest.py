"""The optimizer's tests talk real HTTP on loopback (the companion service).

The Home Assistant test plugin blocks sockets for every test; these tests run no
Home Assistant, so they get sockets back after that plugin's setup.
"""

from __future__ import annotations

import pytest
import pytest_socket


@pytest.hookimpl(trylast=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    pytest_socket.enable_socket()
