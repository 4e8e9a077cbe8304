"""python3 -m tests.tns_backend CONFIG.json -- run the test backend."""
import sys

from .listener import main

if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python3 -m tests.tns_backend CONFIG.json")
    main(sys.argv[1])
