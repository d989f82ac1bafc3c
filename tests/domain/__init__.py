"""Pure domain models of the integration (session, accounts), tested without Home Assistant."""
