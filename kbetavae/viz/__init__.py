"""Figures: training curves, traversals, metric plots and matrices (matplotlib, PNG)."""
