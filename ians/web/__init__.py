"""The HTTP API: app factory, authentication, routes and the OpenAPI description."""
