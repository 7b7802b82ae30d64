"""The original's design as a peer: `python3 asyncio_peer.py WORKLOAD N`.

A small executor in the manner of LangGraph's AsyncBackgroundExecutor: an
asyncio.Semaphore around each coroutine, one asyncio task per submission
(created in a copy of the submitter's context), a dict of unfinished tasks,
and on close: cancel the cancel-on-exit ones, then wait for all of them.
Prints one line `RESULT {json}` with the fields of the node child.
"""
import asyncio
import contextvars
import gc
import json
import os
import resource
import sys
import time

CONCURRENCY = 100
WARMUP = 5000
PAGE = os.sysconf("SC_PAGE_SIZE")


class Executor:
    def __init__(self, max_concurrency):
        self.semaphore = asyncio.Semaphore(max_concurrency)
        self.tasks = {}

    def submit(self, fn, cancel_on_exit=False):
        loop = asyncio.get_running_loop()
        task = loop.create_task(self._gated(fn), context=contextvars.copy_context())
        self.tasks[task] = cancel_on_exit
        task.add_done_callback(self._done)
        return task

    async def _gated(self, fn):
        async with self.semaphore:
            return await fn()

    def _done(self, task):
        if task.cancelled() or task.exception() is None:
            self.tasks.pop(task, None)

    async def close(self):
        for task, cancel_on_exit in list(self.tasks.items()):
            if cancel_on_exit:
                task.cancel()
        if self.tasks:
            await asyncio.wait(list(self.tasks))


async def trivial():
    pass


async def suspend():
    await asyncio.sleep(0)


def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


async def run(workload, n, submitted):
    never = asyncio.get_running_loop().create_future()

    async def held():
        await never

    fn = {"trivial": trivial, "suspend": suspend}.get(workload, held)
    executor = Executor(CONCURRENCY)
    for _ in range(n):
        executor.submit(fn, cancel_on_exit=workload == "close")
    submitted()
    await executor.close()


async def main():
    workload, n = sys.argv[1], int(float(sys.argv[2]))
    if workload != "memory":
        await run(workload, min(WARMUP, n), lambda: None)
    gc.collect()
    base = rss()
    marks = {}

    def submitted():
        marks["submitted"] = time.perf_counter()
        if workload == "memory":
            gc.collect()
            per_task = (rss() - base) / n
            report({"ms": (marks["submitted"] - start) * 1e3, "submitMs": (marks["submitted"] - start) * 1e3,
                    "heapPerTask": per_task, "peakHeap": rss()})
            os._exit(0)

    def report(result):
        result["peakRss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        sys.stdout.write("RESULT " + json.dumps(result) + "\n")
        sys.stdout.flush()

    start = time.perf_counter()
    await run(workload, n, submitted)
    end = time.perf_counter()
    result = {"ms": (end - start) * 1e3, "submitMs": (marks["submitted"] - start) * 1e3, "peakHeap": rss()}
    if workload == "close":
        result["closeMs"] = (end - marks["submitted"]) * 1e3
    report(result)


asyncio.run(main())
