"""The `mymodule` the seed README calls (mymodule.process_data)."""


def process_data(data):
    numbers = data.get("numbers", [])
    return {
        "count": len(numbers),
        "sum": sum(numbers),
        "text": data.get("text", "").upper(),
    }
