"""Hello world: the start-up floor of an interpreter and of each way of freezing it."""

print("Hello, world!")
