"""Benchmarks of the functions, run by ``make bench`` (``python -m bench``).

They measure and print; they assert nothing about time. See bench/README.md for what each
figure means and how it is measured.
"""
