"""The yardstick: a bare aiohttp handler answering a fixed JSON body (read from the file given), on the same
event loop (uvloop) as the service."""
import asyncio
import json
import sys

import uvloop
from aiohttp import web

body = json.load(open(sys.argv[2]))


async def handler(request):
    return web.json_response(body)


async def main():
    app = web.Application()
    app.router.add_get("/control", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", int(sys.argv[1])).start()
    await asyncio.Event().wait()

uvloop.run(main())
