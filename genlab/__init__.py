"""genlab: autoencoders, GANs and diffusion models studied as Prefect pipelines.

This package contains the pure parts (data readers, Keras models, metrics and
plots) and imports no Prefect; the Prefect tasks live in `tasks` and the flows
in `flows`.
"""

__version__ = "0.1.0"
