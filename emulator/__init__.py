"""A local Betfair exchange: stream server, REST server and matching over replayed recordings."""
