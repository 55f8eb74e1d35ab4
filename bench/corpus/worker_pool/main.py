"""A worker pattern without celery: a spawn-context process pool, a fork pool and a thread pool."""
import hashlib
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed


def work(n):
    h = hashlib.sha256()
    for i in range(n * 1000):
        h.update(str(i).encode())
    return n, h.hexdigest()[:12]


def square(x):
    return x * x


def main():
    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=ctx) as ex:
        results = sorted(f.result() for f in as_completed([ex.submit(work, n) for n in (1, 2, 3)]))
    print("spawn pool:", results)
    with mp.get_context("fork").Pool(2) as pool:
        print("fork pool:", pool.map(square, range(8)))
    q = ctx.Queue()
    p = ctx.Process(target=q.put, args=("from child",))
    p.start()
    print("queue:", q.get(timeout=60))
    p.join()
    print("exit code:", p.exitcode)
    with ThreadPoolExecutor(4) as ex:
        print("threads:", list(ex.map(square, range(5))))


if __name__ == "__main__":
    mp.freeze_support()
    main()
