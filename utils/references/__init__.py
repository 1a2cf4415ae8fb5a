"""Torch references that the assignments' locked test cells import, one module per topic.

Test cells must not repeat helpers: a torch reference (a layer built in float64 with given
weights, its autograd gradients, a stand-in for an upstream student function) lives here once,
is tested in ``tests/test_utils_references.py`` or the topic's test module, and is imported by
every test cell that needs it. Students may read these modules: they hold torch code only, never
a numpy answer.
"""
