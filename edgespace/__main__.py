from edgespace.cli import run

run()
