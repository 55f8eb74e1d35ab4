"""A Starlette app with routes and middleware, driven through httpx's ASGI transport."""
import asyncio

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route


async def homepage(request):
    return PlainTextResponse("hello " * 200)


async def user(request):
    return JSONResponse({"user": request.path_params["name"], "q": dict(request.query_params)})


app = Starlette(routes=[Route("/", homepage), Route("/users/{name}", user)],
                middleware=[Middleware(GZipMiddleware, minimum_size=100)])


async def main():
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        r = await client.get("/", headers={"accept-encoding": "gzip"})
        print(r.status_code, r.headers.get("content-encoding"), len(r.text))
        r = await client.get("/users/ada", params={"x": "1"})
        print(r.json())
        print((await client.get("/missing")).status_code)


asyncio.run(main())
