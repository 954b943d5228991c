//! aerie-crypto (being written).
