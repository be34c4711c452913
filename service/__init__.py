"""The aiohttp application: app factory, routes, handlers, middlewares and the command line."""
