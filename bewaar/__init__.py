"""bewaar: archive government social media as a person sees it."""

__version__ = "0.1.0"
SOFTWARE = f"bewaar/{__version__}"
