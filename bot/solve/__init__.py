"""`patchbot solve`: turn an issue into a patch that the repository's own tests prove."""
