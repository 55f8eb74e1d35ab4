import uvicorn

LOOPS = {"auto": "uvicorn.loops.auto:auto_loop_factory", "asyncio": "uvicorn.loops.asyncio:asyncio_loop_factory"}
uvicorn.run("main:app", reload=False)
NOT_A_REFERENCE = ["http://example.com:80", "a.b:", ":x", "C:\\path", "time: 10:30", "x.y:z w"]
entry = "pkg.cli:main.run"
