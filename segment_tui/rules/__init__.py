"""The segmentation rules: metrics over a behaviour window, conditions, segment choice.

Everything here is a pure function over plain data (dataclasses, dates, decimals), so
the rules can be read, tested and reasoned about without a database or a terminal. The
store computes the same metrics in SQL for speed; the definitions here are the
reference.
"""
