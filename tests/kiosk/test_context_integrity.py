"""The station's ledger is integrity-checked when asked (station start), not on every
command: a full check reads every page (680 ms at 100k events, issue 15)."""

from __future__ import annotations


def test_opening_the_context_does_not_check_unless_asked(tmp_path, monkeypatch):
    from kiosk import context
    from kiosk.demo import demo_config

    calls: list[str] = []
    monkeypatch.setattr(context, "check_integrity", lambda _e, mode: calls.append(mode))
    config = demo_config(tmp_path)
    context.open_engine(config).dispose()
    context.open_engine(config, integrity="quick").dispose()
    assert calls == ["quick"]
