"""The client side: scripted bots that speak the WebSocket protocol as a browser does
(:mod:`.bot`, over :mod:`.link`), their timing, and the facilitator API client."""
