"""Tune the Fashion-MNIST CNN with KerasTuner's Bayesian Optimisation.

    python bayesian_tuning.py                 # full run: 10 trials, <= 30 epochs
    python bayesian_tuning.py --quick         # whole pipeline in about a minute
"""

import sys

from fashion_tuning.cli import main

if __name__ == "__main__":
    sys.exit(main("bayesian_optimization", description=__doc__))
