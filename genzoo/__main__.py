"""``python -m genzoo`` (and ``torchrun -m genzoo``) run the command line."""
from .cli import main

main()
