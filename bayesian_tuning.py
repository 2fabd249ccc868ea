"""Tune the Fashion-MNIST CNN with KerasTuner's Bayesian Optimisation.

    python bayesian_tuning.py                 # short trials, then the pick trained on all images
    python bayesian_tuning.py --quick         # whole pipeline in about a minute
"""

from fashion_tuning.cli import run_script

if __name__ == "__main__":
    run_script("bayesian_optimization", description=__doc__)
