//! aerie-syntax (being written).
