"""Exporters: records out to training formats (see rows.py for the choices each format forces, hf.py for the dataset on disk)."""
