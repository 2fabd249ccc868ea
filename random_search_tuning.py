"""Tune the Fashion-MNIST CNN with KerasTuner's Random Search.

    python random_search_tuning.py            # full run: 10 trials, <= 30 epochs
    python random_search_tuning.py --quick    # whole pipeline in about a minute
"""

import sys

from fashion_tuning.cli import main

if __name__ == "__main__":
    sys.exit(main("random_search", description=__doc__))
