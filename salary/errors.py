"""Every error the salary library raises, in one place; their types drive behaviour.

SalaryError
├── DataValidationError (also a ValueError)  the training data cannot be used; names source, row, column
├── DriftError (also a ValueError)           the logged predictions or the store cannot answer a drift or impact question
├── OutputError                              a scoring output exists already (never overwritten), or its place does not
├── PickleRefused                            a model pickle is not a fitted one-feature LinearRegression we read
└── StoreError                               the model store
    ├── NoModelPublished                     no latest.json yet
    ├── ModelRejected                        a published version failed a check: keep serving the last good one
    ├── CannotReproduce                      a version cannot be checked at all: no rebuild record, unreadable input
    ├── DocumentRefused                      a pointer, pin, manifest or history record not as the store writes it
    ├── PointerUnreadable                    latest.json is there but unusable: repair it compare-and-set
    ├── ObjectExists                         a create-only write found the object there
    ├── PointerConflict                      latest.json moved between read and swap
    ├── ObjectRefused                        an object over its size limit, or not a regular file
    ├── PointerHeld                          the store is pinned: stored, not made latest
    ├── PromotionRefused                     a version not promoted: unverified source, pinned target, other bytes
    └── StoreUnavailable                     storage unreachable: retry sooner
        └── MissingCredentials               no Google credentials (yet)
"""


class SalaryError(Exception):
    """Base of the library's errors."""


class DataValidationError(SalaryError, ValueError):
    """The data cannot be used for training; the message names the source, row and column."""


class DriftError(SalaryError, ValueError):
    """The logged predictions or the store cannot answer the question; the one-line message says why."""


class OutputError(SalaryError):
    """The output cannot be written: it exists already (never overwritten), or its place does not."""


class PickleRefused(SalaryError):
    """The pickle is not a fitted one-feature LinearRegression we can read; the message says why."""


class StoreError(SalaryError):
    """Base of the model store's errors."""


class NoModelPublished(StoreError):
    """The store has no latest.json yet."""


class ModelRejected(StoreError):
    """A published model failed a check and must not be served."""

    def __init__(self, version: str, reason: str):
        super().__init__(f"model version {version} refused: {reason}")
        self.version = version
        self.reason = reason


class CannotReproduce(StoreError):
    """The version cannot be checked at all: no rebuild record, an unreadable input, a re-run that did not run."""


class DocumentRefused(StoreError):
    """A store document (pointer, pin, manifest, history record) that is not what the store writes."""

    def __init__(self, what: str, reason: str):
        super().__init__(f"{what} {reason}")
        self.what = what
        self.reason = reason


class PointerUnreadable(StoreError):
    """latest.json is there but cannot be used; `generation` lets a repair replace it compare-and-set."""

    def __init__(self, where: str, reason: str, generation: object = None):
        super().__init__(f"{where} {reason}")
        # Says what, never where: safe to show beyond the log.
        self.reason = reason
        self.generation = generation


class ObjectExists(StoreError):
    """A create-only write found the object already there."""


class PointerConflict(StoreError):
    """latest.json changed between reading it and swapping it."""


class ObjectRefused(StoreError):
    """An object the reader will not take: larger than its limit (not read past it), or not a regular file."""

    def __init__(self, where: str, reason: str, generation: object = None):
        super().__init__(f"{where}: {reason}")
        # Says what, never where: safe to show beyond the log.
        self.reason = reason
        # The object's generation where the backend knew it: a refused pointer can still be replaced compare-and-set.
        self.generation = generation


class StoreUnavailable(StoreError):
    """The storage could not be reached (after the client library's own retries)."""


class PointerHeld(StoreError):
    """The store is pinned: a new version was stored but latest.json was left alone."""

    def __init__(self, version: str, pinned: str, reason: str):
        super().__init__(
            f"version {version} is stored but not made latest: the store is pinned to {pinned} "
            f"({reason or 'no reason given'}); `salary-models unpin` releases it"
        )
        self.version = version
        self.pinned = pinned


class PromotionRefused(StoreError):
    """A version was not promoted to another store: the source fails verification, the target is pinned or holds other bytes."""


class MissingCredentials(StoreUnavailable):
    """No Google credentials were found to reach a gs:// store (they may yet appear, so retry)."""
