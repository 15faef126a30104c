"""Shared fixtures: MockFactory pins (gpiozero style)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gpiozero.pins.mock import MockFactory

from hardware.simulator import SimPin


@pytest.fixture
def mock_factory() -> Iterator[MockFactory]:
    factory = MockFactory(pin_class=SimPin)
    yield factory
    factory.reset()
