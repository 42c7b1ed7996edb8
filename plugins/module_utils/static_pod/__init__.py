# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""Static-pod manifests: ``schema`` (fields, validation, load/dump), ``patch`` (ManifestEdit), ``file`` (I/O)."""
