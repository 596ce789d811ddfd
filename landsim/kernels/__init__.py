"""Numba kernels only. Public code calls them through :mod:`landsim.geometry`.

They are plain ``@njit`` functions over arrays, so user ``@njit`` code can call them
too. Jit options are set in one place, :mod:`landsim.kernels._jit`.
"""
