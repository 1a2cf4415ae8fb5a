"""Figures the lectures and seminars draw, one module per topic, so notebook cells stay about the idea.

Each function takes the data to draw (arrays with the shapes its docstring states), draws with
matplotlib, and returns the figure; the notebooks call it in one line.
"""
