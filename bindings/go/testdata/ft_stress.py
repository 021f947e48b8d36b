"""Python side of TestFreeThreadedParallel (freethreaded_test.go).

Two goroutines call work() at once while a third reads `shared` and `events`
through object handles. No lock anywhere: on a free-threaded build the calls
run in parallel, and every operation used here is one that CPython keeps
consistent without the GIL (a single dict or list operation). The counts stay
exact because each dict key is written by one worker only; read-modify-write
of a key shared by both workers would lose updates (that needs a lock).
"""
shared = {}   # "w<worker>:<slot>" -> count, one writer per key; "w<worker>:tmp" churns
events = []   # both workers append 2 and pop 2 per step (1 every 16th step): it never empties
running = set()  # workers inside work() now
overlaps = {}  # worker -> steps that saw the other worker running (informational only)

SLOTS = 32
GROW = 16  # events grows by one item every GROW steps


def reset():
    shared.clear()
    del events[:]
    running.clear()
    overlaps.clear()


def work(worker, n):
    """CPU-bound: a modular sum of squares, mutating the shared containers on every step."""
    me = "w%d:" % worker
    running.add(worker)
    acc = 0
    try:
        for i in range(n):
            acc = (acc + i * i * (worker + 1)) % 1000003
            key = me + str(i % SLOTS)
            shared[key] = shared.get(key, 0) + 1
            events.append(i)
            events.append(-i)
            events.pop()  # the last item, possibly the other worker's
            if i % GROW:
                events.pop()
            if i % 64 == 0:
                shared.pop(me + "tmp", None)  # insertions and deletions: the table resizes
                shared[me + "tmp"] = [i, str(i)]
                if len(running) > 1:
                    overlaps[worker] = overlaps.get(worker, 0) + 1  # one writer per key
    finally:
        running.discard(worker)
    return acc


def expected(worker, n):
    acc = 0
    for i in range(n):
        acc = (acc + i * i * (worker + 1)) % 1000003
    return acc


def check(workers, rounds, n):
    """What must hold once every call returned: a list of problems (empty when fine)."""
    problems = []
    for w in range(workers):
        for s in range(SLOTS):
            want = rounds * (n // SLOTS + (1 if s < n % SLOTS else 0))
            got = shared.get("w%d:%d" % (w, s))
            if got != want:
                problems.append("shared[w%d:%d] = %r, want %d" % (w, s, got, want))
    if len(shared) != workers * (SLOTS + 1):
        problems.append("len(shared) = %d, want %d" % (len(shared), workers * (SLOTS + 1)))
    want = workers * rounds * len(range(0, n, GROW))
    if len(events) != want:
        problems.append("len(events) = %d, want %d" % (len(events), want))
    bad = [x for x in events if not isinstance(x, int) or not -n < x < n]
    if bad:
        problems.append("%d foreign items in events, e.g. %r" % (len(bad), bad[:3]))
    return problems


def gil_enabled():
    import sys
    return sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled") else True
