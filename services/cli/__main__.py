"""`python -m services.cli`, as the container image and the tests run it."""

from services.cli import main

# Guarded: tests import every module under services/ to find the metrics they define.
if __name__ == "__main__":
    main()
