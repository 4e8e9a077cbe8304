"""python3 -m tds_backend CONFIG.json (see server.main)."""
import sys

from .server import main

main(sys.argv[1:])
