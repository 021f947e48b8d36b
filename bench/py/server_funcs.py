"""The server benchmark's request handlers, identical for pyrt and for the worker processes.

Each is what a service would call per request: a pure-Python computation (about 15 us), a
jinja2 page render through a template compiled once, and a numpy reduction.
"""
import time

from bench_funcs import list_sum, np_sum, spin  # noqa: F401  (re-exported for the worker)

PAGE = None


def _page():
    global PAGE
    if PAGE is None:
        import jinja2
        PAGE = jinja2.Environment(autoescape=True).from_string(
            "<h1>{{ title }}</h1><ul>{% for item in items %}"
            "<li>{{ item.name }}: {{ item.price }}</li>{% endfor %}</ul>")
    return PAGE


def render(context):
    return _page().render(context)


def pure(n):
    return spin(n)


def sleep(seconds):
    time.sleep(seconds)
    return seconds
