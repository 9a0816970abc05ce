"""python -m llmflation: the command line."""

from llmflation.flows.cli import main

main()
