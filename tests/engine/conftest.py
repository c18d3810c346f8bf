"""Fixtures of the matching-engine tests (#19): markets matched by the engine."""
import pytest


@pytest.fixture
def engine_mode(settings):
    """Every market matched by the engine."""
    settings.ORDER_MATCHING = "engine"
    return settings
