"""The central incident log: where every station's records land and the DSL acts on them.

A service for one school or a whole trust (issue 12). It receives batches of hash-chained
events from kiosks over the ingest API, checks each station's chain, keeps the anchor the
kiosk holds, and puts incidents and safeguarding events in the DSL's tray. It imports only
``wire`` of ours: the kiosk and the central log share the wire format and nothing else.
"""
