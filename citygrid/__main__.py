"""`python -m citygrid` is the `citygrid` command."""
from citygrid.cli import main

main()
