"""The yardstick: a bare aiohttp handler answering a fixed JSON body (read from the file given)."""
import json
import sys

from aiohttp import web

body = json.load(open(sys.argv[2]))


async def handler(request):
    return web.json_response(body)

app = web.Application()
app.router.add_get("/control", handler)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
