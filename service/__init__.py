"""The aiohttp application: app factory, routes, handlers, its front door and the command line."""
