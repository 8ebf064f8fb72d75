"""Counting engine for participatory budgets: pure Python, exact rational arithmetic, no Django."""
