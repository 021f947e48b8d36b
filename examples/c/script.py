# Run by examples/c/basic.c through pyrt_run_file(). It runs in __main__, so what it defines
# stays available to later calls.
import sys

greeting = "Hello from a Python file!"
print(greeting)
print("Python", sys.version.split()[0])


def shout(s):
    return s.upper() + "!"
