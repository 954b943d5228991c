//! The Merkle Search Tree (being written).
