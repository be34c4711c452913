"""Headless Chromium driven over the DevTools protocol: open a page, then read JavaScript values from it."""
import asyncio
import contextlib
import json
import shutil

import aiohttp
from timing import scaled

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@contextlib.asynccontextmanager
async def chromium(url: str, profile, init_script: str | None = None):
    """A headless Chromium showing `url` (after running `init_script` in it, when given); yields
    `evaluate(expression)`, which returns the expression's value in the page."""
    proc = await asyncio.create_subprocess_exec(
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--mute-audio",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--autoplay-policy=no-user-gesture-required", "--remote-debugging-port=0", f"--user-data-dir={profile}",
        "about:blank", stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        port_file, deadline = profile / "DevToolsActivePort", asyncio.get_running_loop().time() + scaled(15)
        while not (port_file.exists() and port_file.read_text().strip()):
            assert asyncio.get_running_loop().time() < deadline, "Chromium did not start"
            await asyncio.sleep(0.05)
        port = port_file.read_text().split()[0]
        async with aiohttp.ClientSession() as session:
            pages, deadline = [], asyncio.get_running_loop().time() + scaled(5)
            while not pages:
                assert asyncio.get_running_loop().time() < deadline, "Chromium shows no page"
                async with session.get(f"http://127.0.0.1:{port}/json/list") as resp:
                    pages = [p for p in await resp.json() if p["type"] == "page"]
                await asyncio.sleep(0 if pages else 0.05)
            async with session.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                ids = iter(range(1, 1 << 30))

                async def send(method: str, **params):
                    number = next(ids)
                    await ws.send_str(json.dumps({"id": number, "method": method, "params": params}))
                    async for message in ws:
                        reply = json.loads(message.data)
                        if reply.get("id") == number:
                            return reply.get("result", {})

                async def evaluate(expression: str):
                    reply = await send("Runtime.evaluate", expression=expression, returnByValue=True)
                    return reply["result"].get("value")

                await send("Page.enable")
                if init_script:
                    await send("Page.addScriptToEvaluateOnNewDocument", source=init_script)
                await send("Page.navigate", url=url)
                yield evaluate
    finally:
        proc.kill()
        await proc.wait()


async def wait_for_value(evaluate, expression: str, predicate, timeout: float = 20.0):
    """Poll `expression` until `predicate(value)` holds; the last value on timeout (for the assertion)."""
    deadline = asyncio.get_running_loop().time() + scaled(timeout)
    while True:
        value = await evaluate(expression)
        if predicate(value) or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.1)
