"""Tune a CNN on Fashion-MNIST with KerasTuner: Random Search against Bayesian Optimisation."""

__version__ = "0.4.0"  # Recorded in summary.json when the code does not run from a git checkout.
