"""landsim: the large-scale structure of neural-network loss landscapes.

An exact, fast simulator of the n-wedge model of Fort & Jastrzebski (NeurIPS 2019,
arXiv 1906.04724). ``import landsim`` pulls in NumPy, SciPy and Numba only (no grpc, no
torch).
"""

from .spec import LandscapeSpec, WedgeSpec, random_landscape

__version__ = "0.1.0"

__all__ = ["LandscapeSpec", "WedgeSpec", "random_landscape", "__version__"]
