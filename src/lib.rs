//! Nothing here: this package exists to hold the end-to-end tests in `tests/`.
