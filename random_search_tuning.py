"""Tune the Fashion-MNIST CNN with KerasTuner's Random Search.

    python random_search_tuning.py            # short trials, then the pick trained on all images
    python random_search_tuning.py --quick    # whole pipeline in about a minute
"""

from fashion_tuning.cli import run_script

if __name__ == "__main__":
    run_script("random_search", description=__doc__)
