"""The server: rooms (the sans-I/O round machine), their drivers and the hub, the WebSocket
endpoint, the HTTP API, and the application that puts them together (:func:`create_app`)."""
