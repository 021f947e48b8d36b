# Run by the seed README program through py.RunFile("script.py").
print("Hello from script.py!")
