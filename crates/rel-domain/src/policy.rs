//! The promotion policy (§3.5) and who may change what (§6), as pure functions.
