"""The sync relay: pushes the kiosk's event chain to the central incident log.

``kiosk sync`` runs it as a process of its own, so a slow or absent network never touches
a tap or a door: it reads the transactional outbox in short read transactions, sends
batches over HTTPS with no database transaction open, then marks them sent in a short
write transaction. Modules, each small and named for what it does:

- :mod:`kiosk.sync.config`   the ``[sync]`` table of the kiosk TOML and the credential file
- :mod:`kiosk.sync.outbox`   reading pending rows in chain order, marking sent/quarantined
- :mod:`kiosk.sync.batch`    building an :class:`wire.IngestBatch` with its reference data
- :mod:`kiosk.sync.client`   the HTTP client with retries (tenacity), proxies, CA bundle
- :mod:`kiosk.sync.anchor`   the central log's acknowledged (seq, hash), file + DB copy
- :mod:`kiosk.sync.relay`    the drain loop and what each refusal does
- :mod:`kiosk.sync.status`   backlog, last success, quarantine; the staff-screen banner
- :mod:`kiosk.sync.cli`      ``kiosk sync``, ``kiosk sync --once``, ``kiosk sync status``

This package's ``__init__`` imports nothing, so ``kiosk.config`` can use the config model
without pulling in httpx.
"""
