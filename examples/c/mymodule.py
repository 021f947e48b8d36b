"""The user module of the walkthrough: examples/c/basic.c calls mymodule.process_data."""


def process_data(data):
    """Summarise {"numbers": [...], "text": "..."}; returns a dict (a JSON object in C)."""
    numbers = data["numbers"]
    text = data["text"]
    return {
        "count": len(numbers),
        "sum": sum(numbers),
        "mean": sum(numbers) / len(numbers),
        "max": max(numbers),
        "squares": [n * n for n in numbers],
        "text_upper": text.upper(),
        "word_count": len(text.split()),
    }


def worker(worker_id):
    """Used by examples/c/threads.c: some work that identifies its caller."""
    import math
    import threading

    return {
        "worker": worker_id,
        "sqrt": math.sqrt(worker_id * worker_id),
        "python_thread": threading.current_thread().name,
    }
