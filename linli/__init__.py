"""Linli (邻里): `python -m linli` is the same CLI as the `linli` script."""
