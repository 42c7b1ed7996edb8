# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""Sysdig captures: ``command`` (argv), ``output`` (format and lines), ``errors``, ``runner`` (I/O), ``capture``."""
