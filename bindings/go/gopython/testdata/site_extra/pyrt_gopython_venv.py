"""Used by gopython's InitializeWithVenv test with a real venv (numpy, jinja2)."""
import subprocess
import sys


def numpy_row_sums():
    import numpy
    return numpy.arange(10).reshape(2, 5).sum(axis=1).tolist()


def render(name):
    import jinja2
    return jinja2.Template("Hello {{ name }}!").render(name=name)


def run_executable():
    """sys.prefix as the venv's interpreter, run as a subprocess, reports it."""
    return subprocess.run([sys.executable, "-c", "import sys; print(sys.prefix)"],
                          capture_output=True, text=True, check=True).stdout.strip()
