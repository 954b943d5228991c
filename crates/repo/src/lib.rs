//! aerie-repo (being written).
