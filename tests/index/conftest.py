"""Fixtures shared by the index tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def fake_model(monkeypatch, fake_embedder):
    """Make the CLI embed with the fake embedder instead of loading the real model."""
    for module in ("index.build", "index.update"):
        monkeypatch.setattr(f"{module}.make_embedder", lambda settings, progress=True: fake_embedder)
    return fake_embedder
