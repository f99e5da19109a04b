"""Scenario generator: synthetic recordings in Betfair's stream format for cases real data lacks."""
