//! The Merkle Search Tree (MST): the key/value index inside every atproto repository.
//!
//! ```
//! use aerie_data::Cid;
//! use aerie_repo::mst::{Key, MemoryBlocks, Mst, MstError};
//!
//! # fn main() -> Result<(), MstError> {
//! let record = Cid::for_cbor(b"\xa0");
//! let keys = ["app.bsky.feed.post/3kaaa", "app.bsky.feed.post/3kaab"];
//! let mut tree = Mst::build(keys.iter().map(|k| (Key::parse(k).unwrap(), record)))?;
//! let (root, blocks) = tree.commit();
//! let store: MemoryBlocks = blocks.into_iter().collect();
//!
//! // Later: load lazily from storage, edit, and collect only the changed nodes.
//! let mut tree = Mst::load(root);
//! tree.put(&store, Key::parse("app.bsky.feed.like/3kaac")?, record)?;
//! let (new_root, new_blocks) = tree.commit();
//! assert!(new_blocks.iter().all(|(cid, _)| !store.contains(cid)));
//! let diff = Mst::diff(&Mst::load(root), &tree, &store)?;
//! assert_eq!(diff.ops.len(), 1);
//! # let _ = new_root;
//! # Ok(())
//! # }
//! ```
//!
//! # Public API (D2 and others build on this list; keep it true)
//!
//! - [`Key`]: validated `collection/rkey` path. `Key::parse(&str)`, `Key::from_parts(coll,
//!   rkey)`, `Key::from_bytes(&[u8])`, `as_str()`, `as_bytes()`, `collection()`, `rkey()`,
//!   `layer() -> u8`. Free functions [`layer_of`]`(&[u8]) -> u8`,
//!   [`common_prefix_len`]`(&[u8], &[u8]) -> usize`.
//! - [`BlockSource`]: `fn block(&self, &Cid) -> Result<Option<Cow<[u8]>>, SourceError>`
//!   (sync; `Ok(None)` = absent, the node is a stub). Implemented by [`MemoryBlocks`]
//!   (`new`, `insert(cid, bytes)`, `insert_cbor(bytes) -> Cid`, `get`, `contains`, `remove`,
//!   `len`, `iter`, `Extend`/`FromIterator<(Cid, Vec<u8>)>`), [`NoBlocks`], and `&T`.
//! - [`Mst`]: every method that may read nodes takes `src: &S` where `S: BlockSource + ?Sized`.
//!   - `Mst::new()`, `Mst::load(root: Cid)` (lazy; reads nothing),
//!     `Mst::build(iter of (Key, Cid)) -> Result<Mst>` (strictly ascending input, one pass),
//!     `Mst::build_with(iter, sink: &mut dyn FnMut(&Cid, &[u8])) -> Result<(Mst, Cid)>`
//!     (same, hashing each node as it completes: the fast path for imports and benchmarks).
//!   - `get(&self, src, &Key) -> Result<Option<Cid>>` (stubs on the path are decoded, not
//!     cached: `&self`)
//!   - `put(&mut self, src, Key, Cid) -> Result<Option<Cid>>` (previous value),
//!     `delete(&mut self, src, &Key) -> Result<Option<Cid>>` (edits load the nodes they touch
//!     into the tree; after an edit error, discard the tree and reload the last root),
//!     `apply(&mut self, src, iter of (Key, Option<Cid>)) -> Result<Vec<Option<Cid>>>`
//!     (`None` = delete).
//!   - `commit(&mut self) -> (Cid, Vec<(Cid, Vec<u8>)>)`: root CID + node blocks created since
//!     the last commit; `commit_with(&mut self, &mut dyn FnMut(&Cid, &[u8])) -> Cid`;
//!     `root_cid(&self) -> Option<Cid>` (`None` while dirty); `is_dirty()`.
//!   - Listing: `entries(&self, src) -> Result<Vec<(Key, Cid)>>` (key order);
//!     `list_collection(&self, src, collection: &str, cursor: Option<&str> (exclusive rkey),
//!     limit: usize, Order) -> Result<Vec<(Key, Cid)>>` (listRecords: its default
//!     `reverse=false` is [`Order::Descending`]); `walk_range(&self, src, lo: Bound<&[u8]>,
//!     hi: Bound<&[u8]>, Order, FnMut(&Key, &Cid) -> ControlFlow<()>) -> Result<()>`.
//!     Only nodes that can hold keys in range are read.
//!   - `Mst::diff(old: &Mst, new: &Mst, src) -> Result<Diff>`; [`Diff`] `{ ops: Vec<DiffOp
//!     { path, old: Option<Cid>, new: Option<Cid> }>, new_nodes: Vec<Cid>, removed_nodes:
//!     Vec<Cid> }`. Both trees must be committed; equal subtrees are skipped unread.
//!   - Proofs: `search_path(&self, src, &Key) -> Result<Vec<Cid>>` (presence/absence proof;
//!     root first), `covering_proof(&self, src, &Key) -> Result<Vec<Cid>>` (sync 1.1: paths to
//!     the key and both neighbours; sorted, deduplicated). Tree must be committed. The CIDs
//!     name node blocks in the source or in the last commit's output.
//!   - `invert(&mut self, src, &[RecordOp]) -> Result<Cid>`: undo a commit's ops on the
//!     (partial) tree after it; returns the previous root to compare with `prevData`.
//!     [`RecordOp`] `{ action: Action::{Create, Update, Delete}, path: Key, cid: Option<Cid>,
//!     prev: Option<Cid> }`.
//! - [`verify_proof`]`(root: &Cid, &Key, blocks: &S) -> Result<Option<Cid>>` (hash-checks).
//! - [`verify_tree`]`(src, root: &Cid, on_entry: FnMut(&Key, &Cid)) -> Result<TreeStats>`:
//!   complete + canonical + hash-checked; [`TreeStats`] `{ nodes, entries, root_layer,
//!   max_node_entries }`.
//! - [`empty_root_cid`]`() -> Cid`.
//! - Wire form: [`NodeData`] `{ left: Option<Cid>, entries: Vec<EntryData { key, value,
//!   right }> }` with `NodeData::decode(&[u8]) -> Result<NodeData>` (strict; the fuzz entry
//!   point), `encode() -> Vec<u8>`, `cid()`.
//! - Limits: [`MAX_NODE_ENTRIES`], [`MAX_LAYER`], [`MAX_KEY_LEN`].
//! - Errors: [`MstError`] (`#[non_exhaustive]`), e.g. `MissingBlock(Cid)`, `Decode { cid,
//!   offset, reason }`, `NotCanonical { cid, key, reason }`, `HashMismatch(Cid)`,
//!   `InvalidKey`, `Uncommitted`, `InvalidOp`, `DuplicatePath`, `OpMismatch`.
//!
//! # Terminology
//!
//! - **key**: a repository path `collection/rkey`; keys compare bytewise.
//! - **layer** (a.k.a. height or depth): `leading_zero_bits(sha256(key)) / 2`. Each node holds
//!   keys of one layer; the root holds the highest layer present. Layer 0 is the bottom.
//! - **gap** `i` of a node: the subtree between entry `i-1` and entry `i` (gap 0 is the `l`
//!   link, gap `i > 0` is entry `i-1`'s `t` link). A gap of a layer-`n` node holds a layer
//!   `n-1` node or nothing.
//! - **stub**: a subtree known only by CID (not loaded yet, or absent from a partial tree).
//! - **dirty** node: changed since last hashed; its CID is unknown until [`Mst::commit`].
//!
//! # Tricky bits
//!
//! - The tree is a pure function of its key set, so edits must reproduce exactly the tree a
//!   fresh build would give. Inserting a key of layer `n` into a layer-`n` node splits the gap
//!   subtree around the key (only nodes on the key's search path change); deleting merges the
//!   two gaps around the key (only the right spine of the left gap and the left spine of the
//!   right gap change).
//! - Empty nodes: a node with no entries exists only when it must, as a layer step between a
//!   parent and a lower child (a layer-5 key above a lone layer-2 key gets empty layer-4 and
//!   layer-3 nodes). The root is never such a node (a root without entries is replaced by its
//!   child); the empty tree is the single node `{e: [], l: null}`.
//! - `l` and `t` are always encoded, as `null` when absent; prefix compression (`p`) is
//!   per node and maximal; the first entry has `p = 0`. The decoder refuses anything else,
//!   so every node that decodes re-encodes to the same bytes.
//! - Layers are checked on every load (each key's layer equals its node's layer, children are
//!   exactly one layer down), which also bounds recursion depth by the root key's layer.
//! - Gap bounds (a child's keys lie strictly between its parent's neighbouring keys) are only
//!   checked by [`verify_tree`]. Point operations follow one path and are linear whatever the
//!   input; whole-tree walks (listing, diff) of a hostile DAG that reuses a subtree in several
//!   gaps would revisit it, so run [`verify_tree`] on untrusted complete trees first. Inversion
//!   needs no such step: it only follows search paths and merge spines.
//! - sync 1.1 inversion needs, per written key, the new tree's search path of the key and of
//!   both neighbours: removing a key merges the gaps on either side, walking the right spine
//!   of the left gap and the left spine of the right gap, which end at the neighbours.
//!
//! # Hacking
//!
//! - `tree.rs` has the working form (`Node`, `Link`), loading, build, edits and hashing;
//!   `codec.rs` the wire form; `key.rs` keys and layers; `list.rs` ordered walks; `diff.rs`
//!   the lockstep diff; `proof.rs` proofs and inversion; `verify.rs` whole-tree checks.
//! - Read-only walks decode stubs on the fly without caching them (`NodeRef`); edits load
//!   nodes into the tree in place.
//! - Tests: `crates/repo/tests/mst_*.rs` (interop fixtures, property tests against a fresh
//!   build of the final key set).

mod blocks;
pub(crate) mod codec;
mod diff;
mod error;
mod key;
mod list;
mod proof;
pub(crate) mod tree;
mod verify;

pub use blocks::{BlockSource, MemoryBlocks, NoBlocks};
pub use codec::{EntryData, NodeData};
pub use diff::{Diff, DiffOp};
pub use error::{MstError, SourceError};
pub use key::{Entries, Key, KeyRef, MAX_KEY_LEN, common_prefix_len, layer_of};
pub use list::Order;
pub use proof::{Action, RecordOp, verify_proof};
pub(crate) use tree::Builder;
pub use tree::{Mst, empty_root_cid};
pub(crate) use verify::{SharedSource, verify_tree_entries};
pub use verify::{TreeStats, verify_tree};

/// Most entries a node may hold. Keys whose layers are all equal can be chosen freely (three
/// in four keys are layer 0), so an adversary can pack one node arbitrarily full; honest trees
/// average about four entries per node and never come near this.
pub const MAX_NODE_ENTRIES: usize = 1024;

/// Highest key layer accepted. Reaching layer `n` takes about `4^n` hashing attempts, so no
/// real key exceeds ~20; the cap bounds recursion on hostile input.
pub const MAX_LAYER: u8 = 64;
