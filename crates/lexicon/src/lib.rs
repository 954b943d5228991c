//! aerie-lexicon (being written).
