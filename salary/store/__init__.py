"""The model store: versioned, create-only publishing and verified loading, on a folder or a gs:// prefix.

    model_store.py     ModelStore and open_store: publish, read the pointer, load a version after every check
    backends.py        the storage behind it (GCS with preconditions); folder.py the local folder, following no symlinks
    documents.py       the one bounded parser for latest.json, pin.json, manifests and history records
    history.py         the create-only record of every pointer change
    pins.py            the pin marker that holds a version in place
    operations.py      what an operator does by hand: rollback, pin, unpin, repair, prune
    promotion.py       a verified version copied create-only to another store and made latest there
    version_folder.py  one version's folder as a store of its own (what Vertex AI serves from the registry)

The errors are in salary/errors.py.
"""
