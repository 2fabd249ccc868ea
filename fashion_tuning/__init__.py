"""Tune a CNN on Fashion-MNIST with KerasTuner: Random Search against Bayesian Optimisation."""
