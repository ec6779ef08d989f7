"""The local stack behind `make run`: never deployed."""
